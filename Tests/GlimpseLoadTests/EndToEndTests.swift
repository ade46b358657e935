// glimpse load against a real 2-worker server in this process: every reply counted, and the counts agree with the server's Stats.
import Foundation
@_spi(Testing) import GlimpseLoad
import GlimpseServer
import GlimpseTestSupport
import Testing

@Suite(.serialized) struct EndToEndTests {
    /// The test images without the largest ones, so a step takes well under a second.
    static func images() throws -> ImageSet {
        let all = try ImageSet.load(directory: testImages)
        return all.removing(Set(all.names.indices.filter { ["cat_large.jpg", "retina.jpg", "hubble.jpg"].contains(all.names[$0]) }))
    }

    @Test func closedLoopCountsEveryReplyAndAgreesWithTheServersStats() throws {
        let running = try RunningServer(workers: 2, cacheBytes: 64 << 20)
        defer { running.stop() }
        var configuration = LoadConfiguration(url: running.url)
        configuration.mode = .closed(concurrency: [1, 3])
        configuration.length = .requests(40)
        configuration.warmupSeconds = 0
        configuration.hitRatio = 0.5
        configuration.seed = 2024
        let report = try LoadRunner(configuration, images: try Self.images()).run()

        // tiny_1x1.jpg is refused by the server as too small: the probe drops it and says so.
        #expect(report.notes.contains { $0.contains("tiny_1x1.jpg") })
        #expect(report.serverWorkers == 2)
        #expect(report.steps.map(\.label) == ["c=1", "c=3"])
        for step in report.steps {
            let server = try #require(step.server)
            #expect(step.sent == 40 && step.ok == 40 && step.errors.isEmpty, "\(step.label): \(step.errors) \(step.errorMessages)")
            #expect(step.latencyUs.count == 40, "one latency per OK reply")
            // The server saw exactly our requests in the window, and answered them all OK.
            #expect(server.requests == 40, "\(step.label): server counted \(server.requests)")
            #expect(server.repliesByStatus == ["OK": 40])
            // Every repeat was a hit, every unique image a miss that a worker computed.
            #expect(server.cacheHits == UInt64(step.repeats), "\(step.label): \(server.cacheHits) hits for \(step.repeats) repeats")
            #expect(server.cacheMisses == UInt64(40 - step.repeats) && server.computed == server.cacheMisses && server.coalesced == 0)
            #expect(step.repeats > 5 && step.repeats < 35, "h = 0.5 of 40: \(step.repeats) repeats (Binomial σ 3.2)")
            #expect(server.inferenceMeanUs! > 100 && server.preprocessMeanUs! > 10, "a computed call takes time")
            // Client latency brackets the server's work: no OK reply can be faster than a cache hit's
            // round trip, and the slowest is at least one inference.
            #expect(Double(step.latencyUs.max) >= server.inferenceMeanUs! * 0.5)
            #expect(step.latencyUs.min > 0 && step.throughput > 0 && abs(step.throughput - 40 / step.seconds) < 1e-9)
        }
        // The table and the JSON carry the measured numbers.
        let table = report.table()
        let first = report.steps[0]
        let row = try #require(table.split(separator: "\n").first { $0.hasPrefix("c=1 ") })
        #expect(row.contains(String(format: "%.2f", Double(first.latencyUs.p50) / 1000)) && row.contains(" 40 "))
        #expect(table.contains("achieved"))
        let json = try #require(try JSONSerialization.jsonObject(with: report.json()) as? [String: Any])
        let steps = try #require(json["steps"] as? [[String: Any]])
        let latency = try #require(steps[0]["latency_us"] as? [String: Any])
        #expect((latency["p99"] as? NSNumber)?.uint64Value == first.latencyUs.p99)
        #expect(((steps[1]["server"] as? [String: Any])?["cache_hits"] as? NSNumber)?.intValue == report.steps[1].repeats)
    }

    @Test func openLoopOverloadCountsResourceExhaustedAsTheServerDoes() throws {
        // One worker, a queue of one: 300 arrivals per second are far more than it can take.
        let running = try RunningServer(workers: 1, queue: 1, cacheBytes: 64 << 20)
        defer { running.stop() }
        var configuration = LoadConfiguration(url: running.url)
        configuration.mode = .open(rates: [300], maxOutstanding: 16)
        configuration.length = .requests(90)
        configuration.warmupSeconds = 0
        configuration.bypassCache = true
        configuration.seed = 7
        let report = try LoadRunner(configuration, images: try Self.images()).run()
        let step = report.steps[0]
        let server = try #require(step.server)
        #expect(step.sent + step.expiredUnsent == 90, "every arrival is sent or expired")
        #expect(step.expiredUnsent == 0, "a 10 s timeout: nothing should expire")
        let exhausted = step.errors["RESOURCE_EXHAUSTED"] ?? 0
        #expect(exhausted > 0, "\(step.errors)")
        #expect(step.ok + step.errorCount == 90)
        #expect(server.requests == UInt64(step.sent))
        #expect(server.repliesByStatus["RESOURCE_EXHAUSTED"] == UInt64(exhausted))
        #expect(server.repliesByStatus["OK"] == UInt64(step.ok))
        #expect(server.hitRatio == nil, "glimpse-cache: no skips the cache entirely")
        #expect(step.sendLagUs != nil && step.latencyUs.count == UInt64(step.ok))
        // The server still serves afterwards.
        var after = LoadConfiguration(url: running.url)
        after.mode = .closed(concurrency: [1])
        after.length = .requests(3)
        after.warmupSeconds = 0
        #expect(try LoadRunner(after, images: try Self.images()).run().steps[0].ok == 3)
    }

    @Test func aMissingModelIsNamedWithTheLoadedOnes() throws {
        let running = try RunningServer(workers: 1, cacheBytes: 64 << 20)
        defer { running.stop() }
        var configuration = LoadConfiguration(url: running.url)
        configuration.model = "lite9"
        configuration.length = .requests(1)
        do {
            _ = try LoadRunner(configuration, images: try ImageSet.synthetic(count: 1, width: 64, height: 64)).run()
            Issue.record("lite9 was accepted")
        } catch {
            #expect(error.status == .notFound && error.description.contains("lite0"))
        }
    }
}
