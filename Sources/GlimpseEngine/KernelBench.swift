// Timing kernel variants against each other on the convolution shapes of a real model.
import CKernels
import GlimpseCore
import Dispatch

/// One convolution as the kernels see it (a compiled model's conv steps, deduplicated).
public struct ConvShape: Hashable, Sendable, Codable, CustomStringConvertible {
    public var inH: Int, inW: Int, inC: Int
    public var outH: Int, outW: Int, outC: Int
    public var kernelH: Int, kernelW: Int
    public var strideH: Int, strideW: Int
    public var padTop: Int, padLeft: Int
    public var groups: Int
    public var clampMin: Float, clampMax: Float
    /// The epilogue's activation (GL_ACTIVATION_*) and its constants.
    public var activation: Int, activationAlpha: Float, activationBeta: Float
    public var residual: Bool
    /// The input is the caller's CHW image (a first conv); a variant without a kernel for that
    /// is timed on the NHWC form, which is what the engine runs after transposing.
    public var inputCHW: Bool

    init(_ p: gl_conv2d_params, residual: Bool) {
        (inH, inW, inC, outH, outW, outC) = (p.in_h, p.in_w, p.in_c, p.out_h, p.out_w, p.out_c)
        (kernelH, kernelW, strideH, strideW) = (p.kernel_h, p.kernel_w, p.stride_h, p.stride_w)
        (padTop, padLeft, groups) = (p.pad_top, p.pad_left, p.groups)
        (clampMin, clampMax, self.residual) = (p.output_min, p.output_max, residual)
        (activation, activationAlpha, activationBeta) = (Int(p.activation), p.activation_alpha, p.activation_beta)
        inputCHW = p.input_chw != 0
    }

    var params: gl_conv2d_params {
        var p = gl_conv2d_params()
        (p.in_h, p.in_w, p.in_c, p.out_h, p.out_w, p.out_c) = (inH, inW, inC, outH, outW, outC)
        (p.kernel_h, p.kernel_w, p.stride_h, p.stride_w) = (kernelH, kernelW, strideH, strideW)
        (p.dilation_h, p.dilation_w) = (1, 1)
        (p.pad_top, p.pad_left, p.groups) = (padTop, padLeft, groups)
        (p.output_min, p.output_max) = (clampMin, clampMax)
        (p.activation, p.activation_alpha, p.activation_beta) = (Int32(activation), activationAlpha, activationBeta)
        p.input_chw = inputCHW ? 1 : 0
        return p
    }

    /// Multiply-adds × 2.
    public var flops: Double { 2 * Double(outH * outW * outC * kernelH * kernelW * (inC / groups)) }

    public var description: String {
        let kind = groups == inC && groups == outC && groups > 1 ? "dw\(kernelH)x\(kernelW)"
            : kernelH == 1 && kernelW == 1 ? (outH * outW == 1 ? "fc" : "1x1") : "conv\(kernelH)x\(kernelW)"
        let stride = strideH > 1 ? "/\(strideH)" : ""
        let channels = kind.hasPrefix("dw") ? "\(inC)" : "\(inC)→\(outC)"
        // Pointwise convs are lowered as H·W rows of one pixel; show their pixel count.
        let size = kind == "1x1" && inW == 1 ? "\(inH)px" : "\(inH)x\(inW)"
        let act = ["", " hswish", " hsigmoid", " sigmoid", " silu"][min(activation, 4)]
        return "\(kind)\(stride) \(size)x\(channels)" + (residual ? " +res" : "") + act + (inputCHW ? " chw" : "")
    }
}

extension Model {
    /// The distinct convolution shapes this model runs, in order of first use.
    public var convolutionShapes: [ConvShape] {
        var seen = Set<ConvShape>()
        return program.steps.flatMap { step -> [ConvShape] in
            if let conv = step as? ConvStep { return [ConvShape(conv.params, residual: conv.residual != nil)] }
            return (step as? ExpandDepthwiseStep)?.shapes ?? []
        }.filter { seen.insert($0).inserted }
    }
}

public enum KernelBench {
    public struct Timing: Sendable, Codable {
        public var variant: String
        public var kernel: String
        public var medianMicroseconds: Double
        public var gflops: Double
        public var samples: Int
    }

    /// One core's measured multiply-add peak for `variant`, GFLOP/s.
    public static func peakGFLOPS(_ variant: String, seconds: Double = 0.3) throws(EngineError) -> Double {
        gl_kernels_peak_gflops(try KernelVariants.table(variant), seconds)
    }

