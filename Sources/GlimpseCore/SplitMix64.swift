// A seedable random number generator for schedules, benchmarks and tests.

/// SplitMix64 (Steele, Lea and Flood 2014): tiny, fast and seedable, so a load run's schedule and
/// payload mix can be repeated exactly from the seed it prints. (The stdlib's generator cannot be
/// seeded, and on Linux it makes a getrandom system call per number: ~20 µs each in this VM, so
/// filling a benchmark's 1.2 M-float input took seconds.)
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return Self.mix(state)
    }

    /// The output function alone: a good 64-bit hash, used to draw a value for a request index
    /// without any shared state (so any thread can ask about any request).
    public static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1) from the top 53 bits.
    public static func unit(_ bits: UInt64) -> Double { Double(bits >> 11) * 0x1p-53 }
}
