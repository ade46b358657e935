// Conv: the ONNX node's import (groups, window, shape), its lowering (layout, kernel choice) and its step.
import CKernels

extension NodeImport {
    /// Conv (2-D, any groups): weights and bias must be constants.
    mutating func conv() throws(EngineError) {
        try need(2)
        let (x, w) = (shapes[0], shapes[1])
        guard x.count == 4 else {
            throw .unsupportedFeature(node: name, what: "\(x.count - 2)-D convolution (only 2-D)")
        }
        guard w.count == 4 else { throw .invalidModel("node '\(name)': weights \(w) are not 4-D like the input") }
        _ = try constant(inputs[1], of: name, as: "the weights")
        if !input(2).isEmpty { _ = try constant(inputs[2], of: name, as: "the bias") }
        let groups = attributes.int("group", default: 1)
        guard groups >= 1, x[1] % groups == 0, w[0] % groups == 0, w[1] * groups == x[1] else {
            throw .invalidModel("node '\(name)': weights \(w) do not fit input \(x) with \(groups) groups")
        }
        if let kernel = attributes.ints("kernel_shape"), kernel != [w[2], w[3]] {
            throw .invalidModel("node '\(name)': kernel_shape \(kernel) disagrees with weights \(w)")
        }
        let window = try window(input: x, kernel: (w[2], w[3]), allowCeil: false)
        try attributes.finish()
        let out = window.outputSize(inputH: x[2], inputW: x[3])
        let node = Node(name: name, op: .conv(window: window, groups: groups, epilogue: .identity),
                        inputs: [inputs[0], inputs[1], input(2)], output: output)
        define(output, shape: [x[0], w[0], out.h, out.w], node: node)
    }
}

extension Lowering {
    mutating func lowerConv(_ node: Node, window: Window, groups: Int, epilogue: Epilogue) throws(EngineError) {
        let x = graph.shape(node.inputs[0]), w = graph.shape(node.inputs[1]), y = graph.shape(node.output)
        var p = gl_conv2d_params()
        (p.in_h, p.in_w, p.in_c) = (x[2], x[3], x[1])
        (p.out_h, p.out_w, p.out_c) = (y[2], y[3], y[1])
        (p.kernel_h, p.kernel_w) = (w[2], w[3])
        (p.stride_h, p.stride_w) = (window.stride.h, window.stride.w)
        (p.dilation_h, p.dilation_w) = (window.dilation.h, window.dilation.w)
        (p.pad_top, p.pad_left) = (window.padTop, window.padLeft)
        p.groups = groups
        p.set(epilogue)
        if (p.kernel_h, p.kernel_w, p.stride_h, p.stride_w) == (1, 1, 1, 1), (p.pad_top, p.pad_left, p.groups) == (0, 0, 1),
           (p.in_h, p.in_w) == (p.out_h, p.out_w) {
            // A pointwise conv is the same GEMM whatever the image's shape: seen as H·W rows of one
            // pixel, threads split it evenly (a 7×7 layer's 7 rows would split 3/4 over 2 threads).
            (p.in_h, p.in_w, p.out_h, p.out_w) = (p.in_h * p.in_w, 1, p.out_h * p.out_w, 1)
        }
        let weights = graph.constants[node.inputs[1]]!.floats
        let bias = node.inputs[2].isEmpty ? nil : graph.constants[node.inputs[2]]!.floats
        if let gated = gates[node.inputs[0]] {
            try emitGatedConv(node, p, weights: weights, bias: bias, input: gated.input, gate: gated.gate, batch: x[0])
            return
        }
        let input: Ref
        if let chw = chwParams(p, reading: node.inputs[0]) {
            p = chw
            input = try ref(node.inputs[0], .plain)
        } else {
            input = try ref(node.inputs[0], .nhwc)
        }
        let residual = node.inputs.count > 3 ? try ref(node.inputs[3], .nhwc) : nil
        try emitConv(node.name, p, weights: weights, bias: bias, input: input, residual: residual,
                     output: define(node.output, .nhwc), batch: x[0])
    }