    /// A kernel ready to time: packed weights, input, residual and output buffers, 64-byte
    /// aligned like the engine's arena and touched once before any timing, so that no sample
    /// pays for page faults or copy-on-write (a Swift array's buffer would be both).
    private final class Prepared {
        let kernel: UnsafePointer<gl_conv2d_kernel>
        var params: gl_conv2d_params
        let packed: UnsafeMutableBufferPointer<Float>, input: UnsafeMutableBufferPointer<Float>
        let residual: UnsafeMutableBufferPointer<Float>?, output: UnsafeMutableBufferPointer<Float>

        private static func buffer(_ n: Int) -> UnsafeMutableBufferPointer<Float> {
            let raw = UnsafeMutableRawBufferPointer.allocate(byteCount: max(n, 1) * MemoryLayout<Float>.stride, alignment: 64)
            return raw.bindMemory(to: Float.self)
        }

        init(_ shape: ConvShape, table: UnsafePointer<gl_kernels>) throws(EngineError) {
            params = shape.params
            if params.input_chw != 0, withUnsafePointer(to: params, { gl_conv2d_select(table, $0) }) == nil {
                params.input_chw = 0
            }
            guard let kernel = withUnsafePointer(to: params, { gl_conv2d_select(table, $0) }) else {
                throw .unsupportedFeature(node: "\(shape)", what: "this shape in \(String(cString: table.pointee.variant))")
            }
            self.kernel = kernel
            var generator = SplitMix64(seed: 0x6C69_6D70_7365)
            func random(_ n: Int) -> UnsafeMutableBufferPointer<Float> {
                let b = Prepared.buffer(n)
                for i in 0..<n { b[i] = Float.random(in: -1...1, using: &generator) }
                return b
            }
            let weights = random(shape.outC * (shape.inC / shape.groups) * shape.kernelH * shape.kernelW), bias = random(shape.outC)
            defer { weights.deallocate(); bias.deallocate() }
            var p = params
            let packed = Prepared.buffer(kernel.pointee.packed_size(&p))
            kernel.pointee.pack(&p, weights.baseAddress, bias.baseAddress, packed.baseAddress)
            self.packed = packed
            input = random(shape.inH * shape.inW * shape.inC)
            residual = shape.residual ? random(shape.outH * shape.outW * shape.outC) : nil
            output = random(shape.outH * shape.outW * shape.outC)
        }

        deinit {
            for b in [packed, input, output] + (residual.map { [$0] } ?? []) { b.deallocate() }
        }

        /// Runs `repeats` times; returns nanoseconds.
        func sample(_ repeats: Int) -> UInt64 {
            withUnsafePointer(to: params) { p in
                let start = DispatchTime.now().uptimeNanoseconds
                for _ in 0..<repeats {
                    kernel.pointee.run(p, input.baseAddress, packed.baseAddress, residual?.baseAddress, output.baseAddress, 0, params.out_h)
                }
                return DispatchTime.now().uptimeNanoseconds - start
            }
        }
    }

    /// Times `shape` under each variant, alternating samples between them so both see the same
    /// machine, until every median is stable (the last half's within 2% of the whole) or `maxSeconds` pass.
    public static func compare(_ shape: ConvShape, variants: [String], maxSeconds: Double = 1.0) throws(EngineError) -> [Timing] {
        var prepared: [Prepared] = []
        for variant in variants { prepared.append(try Prepared(shape, table: KernelVariants.table(variant))) }
        // Repeats per sample: enough for ~0.3 ms with the first variant.
        _ = prepared.map { $0.sample(1) } // warm caches and pages
        let once = max(1, prepared[0].sample(1))
        let repeats = max(1, Int(300_000 / once))
        var samples = Array(repeating: [Double](), count: prepared.count)
        let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(maxSeconds * 1e9)
        func median(_ xs: [Double]) -> Double { xs.sorted()[xs.count / 2] }
        while true {
            for (i, p) in prepared.enumerated() { samples[i].append(Double(p.sample(repeats)) / Double(repeats) / 1000) }
            let n = samples[0].count
            let stable = n >= 10 && samples.allSatisfy { abs(median(Array($0[(n / 2)...])) - median($0)) <= 0.02 * median($0) }
            if stable || DispatchTime.now().uptimeNanoseconds > deadline { break }
        }
        return zip(variants, zip(prepared, samples)).map { variant, pair in
            let m = median(pair.1)
            return Timing(variant: variant, kernel: String(cString: pair.0.kernel.pointee.name), medianMicroseconds: m,
                          gflops: shape.flops / (m * 1e3), samples: pair.1.count)
        }
    }
}
