// Calls every CKernels kernel through its C API from Swift and checks it against a small naive reference.
import CKernels
import Testing

// Tolerance, once: a float sum of n terms in any order is within
// gamma(n) = n·u/(1 - n·u), u = 2^-24, of the exact sum, relative to the sum of
// the terms' magnitudes (Higham §3.1). The references below sum in Double, so
// `|got - ref| <= gamma(n + 2) · magnitude` holds for any kernel ordering
// (blocked, SIMD, FMA) and still sees one wrong term of size ~0.1..1.
func tolerance(terms: Int, magnitude: Double) -> Double {
    let nu = Double(terms + 2) * 0x1p-24
    return nu / (1 - nu) * magnitude + 1e-30
}

/// Deterministic data: splitmix64.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}

func randomFloats(_ count: Int, seed: UInt64) -> [Float] {
    var rng = SplitMix(state: seed)
    return (0..<count).map { _ in Float.random(in: -1..<1, using: &rng) }
}

/// Every variant this build has and this CPU runs.
var supportedVariants: [UnsafePointer<gl_kernels>] {
    (0..<gl_kernels_variant_count()).compactMap { i in
        guard let k = gl_kernels_variant(i), gl_kernels_variant_supported(k) == 1 else { return nil }
        return k
    }
}

/// `body` with a pointer to `array`'s floats, or NULL for nil (C's "none").
func withOptionalPointer<R>(_ array: [Float]?, _ body: (UnsafePointer<Float>?) -> R) -> R {
    guard let array else { return body(nil) }
    return array.withUnsafeBufferPointer { body($0.baseAddress) }
}

// MARK: - convolution

struct ConvShape: Sendable, CustomTestStringConvertible {
    var inH: Int, inW: Int, inC: Int, outC: Int
    var kernel: Int, stride = 1, dilation = 1
    var pads: (top: Int, left: Int, bottom: Int, right: Int) = (0, 0, 0, 0)
    var groups = 1
    var bias = true, residual = false, relu6 = false
    /// A substring of the kernel name gl_conv2d_select must pick.
    var expected: String

    var params: gl_conv2d_params {
        let span = dilation * (kernel - 1) + 1
        var p = gl_conv2d_params()
        (p.in_h, p.in_w, p.in_c, p.out_c) = (inH, inW, inC, outC)
        p.out_h = (inH + pads.top + pads.bottom - span) / stride + 1
        p.out_w = (inW + pads.left + pads.right - span) / stride + 1
        (p.kernel_h, p.kernel_w, p.stride_h, p.stride_w) = (kernel, kernel, stride, stride)
        (p.dilation_h, p.dilation_w, p.pad_top, p.pad_left, p.groups) = (dilation, dilation, pads.top, pads.left, groups)
        (p.output_min, p.output_max) = relu6 ? (0, 6) : (-.infinity, .infinity)
        return p
    }

    var testDescription: String {
        "\(inH)x\(inW)x\(inC)→\(outC) k\(kernel) s\(stride) d\(dilation)"
            + " pads t\(pads.top) l\(pads.left) b\(pads.bottom) r\(pads.right) g\(groups)"
            + (bias ? " +bias" : "") + (residual ? " +residual" : "") + (relu6 ? " relu6" : "")
    }
}

let convShapes: [ConvShape] = [
    ConvShape(inH: 7, inW: 5, inC: 17, outC: 33, kernel: 1, residual: true, expected: "conv1x1"),
    ConvShape(inH: 1, inW: 3, inC: 8, outC: 9, kernel: 1, relu6: true, expected: "conv1x1"),
    ConvShape(inH: 9, inW: 9, inC: 15, outC: 8, kernel: 1, stride: 2, expected: "conv2d"),
    ConvShape(inH: 7, inW: 7, inC: 9, outC: 9, kernel: 3, stride: 2, pads: (1, 1, 1, 1), groups: 9,
              relu6: true, expected: "dwconv_3x3"),
    ConvShape(inH: 8, inW: 7, inC: 17, outC: 17, kernel: 3, stride: 2, pads: (0, 0, 1, 1), groups: 17,
              residual: true, expected: "dwconv_3x3"),
    ConvShape(inH: 6, inW: 9, inC: 7, outC: 7, kernel: 3, dilation: 2, pads: (2, 1, 2, 3), groups: 7,
              bias: false, expected: "dwconv_3x3"),
    ConvShape(inH: 9, inW: 8, inC: 33, outC: 33, kernel: 5, pads: (2, 2, 2, 2), groups: 33,
              residual: true, relu6: true, expected: "dwconv_5x5"),
    ConvShape(inH: 5, inW: 6, inC: 3, outC: 3, kernel: 4, pads: (1, 2, 2, 1), groups: 3, expected: "dwconv"),
    ConvShape(inH: 9, inW: 9, inC: 3, outC: 8, kernel: 3, stride: 2, pads: (1, 0, 0, 1), expected: "conv2d"),
    ConvShape(inH: 6, inW: 5, inC: 14, outC: 6, kernel: 3, pads: (1, 1, 1, 1), groups: 2,
              residual: true, expected: "conv2d"),
    ConvShape(inH: 2, inW: 3, inC: 9, outC: 7, kernel: 5, pads: (2, 2, 2, 2), relu6: true, expected: "conv2d"),
    ConvShape(inH: 5, inW: 5, inC: 4, outC: 8, kernel: 3, pads: (1, 1, 1, 1), groups: 4,
              expected: "conv2d"), // depthwise with multiplier 2 is not a dwconv
]

