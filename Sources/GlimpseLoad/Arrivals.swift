// When requests are sent: a seedable random source and the Poisson (exponential-gap) arrival schedule.
import Foundation
import GlimpseCore

/// The arrival times of a Poisson process of `rate` requests per second: independent exponential
/// gaps of mean 1/rate, i.e. memoryless arrivals as from many independent users. Offsets are
/// accumulated in Double seconds (not rounded nanoseconds) so rounding cannot drift the mean rate.
public struct PoissonArrivals: Sendable {
    public let rate: Double
    private var random: SplitMix64
    private var elapsed = 0.0

    public init(rate: Double, seed: UInt64) {
        precondition(rate > 0 && rate.isFinite, "rate must be positive")
        self.rate = rate
        random = SplitMix64(seed: seed)
    }

    /// The next gap in seconds: -ln(U)/rate with U uniform in (0, 1], so never infinite.
    public mutating func nextGap() -> Double {
        let u = 1.0 - SplitMix64.unit(random.next())
        return -log(u) / rate
    }

    /// The next arrival, in nanoseconds after the schedule's start.
    public mutating func next() -> UInt64 {
        elapsed += nextGap()
        return UInt64(elapsed * 1e9)
    }
}

// MARK: clock

/// CLOCK_MONOTONIC in nanoseconds: every latency and schedule time in GlimpseLoad is on this clock.
@inline(__always) public func monotonicNow() -> UInt64 {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return UInt64(t.tv_sec) * 1_000_000_000 + UInt64(t.tv_nsec)
}

/// Sleeps until the monotonic clock reads `deadline` (absolute, so late wake-ups do not accumulate).
func sleepUntil(_ deadline: UInt64) {
    var target = timespec(tv_sec: Int(deadline / 1_000_000_000), tv_nsec: Int(deadline % 1_000_000_000))
    while clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &target, nil) == EINTR {}
}

/// Parses "10s", "500ms", "2m", "1.5s" or a bare number of seconds.
public func parseSeconds(_ text: String) -> Double? {
    let units: [(String, Double)] = [("ms", 1e-3), ("us", 1e-6), ("µs", 1e-6), ("s", 1), ("m", 60), ("h", 3600)]
    let trimmed = text.trimmingCharacters(in: .whitespaces)
    for (suffix, scale) in units where trimmed.hasSuffix(suffix) {
        guard let value = Double(trimmed.dropLast(suffix.count)), value.isFinite, value >= 0 else { return nil }
        return value * scale
    }
    guard let value = Double(trimmed), value.isFinite, value >= 0 else { return nil }
    return value
}
