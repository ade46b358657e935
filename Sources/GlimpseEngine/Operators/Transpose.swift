// Transpose: import (perm, shape; constants fold), reference, lowering (tf2onnx's NHWC input is an alias), step.
import CKernels

extension NodeImport {
    /// Transpose by a permutation (reversed axes when none is given).
    mutating func transpose() throws(EngineError) {
        try need(1)
        let rank = shapes[0].count
        let perm = attributes.ints("perm") ?? Array((0..<rank).reversed())
        try attributes.finish()
        guard perm.sorted() == Array(0..<rank) else { throw .invalidModel("node '\(name)': bad perm \(perm)") }
        let outShape = perm.map { shapes[0][$0] }
        if allConstant {
            defineConstant(output, Reference.transpose(graph.constants[inputs[0]]!, perm: perm))
        } else {
            define(output, shape: outShape, node: Node(name: name, op: .transpose(perm: perm), inputs: [inputs[0]], output: output))
        }
    }
}

extension Reference {
    static func transpose(_ x: Constant, perm: [Int]) -> Constant {
        let shape = perm.map { x.shape[$0] }
        let inStrides = strides(x.shape)
        let permuted = perm.map { inStrides[$0] }
        var order = [Int](repeating: 0, count: x.count)
        forEach(shape, permuted, permuted) { i, source, _ in order[i] = source }
        switch x.values {
        case let .float(v): return Constant(shape: shape, values: .float(order.map { v[$0] }))
        case let .int64(v): return Constant(shape: shape, values: .int64(order.map { v[$0] }))
        }
    }
}

extension Lowering {
    /// A transpose step, or none when the bytes are already in the order a reader needs.
    mutating func lowerTranspose(_ node: Node, perm: [Int]) throws(EngineError) {
        let inShape = graph.shape(node.inputs[0])
        if inShape.count == 4, perm == [0, 3, 1, 2], currentLayout(node.inputs[0]) == .plain {
            // NHWC → NCHW (tf2onnx's first node): the input's bytes already are the result in
            // the NHWC layout the convs read, so no copy is made unless a plain reader needs one.
            define(node.output, .nhwc, aliasing: try operand(node.inputs[0], .plain))
            return
        }
        let x = try ref(node.inputs[0], .plain)
        emit([x], output: define(node.output, .plain)) { ops, out in
            TransposeStep(input: ops[0], output: out, inputShape: inShape, perm: perm)
        }
    }
}

/// Copies a tensor into a permuted order (Transpose, and the NCHW ↔ NHWC layout changes).
final class TransposeStep: Step, @unchecked Sendable {
    var kind: String { "Transpose" }
    let input: Operand, output: Int
    /// Output shape and, for each output axis, the input stride it walks.
    let shape: [Int], strides: [Int]
    /// When the permutation is a batch of 2-D transposes (NCHW → NHWC is [N, C, H·W] → [N, H·W, C]):
    /// (batch, rows, columns) of the input.
    let matrix: (batch: Int, rows: Int, columns: Int)?

    init(input: Operand, output: Int, inputShape: [Int], perm: [Int]) {
        let inStrides = Reference.strides(inputShape)
        (self.input, self.output) = (input, output)
        (shape, strides) = (perm.map { inputShape[$0] }, perm.map { inStrides[$0] })
        matrix = Self.batchedMatrix(inputShape, perm)
    }

    /// Merges axes that stay next to each other (and drops size-1 axes); a batch of 2-D transposes if
    /// what is left is [B, R, C] → [B, C, R] or [R, C] → [C, R].
    private static func batchedMatrix(_ shape: [Int], _ perm: [Int]) -> (batch: Int, rows: Int, columns: Int)? {
        let order = perm.filter { shape[$0] != 1 }
        var groups: [[Int]] = [] // runs of input axes, in output order
        for axis in order {
            if let last = groups.last?.last, axis == last + 1 { groups[groups.count - 1].append(axis) } else { groups.append([axis]) }
        }
        let size = { (group: [Int]) in group.reduce(1) { $0 * shape[$1] } }
        let inputOrder = groups.sorted { $0[0] < $1[0] }
        if groups.count == 2, groups[0] == inputOrder[1] {
            return (1, size(inputOrder[0]), size(inputOrder[1]))
        }
        if groups.count == 3, groups[0] == inputOrder[0], groups[1] == inputOrder[2] {
            return (size(inputOrder[0]), size(inputOrder[1]), size(inputOrder[2]))
        }
        return nil
    }

    func run(_ context: RunContext) {
        let arena = context.arena
        let x = input.pointer(arena), y = arena + output
        if let (batch, rows, columns) = matrix {
            gl_f32_transpose(batch, rows, columns, x, y)
            return
        }
        let rank = shape.count, n = shape[rank - 1], step = strides[rank - 1]
        let rows = elementCount(shape) / max(n, 1)
        withUnsafeTemporaryAllocation(of: Int.self, capacity: rank) { index in
            index.initialize(repeating: 0)
            var offset = 0
            for row in 0..<rows {
                for i in 0..<n { y[row * n + i] = x[offset + i * step] }
                var axis = rank - 2
                while axis >= 0 {
                    index[axis] += 1
                    offset += strides[axis]
                    if index[axis] < shape[axis] { break }
                    offset -= strides[axis] * shape[axis]
                    index[axis] = 0
                    axis -= 1
                }
            }
        }
    }
}