    /// A 1×1 conv reading a squeeze-excite's input with the gate taken into its weights: per request and
    /// image, W'[o][c] = W[o][c]·gate[c], packed into session scratch (see LoadOptions.fuseGateIntoConv).
    mutating func emitGatedConv(_ node: Node, _ p: gl_conv2d_params, weights: [Float], bias: [Float]?,
                                input name: String, gate: Int, batch: Int) throws(EngineError) {
        let kernel = try selectConv(node.name, p)
        let oihw = storage.store(weights), b = bias.map { storage.store($0) }
        let input = try ref(name, .nhwc), residual = node.inputs.count > 3 ? try ref(node.inputs[3], .nhwc) : nil
        emit([input, .buffer(gate)] + (residual.map { [$0] } ?? []), output: define(node.output, .nhwc)) { ops, out in
            ConvStep(kernel: kernel, params: p, packed: oihw, input: ops[0], residual: residual == nil ? nil : ops[2],
                     output: out, batch: batch, gate: ConvStep.Gate(weights: oihw, bias: b, gate: ops[1]))
        }
    }

    /// `p` reading `name` as it is, in CHW, when getting it in NHWC would take a transpose (the
    /// model's NCHW input, for its first conv) and the kernel table has a kernel for that.
    func chwParams(_ p: gl_conv2d_params, reading name: String) -> gl_conv2d_params? {
        guard currentLayout(name) == .plain, placed[name]?[.nhwc] == nil,
              !isIdentityOrder(graph.shape(name), [0, 2, 3, 1]) else { return nil }
        var chw = p
        chw.input_chw = 1
        return withUnsafePointer(to: chw, { gl_conv2d_select(kernels, $0) }) != nil ? chw : nil
    }
}

final class ConvStep: Step, @unchecked Sendable {
    let kernel: UnsafePointer<gl_conv2d_kernel>
    let params: gl_conv2d_params
    let packed: UnsafePointer<Float>
    let input: Operand, residual: Operand?, output: Int
    let batch: Int
    /// A squeeze-excite gate to scale the input channels by, taken into the weights per image: then
    /// `packed` is unused and the step packs W·gate (OIHW `weights`, `bias`) into session scratch.
    let gate: Gate?

    struct Gate {
        let weights: UnsafePointer<Float>, bias: UnsafePointer<Float>?
        let gate: Operand
    }

    var kind: String { String(cString: kernel.pointee.name) }
    var layer: String { ConvShape(params, residual: residual != nil).description + (gate == nil ? "" : " ·gate") }
    var weights: UnsafeRawBufferPointer? {
        let floats = gate == nil ? packedFloats : Int(params.out_c * params.in_c)
        return UnsafeRawBufferPointer(start: gate?.weights ?? packed, count: floats * MemoryLayout<Float>.size)
    }
    private var packedFloats: Int { withUnsafePointer(to: params) { kernel.pointee.packed_size($0) } }
    /// A gated conv's scratch: W·gate (OIHW), then its packed panels, cache-line aligned.
    private var gatedOffset: Int { (Int(params.out_c * params.in_c) + 15) / 16 * 16 }

    init(kernel: UnsafePointer<gl_conv2d_kernel>, params: gl_conv2d_params, packed: UnsafePointer<Float>,
         input: Operand, residual: Operand?, output: Int, batch: Int, gate: Gate? = nil) {
        (self.kernel, self.params, self.packed) = (kernel, params, packed)
        (self.input, self.residual, self.output, self.batch, self.gate) = (input, residual, output, batch, gate)
    }

    func scratchFloats(threads: Int) -> Int { gate == nil ? 0 : gatedOffset + packedFloats }

    func run(_ context: RunContext) {
        let arena = context.arena
        let inSize = params.in_h * params.in_w * params.in_c
        let outSize = params.out_h * params.out_w * params.out_c
        let x = input.pointer(arena), r = residual?.pointer(arena), y = arena + output
        withUnsafePointer(to: params) { p in
            for n in 0..<batch {
                var weights = packed
                if let gate {
                    // W·gate, packed as at load: C_in·C_out multiplies instead of scaling C_in·H·W pixels.
                    let (inC, outC) = (Int(params.in_c), Int(params.out_c))
                    let scale = gate.gate.pointer(arena) + n * inC, scaled = context.scratch
                    for o in 0..<outC {
                        let row = gate.weights + o * inC, out = scaled + o * inC
                        for c in 0..<inC { out[c] = row[c] * scale[c] }
                    }
                    kernel.pointee.pack(p, scaled, gate.bias, context.scratch + gatedOffset)
                    weights = UnsafePointer(context.scratch + gatedOffset)
                }
                // With a pool, output rows are split across its threads; without, one call does all.
                gl_conv2d_run_parallel(context.pool, kernel, p, x + n * inSize, weights, r.map { $0 + n * outSize }, y + n * outSize)
            }
        }
    }
}
