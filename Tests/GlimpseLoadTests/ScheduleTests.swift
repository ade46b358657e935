// The open-loop schedule is a Poisson process, and the dispatcher hands it out as the runner relies on.
import Foundation
@_spi(Testing) import GlimpseLoad
import Testing

@Suite struct ScheduleTests {
    /// Tolerances: n = 20 000 exponential gaps. The sample mean's standard error is mean/√n = 0.71%,
    /// so 3% is over 4σ; the sample standard deviation has a relative error of about 1/√n·√2 = 1%
    /// (exponential kurtosis 9: √((9−1)/4n) = 1.0%), so 5% is 5σ. Kolmogorov–Smirnov at α = 0.001:
    /// D < 1.95/√n = 0.0138. A fixed seed makes each run the same draw; other seeds pass too.
    static let n = 20_000

    @Test(arguments: [(200.0, UInt64(1)), (37.5, 42), (3000, 0xDEAD_BEEF)])
    func poissonGapsAreExponentialWithTheRightMean(rate: Double, seed: UInt64) {
        var arrivals = PoissonArrivals(rate: rate, seed: seed)
        let gaps = (0..<Self.n).map { _ in arrivals.nextGap() }
        let mean = gaps.reduce(0, +) / Double(gaps.count)
        let sd = (gaps.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(gaps.count - 1)).squareRoot()
        #expect(abs(mean * rate - 1) < 0.03, "mean gap \(mean) s, expected \(1 / rate)")
        // An exponential's standard deviation equals its mean (coefficient of variation 1);
        // evenly spaced or uniform gaps would fail here.
        #expect(abs(sd / mean - 1) < 0.05, "coefficient of variation \(sd / mean)")
        // Kolmogorov–Smirnov distance from the exponential CDF 1 − e^(−rate·t).
        let sorted = gaps.sorted()
        var d = 0.0
        for (i, gap) in sorted.enumerated() {
            let cdf = 1 - exp(-rate * gap)
            d = max(d, abs(cdf - Double(i) / Double(sorted.count)), abs(cdf - Double(i + 1) / Double(sorted.count)))
        }
        #expect(d < 1.95 / Double(Self.n).squareRoot(), "KS distance \(d)")
    }

    @Test func arrivalOffsetsKeepTheRateOverALongRun() {
        // 100 s of arrivals at 250/s: the count is Poisson(25 000), σ = 158 (0.63%); 3% is ~5σ.
        var arrivals = PoissonArrivals(rate: 250, seed: 7)
        var count = 0, previous: UInt64 = 0
        var offset = arrivals.next()
        while offset < 100_000_000_000 {
            #expect(offset >= previous)
            previous = offset
            count += 1
            offset = arrivals.next()
        }
        #expect(abs(Double(count) / 25_000 - 1) < 0.03, "\(count) arrivals in 100 s at 250/s")
    }

    @Test func theSameSeedGivesTheSameScheduleAndAnotherSeedDoesNot() {
        var a = PoissonArrivals(rate: 100, seed: 5), b = PoissonArrivals(rate: 100, seed: 5), c = PoissonArrivals(rate: 100, seed: 6)
        let sa = (0..<100).map { _ in a.next() }, sb = (0..<100).map { _ in b.next() }, sc = (0..<100).map { _ in c.next() }
        #expect(sa == sb)
        #expect(sa != sc)
    }

    @Test func openLoopTicketsFollowTheScheduleAndStopAtTheDuration() {
        let start: UInt64 = 1_000_000_000
        let dispatcher = Dispatcher(firstIndex: 10, rate: 500, seed: 3, length: .seconds(2), expireAfterNs: 10_000_000_000, start: start)
        var expected = PoissonArrivals(rate: 500, seed: 3)
        var tickets: [Ticket] = []
        while let ticket = dispatcher.claim(now: start) { tickets.append(ticket) }
        let schedule = (0..<tickets.count + 1).map { _ in start + expected.next() }
        #expect(tickets.map(\.intended) == schedule.prefix(tickets.count).map { Optional($0) })
        #expect(tickets.map(\.index) == Array(10..<(10 + tickets.count)), "indices run on from firstIndex")
        #expect(tickets.last!.intended! < start + 2_000_000_000 && schedule.last! >= start + 2_000_000_000,
                "every arrival before the end, none after")
        #expect(abs(Double(tickets.count) / 1000 - 1) < 0.1, "\(tickets.count) arrivals in 2 s at 500/s (σ 3.2%)")
        #expect(dispatcher.issuedThrough == 10 + tickets.count)
    }

    @Test func arrivalsLeftUnsentPastTheTimeoutExpireInsteadOfBeingSent() {
        let start: UInt64 = 1_000_000_000
        let dispatcher = Dispatcher(firstIndex: 0, rate: 1000, seed: 9, length: .requests(50), expireAfterNs: 100_000_000, start: start)
        // Half a second late: every arrival in the first ~0.4 s has waited past the 100 ms timeout.
        let late = start + 500_000_000
        var sent: [Ticket] = []
        while let ticket = dispatcher.claim(now: late) { sent.append(ticket) }
        #expect(sent.count + dispatcher.expiredCount == 50, "every arrival is either sent or expired")
        #expect(dispatcher.expiredCount > 0)
        #expect(sent.allSatisfy { late <= $0.intended! + 100_000_000 }, "nothing older than the timeout is sent")
    }

    @Test func closedLoopIssuesExactlyTheRequestCount() {
        let dispatcher = Dispatcher(firstIndex: 0, rate: nil, seed: 0, length: .requests(37), expireAfterNs: 0)
        var count = 0
        while let ticket = dispatcher.claim() {
            #expect(ticket.intended == nil)
            count += 1
        }
        #expect(count == 37)
    }

    @Test(arguments: [("10s", 10.0), ("500ms", 0.5), ("2m", 120), ("1.5", 1.5), ("0", 0), ("250us", 0.00025)])
    func durationsParse(text: String, seconds: Double) {
        #expect(parseSeconds(text).map { abs($0 - seconds) < 1e-12 } == true)
    }

    @Test(arguments: ["", "ten seconds", "-1s", "5x", "nan"])
    func badDurationsDoNot(text: String) {
        #expect(parseSeconds(text) == nil)
    }
}