/// out[y][x][oc] = clamp(bias + residual + Σ in[y·s - pt + ky·d][x·s - pl + kx·d][ci] · W[oc][ci][ky][kx]).
func naiveConv(_ p: gl_conv2d_params, _ input: [Float], _ w: [Float], _ bias: [Float]?,
               _ residual: [Float]?) -> (ref: [Double], magnitude: [Double]) {
    let cig = p.in_c / p.groups, ocg = p.out_c / p.groups
    var ref = [Double](), mag = [Double]()
    for oy in 0..<p.out_h { for ox in 0..<p.out_w { for oc in 0..<p.out_c {
        var s = Double(bias?[oc] ?? 0), m = abs(s)
        let o = (oy * p.out_w + ox) * p.out_c + oc
        if let r = residual?[o] { s += Double(r); m += abs(Double(r)) }
        for ci in 0..<cig { for ky in 0..<p.kernel_h { for kx in 0..<p.kernel_w {
            let iy = oy * p.stride_h + ky * p.dilation_h - p.pad_top
            let ix = ox * p.stride_w + kx * p.dilation_w - p.pad_left
            guard iy >= 0, ix >= 0, iy < p.in_h, ix < p.in_w else { continue }
            let t = Double(input[(iy * p.in_w + ix) * p.in_c + oc / ocg * cig + ci])
                * Double(w[((oc * cig + ci) * p.kernel_h + ky) * p.kernel_w + kx])
            s += t
            m += abs(t)
        } } }
        ref.append(min(max(s, Double(p.output_min)), Double(p.output_max)))
        mag.append(m)
    } } }
    return (ref, mag)
}

@Test("every conv kernel matches the naive definition", arguments: convShapes)
func convKernelsMatchNaiveDefinition(shape: ConvShape) throws {
    var p = shape.params
    let cig = p.in_c / p.groups
    let input = randomFloats(p.in_h * p.in_w * p.in_c, seed: 1)
    let weights = randomFloats(p.out_c * cig * p.kernel_h * p.kernel_w, seed: 2)
    let bias = shape.bias ? randomFloats(p.out_c, seed: 3) : nil
    let residual = shape.residual ? randomFloats(p.out_h * p.out_w * p.out_c, seed: 4) : nil
    let (ref, mag) = naiveConv(p, input, weights, bias, residual)
    let terms = cig * p.kernel_h * p.kernel_w + 2

    for table in supportedVariants {
        let selected = try #require(gl_conv2d_select(table, &p))
        #expect(String(cString: selected.pointee.name).contains(shape.expected))
        for kernel in UnsafeBufferPointer(start: table.pointee.conv2d, count: table.pointee.conv2d_count)
        where kernel.supports!(&p) == 1 {
            let name = String(cString: kernel.name)
            var packed = [Float](repeating: .nan, count: kernel.packed_size!(&p))
            withOptionalPointer(bias) { kernel.pack!(&p, weights, $0, &packed) }
            // Two row ranges, as two threads would split it.
            var out = [Float](repeating: .nan, count: ref.count)
            let half = p.out_h / 2
            for (begin, end) in [(0, half), (half, p.out_h)] {
                withOptionalPointer(residual) { kernel.run!(&p, input, packed, $0, &out, begin, end) }
            }
            let bad = out.indices.filter {
                !(abs(Double(out[$0]) - ref[$0]) <= tolerance(terms: terms, magnitude: mag[$0]))
            }
            let badCount = bad.count, first = bad.first ?? -1
            #expect(badCount == 0, "\(name): \(badCount) of \(out.count) outputs off, first at index \(first)")
        }
    }
}

// MARK: - pooling

