// Pillow-compatible bilinear resampling (Image.resize(..., BILINEAR)), computed only where the crop keeps pixels.
//
// Pillow's bilinear is not 2×2 interpolation: it is a separable convolution with a triangle filter whose
// support widens with the downscale factor (so shrinking antialiases), applied horizontally then vertically,
// with weights in 22-bit fixed point and each pass rounded to 8 bits. Every one of those details moves
// pixels by a level or two, so they are reproduced here: with a full-size decode the output is
// bit-identical to Pillow's. Each output pixel depends only on its own row and column taps, so computing
// just the H×W cropped window gives the same values as resizing everything and cropping afterwards.
import GlimpseCore

/// Fixed-point fraction bits of the weights, as in Pillow: 8 bits of pixel + 22 + 2 spare (for negative
/// lobes of other filters) fit an Int32 accumulator.
@_spi(Testing) public let weightFractionBits: Int32 = 22

/// Memory that grows to the largest size asked for and is then reused; contents do not survive growth.
/// Only for trivial element types (bytes, integers, floats).
struct Scratch<Element>: ~Copyable {
    private var base: UnsafeMutablePointer<Element>?
    private(set) var capacity = 0

    init() {}

    mutating func reserve(_ count: Int) -> UnsafeMutablePointer<Element> {
        if let base, count <= capacity { return base }
        base?.deallocate()
        capacity = max(count, 1)
        let fresh = UnsafeMutablePointer<Element>.allocate(capacity: capacity)
        base = fresh
        return fresh
    }

    deinit {
        base?.deallocate()
    }
}

/// The filter taps of one axis for output positions `first ..< first + count`: output `i` is
/// `Σ weights[i * maxTaps + t] * input[starts[i] + t]` for `t < lengths[i]`, rounded to 8 bits.
@_spi(Testing) public struct BilinearTaps: ~Copyable {
    private var startStorage = Scratch<Int32>()
    private var lengthStorage = Scratch<Int32>()
    private var weightStorage = Scratch<Int32>()
    private var realWeights = Scratch<Double>()

    @_spi(Testing) public private(set) var count = 0
    /// The length every output's window has, when `compute(..., uniform: true)` made them equal.
    @_spi(Testing) public private(set) var uniformLength: Int?
    /// Weights per output position (Pillow's `ksize`), the stride of `weights`.
    @_spi(Testing) public private(set) var maxTaps = 0
    @_spi(Testing) public private(set) var starts: UnsafeMutablePointer<Int32>
    @_spi(Testing) public private(set) var lengths: UnsafeMutablePointer<Int32>
    @_spi(Testing) public private(set) var weights: UnsafeMutablePointer<Int32>

    @_spi(Testing) public init() {
        starts = startStorage.reserve(1)
        lengths = lengthStorage.reserve(1)
        weights = weightStorage.reserve(1)
    }

    /// Bytes of scratch memory held.
    var byteCount: Int {
        (startStorage.capacity + lengthStorage.capacity + weightStorage.capacity) * MemoryLayout<Int32>.stride
            + realWeights.capacity * MemoryLayout<Double>.stride
    }

    /// First input index any of the outputs reads.
    var firstInput: Int { Int(starts[0]) }
    /// One past the last input index any of the outputs reads (starts and ends only grow along the axis).
    var endInput: Int { Int(starts[count - 1] + lengths[count - 1]) }

