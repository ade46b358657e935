// BatchNormalization, and the per-channel affine the passes leave when no conv takes one: import, lowering, step.
import CKernels

extension NodeImport {
    /// Inference-mode BatchNormalization; the passes fold it into the conv before it when there is one.
    mutating func batchNormalization() throws(EngineError) {
        try need(5)
        attributes.ignore("momentum", "is_test")
        let epsilon = attributes.float("epsilon", default: 1e-5)
        guard attributes.int("training_mode", default: 0) == 0, attributes.int("spatial", default: 1) == 1 else {
            throw .unsupportedFeature(node: name, what: "training-mode or non-spatial BatchNormalization")
        }
        try attributes.finish()
        let channels = shapes[0].count >= 2 ? shapes[0][1] : 0
        for i in 1...4 {
            guard try constant(inputs[i], of: name, as: "the statistics").count == channels else {
                throw .invalidModel("node '\(name)': parameter '\(inputs[i])' does not have \(channels) values")
            }
        }
        guard shapes[0].count == 4 || shapes[0].count == 2 else {
            throw .unsupportedFeature(node: name, what: "BatchNormalization on rank \(shapes[0].count)")
        }
        define(output, shape: shapes[0], node: Node(name: name, op: .batchNorm(epsilon: epsilon),
                                                    inputs: Array(inputs.prefix(5)), output: output))
    }
}

extension Lowering {
    /// BatchNorm or ChannelAffine as y = x·scale + shift per channel, in the layout the input is in.
    mutating func lowerChannelAffine(_ node: Node) throws(EngineError) {
        let outShape = graph.shape(node.output)
        let count = elementCount(graph.shape(node.output))
        let layout: Layout = outShape.count == 4 ? .nhwc : .plain
        let c = outShape[1]
        var scale = graph.constants[node.inputs[1]]!.floats, shift = graph.constants[node.inputs[2]]!.floats
        if case let .batchNorm(epsilon) = node.op {
            let (gamma, beta, mean, variance) = (scale, shift, graph.constants[node.inputs[3]]!.floats, graph.constants[node.inputs[4]]!.floats)
            scale = (0..<c).map { gamma[$0] / (variance[$0] + epsilon).squareRoot() }
            shift = (0..<c).map { beta[$0] - mean[$0] * scale[$0] }
        }
        let (s, b) = (storage.store(scale), storage.store(shift))
        let x = try ref(node.inputs[0], layout)
        emit([x], output: define(node.output, layout)) { ops, out in
            ChannelAffineStep(count: count, channels: c, scale: s, shift: b, input: ops[0], output: out)
        }
    }
}

/// y = x · scale[c] + shift[c] with c the innermost index (a BatchNormalization or per-channel
/// Mul/Add chain that no conv took).
final class ChannelAffineStep: Step, @unchecked Sendable {
    var kind: String { "ChannelAffine" }
    let count: Int, channels: Int
    let scale: UnsafePointer<Float>, shift: UnsafePointer<Float>
    let input: Operand, output: Int

    init(count: Int, channels: Int, scale: UnsafePointer<Float>, shift: UnsafePointer<Float>, input: Operand, output: Int) {
        (self.count, self.channels, self.scale, self.shift, self.input, self.output) = (count, channels, scale, shift, input, output)
    }

    func run(_ context: RunContext) {
        let arena = context.arena
        let x = input.pointer(arena), y = arena + output
        var i = 0
        while i < count {
            for c in 0..<channels { y[i + c] = x[i + c] * scale[c] + shift[c] }
            i += channels
        }
    }
}
