// ReduceMean: import (axes as attribute or input; over H, W it is a global pool), lowering, step.
import CKernels

extension NodeImport {
    /// ReduceMean over any axes; over [2, 3] with keepdims it imports as GlobalAveragePool.
    mutating func reduceMean() throws(EngineError) {
        try need(1)
        let rank = shapes[0].count
        let keepDims = attributes.int("keepdims", default: 1) != 0
        var axes = attributes.ints("axes")
        let noopWhenEmpty = attributes.int("noop_with_empty_axes", default: 0) != 0
        if !input(1).isEmpty { axes = try constantInts(inputs[1], of: name, as: "the axes") }
        try attributes.finish()
        if (axes ?? []).isEmpty, noopWhenEmpty {
            try reshapeNode(name, input: inputs[0], output: output, to: shapes[0])
            return
        }
        let reduced = try Set((axes ?? Array(0..<rank)).map { a throws(EngineError) in try self.axis(a, rank: rank, node: name) })
        var outShape: [Int] = []
        for (i, d) in shapes[0].enumerated() {
            if !reduced.contains(i) { outShape.append(d) } else if keepDims { outShape.append(1) }
        }
        if rank == 4, reduced == [2, 3], keepDims {
            // tf2onnx's global pooling: one op for the passes to recognise (squeeze-excite).
            define(output, shape: outShape, node: Node(name: name, op: .globalAveragePool, inputs: [inputs[0]], output: output))
            return
        }
        define(output, shape: outShape, node: Node(name: name, op: .reduceMean(axes: reduced.sorted(), keepDims: keepDims),
                                                   inputs: [inputs[0]], output: output))
    }
}

extension Lowering {
    /// The mean over H and W as a global pool; any other axes through ReduceMeanStep.
    mutating func lowerReduceMean(_ node: Node, axes: [Int], keepDims: Bool) throws(EngineError) {
        let kernels = self.kernels // steps capture the table, not the lowering
        let count = elementCount(graph.shape(node.output))
        let shape = graph.shape(node.inputs[0])
        if shape.count == 4, axes == [2, 3] {
            // The mean over H and W is a global average pool.
            let input = try ref(node.inputs[0], .nhwc)
            let pooled = newBuffer(count)
            emit([input], output: pooled) { ops, out in
                GlobalAveragePoolStep(kernels: kernels, pixels: shape[2] * shape[3], channels: shape[1], batch: shape[0], input: ops[0], output: out)
            }
            // [N, C, 1, 1] NHWC and [N, C] are the same bytes as the plain result.
            define(node.output, .plain, aliasing: pooled)
            if keepDims { placed[node.output]![.nhwc] = pooled }
            return
        }
        let reduced = Set(axes)
        let kept = shape.enumerated().map { reduced.contains($0.offset) ? 1 : $0.element }
        let keptStrides = Reference.strides(kept).enumerated().map { reduced.contains($0.offset) ? 0 : $0.element }
        let scale = 1 / Float(axes.map { shape[$0] }.reduce(1, *))
        let x = try ref(node.inputs[0], .plain)
        emit([x], output: define(node.output, .plain)) { ops, out in
            ReduceMeanStep(inputShape: shape, outputStrides: keptStrides, outputCount: count, scale: scale, input: ops[0], output: out)
        }
    }
}

/// Mean over some axes: every input element is added to the output it reduces into.
final class ReduceMeanStep: Step, @unchecked Sendable {
    var kind: String { "ReduceMean" }
    let inputShape: [Int], outputStrides: [Int], outputCount: Int, scale: Float
    let input: Operand, output: Int

    init(inputShape: [Int], outputStrides: [Int], outputCount: Int, scale: Float, input: Operand, output: Int) {
        (self.inputShape, self.outputStrides, self.outputCount, self.scale) = (inputShape, outputStrides, outputCount, scale)
        (self.input, self.output) = (input, output)
    }

    func run(_ context: RunContext) {
        let arena = context.arena
        let x = input.pointer(arena), y = arena + output
        y.update(repeating: 0, count: outputCount)
        Reference.forEach(inputShape, outputStrides, outputStrides) { i, o, _ in y[o] += x[i] }
        for i in 0..<outputCount { y[i] *= scale }
    }
}
