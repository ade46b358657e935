// Softmax: import (axis, opset < 13's 2-D coercion), lowering, step.
import CKernels

extension NodeImport {
    /// Softmax over one axis (opset 13) or the flattened tail (earlier opsets).
    mutating func softmax() throws(EngineError) {
        try need(1)
        let rank = shapes[0].count
        let axis = try self.axis(attributes.int("axis", default: opset < 13 ? 1 : -1), rank: rank, node: name)
        try attributes.finish()
        define(output, shape: shapes[0], node: Node(name: name, op: .softmax(axis: axis, coerce2D: opset < 13),
                                                    inputs: [inputs[0]], output: output))
    }
}

extension Lowering {
    /// Softmax on the plain layout.
    mutating func lowerSoftmax(_ node: Node, axis: Int, coerce2D: Bool) throws(EngineError) {
        let shape = graph.shape(node.inputs[0])
        let outer = elementCount(Array(shape[..<axis]))
        let size = coerce2D ? elementCount(Array(shape[axis...])) : shape[axis]
        let inner = coerce2D ? 1 : elementCount(Array(shape[(axis + 1)...]))
        let x = try ref(node.inputs[0], .plain)
        emit([x], output: define(node.output, .plain)) { ops, out in
            SoftmaxStep(outer: outer, size: size, inner: inner, input: ops[0], output: out)
        }
    }
}

/// Softmax over `size` elements spaced `inner` apart, for every (outer, inner) position.
final class SoftmaxStep: Step, @unchecked Sendable {
    var kind: String { "Softmax" }
    let outer: Int, size: Int, inner: Int, input: Operand, output: Int

    init(outer: Int, size: Int, inner: Int, input: Operand, output: Int) {
        (self.outer, self.size, self.inner, self.input, self.output) = (outer, size, inner, input, output)
    }

    func run(_ context: RunContext) {
        let arena = context.arena
        let x = input.pointer(arena), y = arena + output
        for o in 0..<outer {
            for i in 0..<inner {
                let base = o * size * inner + i
                var peak = -Float.infinity
                for j in 0..<size { peak = max(peak, x[base + j * inner]) }
                var sum: Float = 0
                for j in 0..<size {
                    let e = _exp(x[base + j * inner] - peak)
                    y[base + j * inner] = e
                    sum += e
                }
                let scale = 1 / sum
                for j in 0..<size { y[base + j * inner] *= scale }
            }
        }
    }
}
