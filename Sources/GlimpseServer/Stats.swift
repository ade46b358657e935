// Counters and latency histograms since start, for the Stats call.
import Foundation
import GlimpseCore
import GlimpseProtocol
import Histogram

/// Where one reply's time went, in microseconds: always the total; queue, preprocess and
/// inference only for the reply that started a computation (not hits, errors or coalesced
/// replies). A value, so that recording a reply allocates nothing.
struct StageTimes {
    var total: UInt64
    var computed: (queue: UInt64, preprocess: UInt64, inference: UInt64)?

    func forEach(_ body: (ServerStats.Stage, UInt64) -> Void) {
        body(.total, total)
        guard let computed else { return }
        body(.queue, computed.queue)
        body(.preprocess, computed.preprocess)
        body(.inference, computed.inference)
    }
}

final class ServerStats: @unchecked Sendable {
    enum Stage: String, CaseIterable {
        case total, queue, preprocess, inference
    }

    private let lock = NSLock()
    private let started = monotonicNanoseconds()
    private var requests = 0
    private var replies: [StatusCode: Int] = [:]
    private var histograms: [Stage: Histogram<UInt64>] = Dictionary(
        uniqueKeysWithValues: Stage.allCases.map { ($0, Histogram(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)) })
    private var sums: [Stage: UInt64] = [:]

    var requestCount: Int {
        lock.lock(); defer { lock.unlock() }
        return requests
    }

    func received() {
        lock.lock(); defer { lock.unlock() }
        requests += 1
    }

    /// Records a reply's status and where its time went.
    func replied(_ status: StatusCode, times: StageTimes) {
        lock.lock(); defer { lock.unlock() }
        replies[status, default: 0] += 1
        times.forEach { stage, micros in
            _ = histograms[stage]!.record(min(micros, 60_000_000))
            sums[stage, default: 0] += micros
        }
    }

    func snapshot(into response: inout Glimpse_V1_StatsResponse) {
        lock.lock(); defer { lock.unlock() }
        response.uptimeMs = (monotonicNanoseconds() - started) / 1_000_000
        response.requests = UInt64(requests)
        response.repliesByStatus = Dictionary(uniqueKeysWithValues: replies.map { ($0.key.name, UInt64($0.value)) })
        response.latencies = Stage.allCases.map { stage in
            let h = histograms[stage]!
            var summary = Glimpse_V1_LatencySummary()
            summary.stage = stage.rawValue
            summary.count = h.totalCount
            summary.sumUs = sums[stage] ?? 0
            if h.totalCount > 0 {
                summary.p50Us = h.valueAtPercentile(50)
                summary.p90Us = h.valueAtPercentile(90)
                summary.p99Us = h.valueAtPercentile(99)
                summary.maxUs = h.max
            }
            return summary
        }
    }
}

/// Monotonic time in nanoseconds.
@inline(__always) public func monotonicNanoseconds() -> UInt64 {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return UInt64(t.tv_sec) * 1_000_000_000 + UInt64(t.tv_nsec)
}
