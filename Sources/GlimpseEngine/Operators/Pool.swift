// MaxPool, AveragePool and GlobalAveragePool: import (window, shape), lowering to the kernels' pools, steps.
import CKernels

extension NodeImport {
    /// MaxPool and AveragePool (2-D): storage order 0, ceil mode, count_include_pad.
    mutating func pool() throws(EngineError) {
        try need(1)
        let x = shapes[0]
        guard x.count == 4 else { throw .unsupportedFeature(node: name, what: "\(x.count - 2)-D pooling (only 2-D)") }
        guard let kernel = attributes.ints("kernel_shape"), kernel.count == 2 else {
            throw .invalidModel("node '\(name)': kernel_shape must have 2 values")
        }
        var kind = PoolKind.max
        if op == "MaxPool" {
            guard attributes.int("storage_order", default: 0) == 0 else {
                throw .unsupportedFeature(node: name, what: "storage_order 1")
            }
        } else {
            kind = .average(countIncludePad: attributes.int("count_include_pad", default: 0) != 0)
        }
        let window = try window(input: x, kernel: (kernel[0], kernel[1]), allowCeil: true)
        if window.ceilMode, case .average(true) = kind {
            throw .unsupportedFeature(node: name, what: "ceil_mode with count_include_pad")
        }
        try attributes.finish()
        let out = window.outputSize(inputH: x[2], inputW: x[3])
        define(output, shape: [x[0], x[1], out.h, out.w],
               node: Node(name: name, op: .pool(kind, window), inputs: [inputs[0]], output: output))
    }

    /// GlobalAveragePool of a 4-D tensor.
    mutating func globalAveragePool() throws(EngineError) {
        try need(1)
        try attributes.finish()
        guard shapes[0].count == 4 else {
            throw .unsupportedFeature(node: name, what: "GlobalAveragePool on rank \(shapes[0].count)")
        }
        define(output, shape: [shapes[0][0], shapes[0][1], 1, 1],
               node: Node(name: name, op: .globalAveragePool, inputs: [inputs[0]], output: output))
    }
}

extension Lowering {
    /// A window pool on NHWC.
    mutating func lowerPool(_ node: Node, _ kind: PoolKind, _ window: Window) throws(EngineError) {
        let kernels = self.kernels // steps capture the table, not the lowering
        let outShape = graph.shape(node.output)
        let x = graph.shape(node.inputs[0])
        var params = gl_pool2d_params()
        (params.in_h, params.in_w, params.channels) = (x[2], x[3], x[1])
        (params.out_h, params.out_w) = (outShape[2], outShape[3])
        (params.kernel_h, params.kernel_w) = (window.kernel.h, window.kernel.w)
        (params.stride_h, params.stride_w) = (window.stride.h, window.stride.w)
        (params.dilation_h, params.dilation_w) = (window.dilation.h, window.dilation.w)
        (params.pad_top, params.pad_left) = (window.padTop, window.padLeft)
        var isMax = true
        if case let .average(includePad) = kind {
            isMax = false
            params.count_include_pad = includePad ? 1 : 0
        }
        let input = try ref(node.inputs[0], .nhwc)
        emit([input], output: define(node.output, .nhwc)) { [params, isMax] ops, out in
            PoolStep(kernels: kernels, params: params, isMax: isMax, input: ops[0], output: out, batch: x[0])
        }
    }

    /// The mean of each channel, on NHWC.
    mutating func lowerGlobalAveragePool(_ node: Node) throws(EngineError) {
        let kernels = self.kernels // steps capture the table, not the lowering
        let x = graph.shape(node.inputs[0])
        let input = try ref(node.inputs[0], .nhwc)
        emit([input], output: define(node.output, .nhwc)) { ops, out in
            GlobalAveragePoolStep(kernels: kernels, pixels: x[2] * x[3], channels: x[1], batch: x[0], input: ops[0], output: out)
        }
    }
}

final class PoolStep: Step, @unchecked Sendable {
    let kernels: UnsafePointer<gl_kernels>
    let params: gl_pool2d_params
    let isMax: Bool
    let input: Operand, output: Int, batch: Int
    var kind: String { isMax ? "MaxPool" : "AveragePool" }

    init(kernels: UnsafePointer<gl_kernels>, params: gl_pool2d_params, isMax: Bool, input: Operand, output: Int, batch: Int) {
        (self.kernels, self.params, self.isMax, self.input, self.output, self.batch) = (kernels, params, isMax, input, output, batch)
    }

    func run(_ context: RunContext) {
        let arena = context.arena
        let kernels = self.kernels.pointee
        let inSize = params.in_h * params.in_w * params.channels, outSize = params.out_h * params.out_w * params.channels
        let x = input.pointer(arena), y = arena + output
        withUnsafePointer(to: params) { p in
            for n in 0..<batch {
                (isMax ? kernels.maxpool2d : kernels.avgpool2d)(p, x + n * inSize, y + n * outSize)
            }
        }
    }
}

final class GlobalAveragePoolStep: Step, @unchecked Sendable {
    let kernels: UnsafePointer<gl_kernels>
    let pixels: Int, channels: Int, batch: Int
    let input: Operand, output: Int
    var kind: String { "GlobalAveragePool" }

    init(kernels: UnsafePointer<gl_kernels>, pixels: Int, channels: Int, batch: Int, input: Operand, output: Int) {
        (self.kernels, self.pixels, self.channels, self.batch, self.input, self.output) = (kernels, pixels, channels, batch, input, output)
    }

    func run(_ context: RunContext) {
        let arena = context.arena
        let pool = kernels.pointee.global_avgpool!
        let x = input.pointer(arena), y = arena + output
        for n in 0..<batch { pool(pixels, channels, x + n * pixels * channels, y + n * channels) }
    }
}
