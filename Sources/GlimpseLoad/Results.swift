// What a run measured: per step, the client's latencies and errors and the server's own counters for the same window.
import Foundation
import GlimpseProtocol
import Histogram

/// A latency distribution in microseconds, read from an HdrHistogram (3 significant digits: each
/// percentile is within 0.1% of the true value; min and max are exact).
public struct LatencySummary: Codable, Sendable, Equatable {
    public var count: UInt64
    public var min: UInt64
    public var mean: Double
    public var p50: UInt64
    public var p90: UInt64
    public var p95: UInt64
    public var p99: UInt64
    public var p999: UInt64
    public var max: UInt64

    public init(_ histogram: Histogram<UInt64>) {
        count = histogram.totalCount
        let empty = count == 0
        min = empty ? 0 : histogram.min
        mean = histogram.mean
        p50 = histogram.valueAtPercentile(50)
        p90 = histogram.valueAtPercentile(90)
        p95 = histogram.valueAtPercentile(95)
        p99 = histogram.valueAtPercentile(99)
        p999 = histogram.valueAtPercentile(99.9)
        max = empty ? 0 : histogram.maxRecorded
    }

    /// An empty histogram of the range every GlimpseLoad latency is recorded in: 1 µs to 10 minutes.
    public static func histogram() -> Histogram<UInt64> {
        Histogram(highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: .three)
    }
}

/// The server's view of one step's window: the difference of two Stats snapshots, one taken just
/// before the step's first request and one just after its last reply.
///
/// The server's p50/p90/p99 are over its whole uptime and cannot be windowed, so stages are given
/// as means (sum delta / count delta). Counters include every client's traffic, not only ours.
public struct ServerWindow: Codable, Sendable, Equatable {
    /// Requests the server received in the window (ours, and anyone else's).
    public var requests: UInt64
    public var repliesByStatus: [String: UInt64]
    public var cacheHits: UInt64
    public var cacheMisses: UInt64
    /// Answered by joining an identical call already being computed.
    public var coalesced: UInt64
    /// Calls a worker ran (the count of the inference stage).
    public var computed: UInt64
    /// Means over the computed calls, in microseconds; nil when none was computed.
    public var queueMeanUs: Double?
    public var preprocessMeanUs: Double?
    public var inferenceMeanUs: Double?

    /// hits / (hits + misses); nil when the cache was not consulted (off, or bypassed by metadata).
    public var hitRatio: Double? {
        cacheHits + cacheMisses == 0 ? nil : Double(cacheHits) / Double(cacheHits + cacheMisses)
    }

    /// `statsCallsBetween`: Stats calls answered inside the window besides the two snapshots' own
    /// (the polls of `LoadRunner`'s settling), taken out like them.
    public init(before: Glimpse_V1_StatsResponse, after: Glimpse_V1_StatsResponse, statsCallsBetween: Int = 0) throws(LoadError) {
        let extra = UInt64(statsCallsBetween)
        guard after.uptimeMs >= before.uptimeMs, after.requests > before.requests + extra else {
            throw LoadError(.aborted, "the server's counters went backwards between two Stats calls: it restarted during the step")
        }
        // Each Stats call counts itself as received before it takes its snapshot, and its reply only
        // after: so the window holds the closing Stats request and the opening Stats reply. Take them out.
        requests = after.requests - before.requests - 1 - extra
        var replies: [String: UInt64] = [:]
        for (name, count) in after.repliesByStatus {
            let delta = count - Swift.min(count, before.repliesByStatus[name] ?? 0)
            if delta > 0 { replies[name] = delta }
        }
        if let ok = replies["OK"] { replies["OK"] = ok > 1 + extra ? ok - 1 - extra : nil }
        repliesByStatus = replies
        cacheHits = after.cacheHits - Swift.min(after.cacheHits, before.cacheHits)
        cacheMisses = after.cacheMisses - Swift.min(after.cacheMisses, before.cacheMisses)
        coalesced = after.coalesced - Swift.min(after.coalesced, before.coalesced)
        func stage(_ name: String) -> (count: UInt64, mean: Double?) {
            let a = after.latencies.first { $0.stage == name }, b = before.latencies.first { $0.stage == name }
            let count = (a?.count ?? 0) - Swift.min(a?.count ?? 0, b?.count ?? 0)
            let sum = (a?.sumUs ?? 0) - Swift.min(a?.sumUs ?? 0, b?.sumUs ?? 0)
            return (count, count == 0 ? nil : Double(sum) / Double(count))
        }
        let inference = stage("inference")
        computed = inference.count
        inferenceMeanUs = inference.mean
        queueMeanUs = stage("queue").mean
        preprocessMeanUs = stage("preprocess").mean
    }
}

/// One step of a sweep: one concurrency (closed loop) or one arrival rate (open loop).
public struct StepResult: Codable, Sendable {
    /// "c=4" for a closed-loop step, "300/s" for an open-loop one.
    public var label: String
    /// "closed" or "open".
    public var mode: String
    /// Connections used: the requests in flight (closed loop) or the most that may be (open loop).
    public var connections: Int
    /// Open loop: the Poisson arrival rate asked for, per second.
    public var targetRate: Double?
    /// The measured window: first (intended) send to last reply, in seconds.
    public var seconds: Double
    /// Requests sent, and (open loop) arrivals that expired waiting for a free connection; the
    /// table's "reqs" is their sum, and the expired are among its errors.
    public var sent: Int
    public var expiredUnsent: Int
    public var ok: Int
    /// Failures by gRPC status name; failures of our own (no reply, nothing sent) say so in brackets.
    public var errors: [String: Int]
    /// The first message seen for each error, to tell what it was.
    public var errorMessages: [String: String]
    /// OK replies per second.
    public var throughput: Double
    /// Requests sent per second (open loop: the offered load that was achieved).
    public var sendRate: Double
    /// Latency of the OK replies: closed loop from the send, open loop from the intended send time,
    /// so time spent waiting for a connection counts (no coordinated omission).
    public var latencyUs: LatencySummary
    /// Open loop: how late each request left relative to its intended time (waiting for a connection).
    public var sendLagUs: LatencySummary?
    /// Requests that repeated a hot image (expected cache hits).
    public var repeats: Int
    public var server: ServerWindow?