@Test("max and average pooling skip or count padding as defined", arguments: [false, true])
func poolingMatchesNaiveDefinition(countIncludePad: Bool) {
    // 3x3 stride 2 pad 1 on an odd×even 9x8 image: pads 1 top, 1 left, 1 bottom, 0 right.
    var p = gl_pool2d_params(in_h: 9, in_w: 8, channels: 17, out_h: 5, out_w: 4, kernel_h: 3, kernel_w: 3,
                             stride_h: 2, stride_w: 2, dilation_h: 1, dilation_w: 1, pad_top: 1,
                             pad_left: 1, count_include_pad: countIncludePad ? 1 : 0)
    let input = randomFloats(p.in_h * p.in_w * p.channels, seed: 5)
    for table in supportedVariants {
        var maxOut = [Float](repeating: .nan, count: p.out_h * p.out_w * p.channels)
        var avgOut = maxOut
        table.pointee.maxpool2d!(&p, input, &maxOut)
        table.pointee.avgpool2d!(&p, input, &avgOut)
        for oy in 0..<p.out_h { for ox in 0..<p.out_w { for c in 0..<p.channels {
            var cells = [Float]()
            for ky in 0..<3 { for kx in 0..<3 {
                let iy = oy * 2 + ky - 1, ix = ox * 2 + kx - 1
                if iy >= 0, ix >= 0, iy < p.in_h, ix < p.in_w { cells.append(input[(iy * p.in_w + ix) * p.channels + c]) }
            } }
            let o = (oy * p.out_w + ox) * p.channels + c
            #expect(maxOut[o] == cells.max()!) // exact: max does no arithmetic
            let sum = cells.reduce(0.0) { $0 + Double($1) }, magnitude = cells.reduce(0.0) { $0 + abs(Double($1)) }
            let divisor = Double(countIncludePad ? 9 : cells.count)
            #expect(abs(Double(avgOut[o]) - sum / divisor) <= tolerance(terms: cells.count, magnitude: magnitude / divisor))
        } } }
    }
}

@Test func globalAveragePoolIsTheMeanOverPixels() {
    let hw = 49, channels = 33
    let input = randomFloats(hw * channels, seed: 6)
    for table in supportedVariants {
        var out = [Float](repeating: .nan, count: channels)
        table.pointee.global_avgpool!(hw, channels, input, &out)
        for c in 0..<channels {
            let column = (0..<hw).map { Double(input[$0 * channels + c]) }
            let magnitude = column.reduce(0) { $0 + abs($1) } / Double(hw)
            #expect(abs(Double(out[c]) - column.reduce(0, +) / Double(hw)) <= tolerance(terms: hw, magnitude: magnitude))
        }
    }
}

// MARK: - gemm

@Test("gemm transposes through strides and ignores c when beta is 0",
      arguments: [(false, false, Float(0)), (true, false, 1), (false, true, 0), (true, true, 0.5)])
func gemmMatchesNaiveDefinition(transA: Bool, transB: Bool, beta: Float) {
    let m = 5, n = 17, k = 9, alpha: Float = -0.5, ldc = n + 3
    let a = randomFloats(m * k, seed: 7), b = randomFloats(k * n, seed: 8)
    // a is m×k: row-major (rs k, cs 1) or stored transposed (rs 1, cs m); b likewise.
    let (aRS, aCS) = transA ? (1, m) : (k, 1)
    let (bRS, bCS) = transB ? (1, k) : (n, 1)
    let c0 = beta == 0 ? [Float](repeating: .nan, count: m * ldc) : randomFloats(m * ldc, seed: 9)
    for table in supportedVariants {
        var c = c0
        table.pointee.gemm!(m, n, k, alpha, a, aRS, aCS, b, bRS, bCS, beta, &c, ldc)
        for i in 0..<m {
            for j in 0..<n {
                let terms = (0..<k).map { Double(a[i * aRS + $0 * aCS]) * Double(b[$0 * bRS + j * bCS]) }
                var ref = Double(alpha) * terms.reduce(0, +)
                var magnitude = abs(Double(alpha)) * terms.reduce(0) { $0 + abs($1) }
                if beta != 0 {
                    ref += Double(beta) * Double(c0[i * ldc + j])
                    magnitude += abs(Double(beta) * Double(c0[i * ldc + j]))
                }
                #expect(abs(Double(c[i * ldc + j]) - ref) <= tolerance(terms: k + 1, magnitude: magnitude))
            }
            // Columns n..<ldc are someone else's memory.
            #expect((n..<ldc).allSatisfy { c[i * ldc + $0].bitPattern == c0[i * ldc + $0].bitPattern })
        }
    }
}

// MARK: - variants

@Test func variantsAreSelectableByNameAndUnknownNamesAreRejected() throws {
    let scalar = try #require(gl_kernels_variant(0))
    #expect(String(cString: scalar.pointee.variant) == "scalar")
    #expect(gl_kernels_variant_supported(scalar) == 1)
    let best = try #require(gl_kernels_active())

    #expect(gl_kernels_select("scalar") == 0)
    #expect(gl_kernels_active() == scalar)
    #expect(gl_kernels_select("no-such-variant") == -1)
    #expect(gl_kernels_active() == scalar) // a failed selection changes nothing
    for i in 0..<gl_kernels_variant_count() {
        let table = try #require(gl_kernels_variant(i))
        let rc = gl_kernels_select(table.pointee.variant)
        #expect(rc == (gl_kernels_variant_supported(table) == 1 ? 0 : -2))
    }
    #expect(gl_kernels_select(best.pointee.variant) == 0)
    #expect(gl_kernels_active() == best)
}
