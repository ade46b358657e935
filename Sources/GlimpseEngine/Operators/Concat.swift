// Concat: import (shape; constants fold), reference, lowering (in place along NHWC's channel axis), step.
import CKernels

extension NodeImport {
    /// Concat along any axis; all-constant inputs fold at load.
    mutating func concat() throws(EngineError) {
        try need(1)
        let rank = shapes[0].count
        let axis = try self.axis(attributes.int("axis", default: opset < 4 ? 1 : 0), rank: rank, node: name)
        try attributes.finish()
        var outShape = shapes[0]
        outShape[axis] = 0
        for s in shapes {
            guard s.count == rank, (0..<rank).allSatisfy({ $0 == axis || s[$0] == shapes[0][$0] }) else {
                throw .invalidModel("node '\(name)': Concat inputs \(shapes) differ off axis \(axis)")
            }
            outShape[axis] += s[axis]
        }
        if allConstant {
            defineConstant(output, Reference.concat(inputs.map { graph.constants[$0]! }, axis: axis, shape: outShape))
        } else {
            define(output, shape: outShape, node: Node(name: name, op: .concat(axis: axis), inputs: inputs, output: output))
        }
    }
}

extension Reference {
    static func concat(_ parts: [Constant], axis: Int, shape: [Int]) -> Constant {
        let outer = elementCount(Array(shape[..<axis]))
        func chunks<T>(_ values: [[T]]) -> [T] {
            var out: [T] = []
            out.reserveCapacity(elementCount(shape))
            for o in 0..<outer {
                for (part, v) in zip(parts, values) {
                    let inner = elementCount(Array(part.shape[axis...]))
                    out.append(contentsOf: v[(o * inner)..<((o + 1) * inner)])
                }
            }
            return out
        }
        if parts.allSatisfy({ $0.ints != nil }) {
            return Constant(shape: shape, values: .int64(chunks(parts.map { $0.ints!.map { Int64($0) } })))
        }
        return Constant(shape: shape, values: .float(chunks(parts.map(\.floats))))
    }
}

extension Lowering {
    /// Concatenation in the layout its inputs are in.
    mutating func lowerConcat(_ node: Node, axis: Int) throws(EngineError) {
        let outShape = graph.shape(node.output)
        // NHWC inputs concatenate in place along the matching physical axis.
        let nhwc = outShape.count == 4 && node.inputs.allSatisfy { currentLayout($0) != .plain }
            && node.inputs.contains { currentLayout($0) == .nhwc }
        let layout: Layout = nhwc ? .nhwc : .plain
        let physicalAxis = nhwc ? [0, 3, 1, 2][axis] : axis
        let physical = { (s: [Int]) in nhwc ? [s[0], s[2], s[3], s[1]] : s }
        let refs = try node.inputs.map { name throws(EngineError) in try ref(name, layout) }
        let chunks = node.inputs.map { elementCount(Array(physical(graph.shape($0))[physicalAxis...])) }
        let outer = elementCount(Array(physical(outShape)[..<physicalAxis]))
        emit(refs, output: define(node.output, layout)) { ops, out in
            ConcatStep(inputs: ops, chunks: chunks, outer: outer, output: out)
        }
    }
}

/// Concatenation: each outer index copies one contiguous chunk from every input in turn.
final class ConcatStep: Step, @unchecked Sendable {
    var kind: String { "Concat" }
    let inputs: [Operand], chunks: [Int], outer: Int, output: Int

    init(inputs: [Operand], chunks: [Int], outer: Int, output: Int) {
        (self.inputs, self.chunks, self.outer, self.output) = (inputs, chunks, outer, output)
    }

    func run(_ context: RunContext) {
        let arena = context.arena
        var y = arena + output
        for o in 0..<outer {
            for (input, chunk) in zip(inputs, chunks) {
                y.update(from: input.pointer(arena) + o * chunk, count: chunk)
                y += chunk
            }
        }
    }
}
