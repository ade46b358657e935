// Squeeze-excite, an engine operator the passes build (fuseSqueezeExcites): its lowering and its step.
import CKernels

extension Lowering {
    /// Squeeze-excite as one step: its two 1×1 convs packed for the kernels' pointwise conv on one pixel.
    mutating func lowerSqueezeExcite(_ node: Node, reduce: Epilogue, expand: Epilogue) throws(EngineError) {
        let kernels = self.kernels
        let x = graph.shape(node.inputs[0])
        let (channels, squeezed) = (x[1], graph.shape(node.inputs[1])[0])
        func fc(_ weights: String, _ bias: String, in inC: Int, out outC: Int, _ epilogue: Epilogue) throws(EngineError) -> SqueezeExciteStep.FC {
            var p = gl_conv2d_params()
            (p.in_h, p.in_w, p.in_c, p.out_h, p.out_w, p.out_c) = (1, 1, inC, 1, 1, outC)
            (p.kernel_h, p.kernel_w, p.stride_h, p.stride_w, p.dilation_h, p.dilation_w, p.groups) = (1, 1, 1, 1, 1, 1, 1)
            p.set(epilogue)
            let (kernel, packed) = try packConv(node.name, p, weights: graph.constants[weights]!.floats,
                                                bias: bias.isEmpty ? nil : graph.constants[bias]!.floats)
            return SqueezeExciteStep.FC(kernel: kernel, params: p, packed: packed)
        }
        let r = try fc(node.inputs[1], node.inputs[2], in: channels, out: squeezed, reduce)
        let e = try fc(node.inputs[3], node.inputs[4], in: squeezed, out: channels, expand)
        let input = try ref(node.inputs[0], .nhwc)
        let gateOnly = gatedConv(reading: node.output) != nil
        let output: Int
        if gateOnly {
            // The reader scales its weights by the gate: the image is never scaled.
            output = newBuffer(x[0] * channels)
            gates[node.output] = (node.inputs[0], output)
        } else {
            output = define(node.output, .nhwc)
        }
        emit([input], output: output) { ops, out in
            SqueezeExciteStep(kernels: kernels, reduce: r, expand: e, pixels: x[2] * x[3], channels: channels, batch: x[0],
                              input: ops[0], output: out, gateOnly: gateOnly)
        }
    }

    /// The 1×1 conv that alone reads squeeze-excite output `value`, when scaling its weights by the gate
    /// costs less than scaling the image: C_in·C_out weights against C_in·H·W pixels. Per element, the
    /// repack (scale, then the kernel's strided pack) measured 4-8× a channel-scale pass (EfficientNet-B0,
    /// `glimpse bench model --layers`: a win at 28² with 40 outputs, a loss at 14² with 80), so it is
    /// taken where the image has at least 8 pixels per output channel.
    func gatedConv(reading value: String) -> Node? {
        guard options.fuseGateIntoConv, graph.useCounts()[value] == 1,
              let reader = graph.nodes.first(where: { $0.inputs.first == value }),
              case let .conv(window, groups, _) = reader.op, groups == 1 else { return nil }
        let w = graph.shape(reader.inputs[1]), x = graph.shape(value)
        let pointwise = (window.kernel.h, window.kernel.w, window.stride.h, window.stride.w) == (1, 1, 1, 1)
            && (window.padTop, window.padLeft, window.padBottom, window.padRight) == (0, 0, 0, 0)
        return pointwise && 8 * w[0] <= x[2] * x[3] ? reader : nil
    }
}

/// Squeeze-excite on an NHWC image, in one step: the mean of each channel, two small 1×1 convs
/// (with their epilogues: e.g. ReLU, then the sigmoid gate) on that one pixel, and the image's
/// channels scaled by the gate. The vectors live in the session's scratch.
final class SqueezeExciteStep: Step, @unchecked Sendable {
    var kind: String { "SqueezeExcite" }
    var layer: String { "se \(pixels)px \(channels)→\(reduce.params.out_c)→\(channels)\(gateOnly ? " gate" : "")" }
    struct FC {
        let kernel: UnsafePointer<gl_conv2d_kernel>
        let params: gl_conv2d_params
        let packed: UnsafePointer<Float>
    }
    let kernels: UnsafePointer<gl_kernels>
    let reduce: FC, expand: FC
    let pixels: Int, channels: Int, batch: Int
    let input: Operand, output: Int
    /// Write only the gate (batch × channels) at `output`, for the conv that takes it into its weights.
    let gateOnly: Bool

    init(kernels: UnsafePointer<gl_kernels>, reduce: FC, expand: FC, pixels: Int, channels: Int, batch: Int,
         input: Operand, output: Int, gateOnly: Bool) {
        (self.kernels, self.reduce, self.expand) = (kernels, reduce, expand)
        (self.pixels, self.channels, self.batch, self.input, self.output) = (pixels, channels, batch, input, output)
        self.gateOnly = gateOnly
    }

    var weights: UnsafeRawBufferPointer? {
        let floats = withUnsafePointer(to: reduce.params) { reduce.kernel.pointee.packed_size($0) }
        return UnsafeRawBufferPointer(start: reduce.packed, count: floats * MemoryLayout<Float>.size)
    }

    func scratchFloats(threads: Int) -> Int { 2 * channels + Int(reduce.params.out_c) }

    func run(_ context: RunContext) {
        let kernels = self.kernels.pointee
        let pooled = context.scratch, reduced = context.scratch + channels
        let x = input.pointer(context.arena), y = context.arena + output
        let size = pixels * channels
        for n in 0..<batch {
            let gate = gateOnly ? y + n * channels : reduced + Int(reduce.params.out_c)
            kernels.global_avgpool(pixels, channels, x + n * size, pooled)
            withUnsafePointer(to: reduce.params) { reduce.kernel.pointee.run($0, pooled, reduce.packed, nil, reduced, 0, 1) }
            withUnsafePointer(to: expand.params) { expand.kernel.pointee.run($0, reduced, expand.packed, nil, gate, 0, 1) }
            if !gateOnly { kernels.channel_scale(pixels, channels, x + n * size, gate, y + n * size) }
        }
    }
}