    public var errorCount: Int { errors.values.reduce(0, +) }
}

public struct LoadReport: Codable, Sendable {
    public var server: String
    public var model: String
    public var images: String
    public var imageCount: Int
    public var mode: String
    /// Per step: seconds of load (duration mode) or requests (count mode).
    public var durationSeconds: Double?
    public var requestsPerStep: Int?
    public var warmupSeconds: Double
    public var timeoutSeconds: Double
    public var requestedHitRatio: Double
    /// True when every request asked the server to skip its cache ("glimpse-cache: no").
    public var cacheBypassed: Bool
    public var seed: UInt64
    public var serverWorkers: Int?
    public var started: String
    /// Things the run decided on its own (images the server refused, ...).
    public var notes: [String]
    public var steps: [StepResult]
}

// MARK: text

extension LoadReport {
    /// The table `glimpse load` prints: one row per step, client latencies in milliseconds, then the
    /// server's window (stage means, cache counters and the achieved hit ratio).
    public func table() -> String {
        var lines: [String] = []
        let length = durationSeconds.map { "\(format($0, 1)) s" } ?? "\(requestsPerStep ?? 0) requests"
        let cache = cacheBypassed ? "cache bypassed (glimpse-cache: no)" : "cache-hit ratio \(format(requestedHitRatio, 2)) requested"
        lines.append("\(server) · model \(model) · \(imageCount) images (\(images)) · \(mode) loop, \(length) per step · \(cache)"
                     + (serverWorkers.map { " · server workers \($0)" } ?? ""))
        let header = ["step", "reqs", "ok", "err", "ok/s", "p50", "p90", "p95", "p99", "p99.9", "max",
                      "|", "queue", "decode", "infer", "hits", "misses", "coal", "hit%"]
        var rows: [[String]] = [header]
        for s in steps {
            let l = s.latencyUs
            var row = [s.label, "\(s.sent + s.expiredUnsent)", "\(s.ok)", "\(s.errorCount)", format(s.throughput, 1),
                       ms(l.p50, l.count), ms(l.p90, l.count), ms(l.p95, l.count), ms(l.p99, l.count), ms(l.p999, l.count), ms(l.max, l.count), "|"]
            if let w = s.server {
                row += [w.queueMeanUs.map { format($0 / 1000, 2) } ?? "-", w.preprocessMeanUs.map { format($0 / 1000, 2) } ?? "-",
                        w.inferenceMeanUs.map { format($0 / 1000, 2) } ?? "-", "\(w.cacheHits)", "\(w.cacheMisses)", "\(w.coalesced)",
                        w.hitRatio.map { format($0 * 100, 1) } ?? "-"]
            } else {
                row += Array(repeating: "?", count: 7)
            }
            rows.append(row)
        }
        let widths = header.indices.map { column in rows.map { $0[column].count }.max()! }
        for (number, row) in rows.enumerated() {
            let cells = row.enumerated().map { column, cell in
                column == 0 ? cell.padding(toLength: widths[0], withPad: " ", startingAt: 0)
                    : String(repeating: " ", count: widths[column] - cell.count) + cell
            }
            lines.append(cells.joined(separator: " "))
            if number == 0 { lines.append(String(repeating: "-", count: lines.last!.count)) }
        }
        lines.append("latency: client-side ms of OK replies\(mode == "open" ? ", from each request's intended send time" : ""); "
                     + "queue/decode/infer: the server's mean ms per computed call over the same window")
        for s in steps where s.errorCount > 0 {
            lines.append("\(s.label) errors: " + s.errors.sorted { $0.value > $1.value }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        }
        if !cacheBypassed {
            let achieved = steps.compactMap { s in s.server?.hitRatio.map { "\(s.label) \(format($0, 3))" } }
            lines.append("cache-hit ratio: requested \(format(requestedHitRatio, 2)); achieved (server hits/(hits+misses)) "
                         + (achieved.isEmpty ? "n/a: the server's cache is off" : achieved.joined(separator: ", ")))
            // Repeats are of images answered just before the window, so only a cache that is off, too
            // small, or shared with other clients' traffic makes the two disagree.
            let off = steps.filter { s in s.server?.hitRatio.map { abs($0 - requestedHitRatio) > 0.1 } ?? false }
            if !off.isEmpty {
                lines.append("note: achieved hit ratio far from the requested one in \(off.map(\.label).joined(separator: ", ")): "
                             + "is the server's cache off (--cache-mb 0) or too small, or is someone else loading it?")
            }
        }
        for note in notes { lines.append("note: \(note)") }
        return lines.joined(separator: "\n")
    }

    public func json() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        return try encoder.encode(self)
    }
}

private func ms(_ micros: UInt64, _ count: UInt64) -> String {
    count == 0 ? "-" : format(Double(micros) / 1000, 2)
}

func format(_ value: Double, _ decimals: Int) -> String {
    String(format: "%.\(decimals)f", value)
}