    /// Maps input `0 ..< inputExtent` onto `outputSize` outputs (Pillow's resize box), where the input has
    /// `inputSize` samples; `inputExtent` is below `inputSize` when a reduced-size decode rounded a partial
    /// block up to a whole pixel. Arithmetic mirrors Pillow's precompute_coeffs, down to which operations
    /// are done in Float and which in Double, since the 22-bit weights inherit any difference.
    ///
    /// With `uniform`, every output gets the same number of taps, the longest any output needs (usually
    /// below `maxTaps`, which is Pillow's loose bound): shorter windows are extended right, or moved
    /// left with their weights shifted right where they would pass the input's end, the new taps
    /// weighing 0. Sums are unchanged, and a fixed trip count lets the inner loop unroll instead of
    /// mispredicting its exit on every pixel.
    @_spi(Testing) public mutating func compute(inputSize: Int, inputExtent: Float, outputSize: Int, first: Int, count: Int, uniform: Bool = false) {
        precondition(count > 0 && first >= 0 && first + count <= outputSize && inputSize > 0)
        let scale = Double(inputExtent) / Double(outputSize)
        let filterScale = max(scale, 1)  // upscaling keeps the plain triangle; downscaling widens it
        let support = filterScale  // the triangle's half-width is 1 input pixel before widening
        let maxTaps = Int(support.rounded(.up)) * 2 + 1
        let inverseFilterScale = 1 / filterScale

        self.count = count
        self.maxTaps = maxTaps
        uniformLength = nil
        starts = startStorage.reserve(count)
        lengths = lengthStorage.reserve(count)
        weights = weightStorage.reserve(count * maxTaps)
        let real = realWeights.reserve(maxTaps)
        let one = Double(1 << weightFractionBits)

        for i in 0..<count {
            let center = (Double(first + i) + 0.5) * scale
            // Truncation toward zero, then clamping, as Pillow's (int) casts do.
            let lower = max(Int(center - support + 0.5), 0)
            let upper = min(Int(center + support + 0.5), inputSize)
            let length = max(upper - lower, 0)
            var sum = 0.0
            for t in 0..<length {
                let x = (Double(lower + t) - center + 0.5) * inverseFilterScale
                let w = max(1 - abs(x), 0)
                real[t] = w
                sum += w
            }
            let row = weights + i * maxTaps
            for t in 0..<maxTaps {
                var w = t < length ? real[t] : 0
                if sum != 0 { w /= sum }
                // Round half away from zero, as Pillow's normalize_coeffs_8bpc.
                row[t] = Int32(w < 0 ? -0.5 + w * one : 0.5 + w * one)
            }
            starts[i] = Int32(lower)
            lengths[i] = Int32(length)
        }
        guard uniform else { return }
        var longest = 0
        for i in 0..<count { longest = max(longest, Int(lengths[i])) }
        // Always true: every window lies within the input. Checked because a miss would read out of bounds.
        guard longest <= inputSize else { return }
        for i in 0..<count {
            let overhang = Int(starts[i]) + longest - inputSize
            if overhang > 0 {
                let row = weights + i * maxTaps
                for t in stride(from: longest - 1, through: 0, by: -1) {
                    row[t] = t >= overhang ? row[t - overhang] : 0
                }
                starts[i] -= Int32(overhang)
            }
            lengths[i] = Int32(longest)
        }
        uniformLength = longest
    }
}

/// Pillow's clip8: drop the fraction bits and clamp to a byte.
@inline(__always)
func clip8(_ accumulator: Int32) -> Int {
    let value = Int(accumulator >> weightFractionBits)
    return value < 0 ? 0 : (value > 255 ? 255 : value)
}

/// Rounding bias added to every accumulator (half of one unit in the last place kept).
let roundingBias: Int32 = 1 << (weightFractionBits - 1)

/// Horizontal pass over packed RGB rows `rows` of `source`, writing `columns.count` RGB pixels per row,
/// packed, into `destination`.
@_spi(Testing) public func resampleRows(
    source: UnsafePointer<UInt8>, sourceRowBytes: Int, rows: Range<Int>,
    columns: borrowing BilinearTaps, destination: UnsafeMutablePointer<UInt8>
) {
    // After DCT scaling the resize is an upscale (2 taps) or a downscale by under 2× (3 or 4 taps):
    // constant trip counts the compiler unrolls.
    switch columns.uniformLength {
    case 2: return resampleRows(fixedTaps: 2, source, sourceRowBytes, rows, columns, destination)
    case 3: return resampleRows(fixedTaps: 3, source, sourceRowBytes, rows, columns, destination)
    case 4: return resampleRows(fixedTaps: 4, source, sourceRowBytes, rows, columns, destination)
    case 5: return resampleRows(fixedTaps: 5, source, sourceRowBytes, rows, columns, destination)
    default: break
    }
    resampleRows(fixedTaps: nil, source, sourceRowBytes, rows, columns, destination)
}

