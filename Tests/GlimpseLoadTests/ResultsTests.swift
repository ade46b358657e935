// Percentiles come from the recorded latencies, and the server's window is the difference of two Stats snapshots.
import GlimpseCore
import Foundation
@_spi(Testing) import GlimpseLoad
import GlimpseProtocol
import Histogram
import Testing

@Suite struct ResultsTests {
    /// The exact nearest-rank percentile (the definition HdrHistogram approximates): the value at rank
    /// ⌈p·n/100⌉. p is nudged down one ulp first, as HdrHistogram does, so that 99.9·50000/100 is rank
    /// 49950 and not 49951 by floating-point excess (in a sparse tail, neighbouring ranks differ by ~1%).
    static func exactPercentile(_ sorted: [UInt64], _ p: Double) -> UInt64 {
        sorted[max(1, Int((p.nextDown * Double(sorted.count) / 100).rounded(.up))) - 1]
    }

    @Test(arguments: [UInt64(1), 2, 3])
    func percentilesMatchTheRecordedValuesToThreeDigits(seed: UInt64) {
        // Log-normal-ish latencies from 50 µs to ~1 s. HdrHistogram with 3 significant digits puts each
        // value in a bucket at most 0.1% wide and reports the bucket's top: so exact ≤ reported ≤ exact·1.001 + 1.
        var random = SplitMix64(seed: seed)
        let values = (0..<50_000).map { _ in UInt64(50 * exp(10 * SplitMix64.unit(random.next()) * SplitMix64.unit(random.next()))) }
        var histogram = LatencySummary.histogram()
        for value in values { _ = histogram.record(value) }
        let summary = LatencySummary(histogram)
        let sorted = values.sorted()
        #expect(summary.count == 50_000)
        #expect(summary.min == sorted.first! && summary.max == sorted.last!, "min and max are exact")
        for (p, reported) in [(50.0, summary.p50), (90, summary.p90), (95, summary.p95), (99, summary.p99), (99.9, summary.p999)] {
            let exact = Self.exactPercentile(sorted, p)
            #expect(reported >= exact && Double(reported) <= Double(exact) * 1.001 + 1, "p\(p): \(reported) vs exact \(exact)")
        }
        let mean = Double(values.reduce(0, +)) / Double(values.count)
        #expect(abs(summary.mean / mean - 1) < 0.001)
        #expect(summary.p50 <= summary.p90 && summary.p90 <= summary.p95 && summary.p95 <= summary.p99 && summary.p99 <= summary.p999 && summary.p999 <= summary.max)
    }

    @Test func anEmptyHistogramSummarizesToZeros() {
        let summary = LatencySummary(LatencySummary.histogram())
        #expect(summary.count == 0 && summary.min == 0 && summary.mean == 0 && summary.p50 == 0 && summary.p999 == 0 && summary.max == 0)
    }

    static func stats(uptime: UInt64, requests: UInt64, ok: UInt64, exhausted: UInt64, hits: UInt64, misses: UInt64, coalesced: UInt64,
                      inference: (UInt64, UInt64), queue: (UInt64, UInt64), preprocess: (UInt64, UInt64)) -> Glimpse_V1_StatsResponse {
        var s = Glimpse_V1_StatsResponse()
        s.uptimeMs = uptime
        s.requests = requests
        s.repliesByStatus = ["OK": ok, "RESOURCE_EXHAUSTED": exhausted]
        s.cacheHits = hits
        s.cacheMisses = misses
        s.coalesced = coalesced
        s.latencies = [("total", (requests, 1)), ("queue", queue), ("preprocess", preprocess), ("inference", inference)].map { name, cs in
            var l = Glimpse_V1_LatencySummary()
            l.stage = name
            l.count = cs.0
            l.sumUs = cs.1
            l.p50Us = 999_999 // cumulative percentiles must not leak into the window
            return l
        }
        return s
    }

    @Test(arguments: [0, 3])
    func theServerWindowIsTheDifferenceLessTheStatsCallsThemselves(polls: Int) throws {
        let extra = UInt64(polls)
        let before = Self.stats(uptime: 1000, requests: 50, ok: 49, exhausted: 3, hits: 10, misses: 30, coalesced: 1,
                                inference: (30, 300_000), queue: (30, 3000), preprocess: (30, 60_000))
        // 100 of our requests: 60 computed, 35 hits, 5 refused; plus the closing Stats request (counted
        // before its snapshot) and the opening Stats reply (counted after its snapshot); and `polls`
        // settling Stats calls, each received and answered inside the window.
        let after = Self.stats(uptime: 5000, requests: 50 + 100 + 1 + extra, ok: 49 + 95 + 1 + extra, exhausted: 3 + 5, hits: 45, misses: 95,
                               coalesced: 1, inference: (90, 300_000 + 60 * 12_000), queue: (90, 3000 + 60 * 500), preprocess: (90, 60_000 + 60 * 3000))
        let window = try ServerWindow(before: before, after: after, statsCallsBetween: polls)
        #expect(window.requests == 100)
        #expect(window.repliesByStatus == ["OK": 95, "RESOURCE_EXHAUSTED": 5])
        #expect(window.cacheHits == 35 && window.cacheMisses == 65 && window.coalesced == 0 && window.computed == 60)
        #expect(window.inferenceMeanUs == 12_000 && window.queueMeanUs == 500 && window.preprocessMeanUs == 3000)
        #expect(abs(window.hitRatio! - 0.35) < 1e-12)
    }

    @Test func aServerRestartInTheWindowIsAnErrorNotNegativeCounts() {
        let before = Self.stats(uptime: 9000, requests: 500, ok: 500, exhausted: 0, hits: 0, misses: 0, coalesced: 0,
                                inference: (0, 0), queue: (0, 0), preprocess: (0, 0))
        let after = Self.stats(uptime: 100, requests: 20, ok: 20, exhausted: 0, hits: 0, misses: 0, coalesced: 0,
                               inference: (0, 0), queue: (0, 0), preprocess: (0, 0))
        #expect(throws: LoadError.self) { try ServerWindow(before: before, after: after) }
    }

    @Test func noCacheLookupsMeanNoHitRatio() throws {
        let s = Self.stats(uptime: 1, requests: 1, ok: 0, exhausted: 0, hits: 0, misses: 0, coalesced: 0, inference: (0, 0), queue: (0, 0), preprocess: (0, 0))
        var t = s
        t.requests = 10
        t.uptimeMs = 2
        #expect(try ServerWindow(before: s, after: t).hitRatio == nil)
    }
}