/// The horizontal pass for `fixedTaps` taps per output (a constant once inlined), or each output's own
/// `lengths[x]` when nil.
@inline(__always)
private func resampleRows(
    fixedTaps: Int?, _ source: UnsafePointer<UInt8>, _ sourceRowBytes: Int, _ rows: Range<Int>,
    _ columns: borrowing BilinearTaps, _ destination: UnsafeMutablePointer<UInt8>
) {
    let width = columns.count
    let maxTaps = columns.maxTaps
    let starts = columns.starts, lengths = columns.lengths, weights = columns.weights
    var output = destination
    for y in rows {
        let input = source + y * sourceRowBytes
        for x in 0..<width {
            let k = weights + x &* maxTaps
            var pixel = input + Int(starts[x]) &* 3
            var red = roundingBias, green = roundingBias, blue = roundingBias
            for t in 0..<(fixedTaps ?? Int(lengths[x])) {
                let w = k[t]
                red &+= Int32(pixel[0]) &* w
                green &+= Int32(pixel[1]) &* w
                blue &+= Int32(pixel[2]) &* w
                pixel += 3
            }
            output[0] = UInt8(truncatingIfNeeded: clip8(red))
            output[1] = UInt8(truncatingIfNeeded: clip8(green))
            output[2] = UInt8(truncatingIfNeeded: clip8(blue))
            output += 3
        }
    }
}

/// Vertical pass fused with normalization and the model's layout: for each output row, filters the
/// horizontally resampled rows (`source`, `width` packed RGB pixels per row, first row = `rows.firstInput`),
/// rounds to 8 bits like Pillow, and stores `table[channel * 256 + value]` into the three planes of `output`
/// (NCHW) or interleaved, pixel by pixel, like the source (NHWC). `sums` is scratch for one row of
/// accumulators (`width * 3` Int32s).
func resampleColumnsAndNormalize(
    source: UnsafePointer<UInt8>, width: Int, rows: borrowing BilinearTaps,
    table: UnsafePointer<Float>, layout: ImageLayout, output: UnsafeMutablePointer<Float>, sums: UnsafeMutablePointer<Int32>
) {
    let height = rows.count
    let plane = width * height
    let rowBytes = width * 3
    let maxTaps = rows.maxTaps
    let firstRow = rows.firstInput
    let redTable = table, greenTable = table + 256, blueTable = table + 512
    for y in 0..<height {
        let k = rows.weights + y * maxTaps
        let top = source + (Int(rows.starts[y]) - firstRow) * rowBytes
        // Whole rows at a time, one weight per source row: a contiguous loop the compiler vectorizes.
        sums.update(repeating: roundingBias, count: rowBytes)
        for t in 0..<Int(rows.lengths[y]) {
            let w = k[t]
            let line = top + t * rowBytes
            for i in 0..<rowBytes {
                sums[i] &+= Int32(line[i]) &* w
            }
        }
        switch layout {
        case .nchw:
            let red = output + y * width, green = red + plane, blue = green + plane
            for x in 0..<width {
                red[x] = redTable[clip8(sums[3 * x])]
                green[x] = greenTable[clip8(sums[3 * x + 1])]
                blue[x] = blueTable[clip8(sums[3 * x + 2])]
            }
        case .nhwc:
            // The sums are already interleaved RGB, as the row is.
            let pixels = output + y * rowBytes
            for x in 0..<width {
                pixels[3 * x] = redTable[clip8(sums[3 * x])]
                pixels[3 * x + 1] = greenTable[clip8(sums[3 * x + 1])]
                pixels[3 * x + 2] = blueTable[clip8(sums[3 * x + 2])]
            }
        }
    }
}
