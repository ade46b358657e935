// Add, Sub, Mul, Div with numpy broadcasting: import (shape), reference (constant folding), lowering, step.
import CKernels

extension NodeImport {
    /// Add, Sub, Mul and Div; two constants fold at load.
    mutating func binary() throws(EngineError) {
        try need(2)
        try attributes.finish()
        let outShape = try broadcast(shapes[0], shapes[1], node: name)
        let binary: BinaryOp = ["Add": .add, "Sub": .sub, "Mul": .mul, "Div": .div][op]!
        if allConstant, case .float = graph.constants[inputs[0]]!.values,
           case .float = graph.constants[inputs[1]]!.values {
            defineConstant(output, Reference.binary(binary, graph.constants[inputs[0]]!,
                                                    graph.constants[inputs[1]]!, shape: outShape))
        } else {
            define(output, shape: outShape, node: Node(name: name, op: .binary(binary),
                                                       inputs: [inputs[0], inputs[1]], output: output))
        }
    }
}

extension Reference {
    static func apply(_ op: BinaryOp, _ a: Float, _ b: Float) -> Float {
        switch op {
        case .add: a + b
        case .sub: a - b
        case .mul: a * b
        case .div: a / b
        }
    }
    static func binary(_ op: BinaryOp, _ a: Constant, _ b: Constant, shape: [Int]) -> Constant {
        let (fa, fb) = (a.floats, b.floats)
        var out = [Float](repeating: 0, count: elementCount(shape))
        forEach(shape, broadcastStrides(a.shape, to: shape), broadcastStrides(b.shape, to: shape)) { i, ia, ib in
            out[i] = apply(op, fa[ia], fb[ib])
        }
        return Constant(shape: shape, values: .float(out))
    }
}

extension Lowering {
    mutating func lowerBinary(_ node: Node, _ op: BinaryOp) throws(EngineError) {
        let outShape = graph.shape(node.output)
        let shapes = node.inputs.map { graph.shape($0) }
        // Stay in NHWC when an operand already is and the other can follow without a copy.
        var layout = Layout.plain
        if outShape.count == 4, node.inputs.contains(where: { currentLayout($0) == .nhwc }) {
            let follows = zip(node.inputs, shapes).allSatisfy { name, shape in
                shape.count == 4 || graph.constants[name] != nil
                    || isIdentityOrder(Array(repeating: 1, count: 4 - shape.count) + shape, [0, 2, 3, 1])
            }
            if follows { layout = .nhwc }
        }
        var refs: [Ref] = []
        var physical: [[Int]] = []
        for (name, shape) in zip(node.inputs, shapes) {
            if layout == .nhwc {
                let padded = Array(repeating: 1, count: 4 - shape.count) + shape
                physical.append([padded[0], padded[2], padded[3], padded[1]])
                if shape.count == 4 {
                    refs.append(try ref(name, .nhwc))
                } else if graph.constants[name] != nil {
                    refs.append(.constant(constantPointer(name, .nhwc, rank4Shape: padded)))
                } else {
                    refs.append(try ref(name, .plain)) // same bytes (checked above)
                }
            } else {
                physical.append(shape)
                refs.append(try ref(name, .plain))
            }
        }
        let shape = layout == .nhwc ? [outShape[0], outShape[2], outShape[3], outShape[1]] : outShape
        let sa = Reference.broadcastStrides(physical[0], to: shape), sb = Reference.broadcastStrides(physical[1], to: shape)
        emit(refs, output: define(node.output, layout)) { ops, out in
            BinaryStep(op: op, a: ops[0], b: ops[1], output: out, shape: shape, strideA: sa, strideB: sb)
        }
    }
}

/// Elementwise a ∘ b with numpy broadcasting, over shapes collapsed at load time.
final class BinaryStep: Step, @unchecked Sendable {
    var kind: String { "\(op)" }
    let op: BinaryOp
    let a: Operand, b: Operand, output: Int
    /// Collapsed output shape (innermost last) and each operand's strides over it.
    let shape: [Int], strideA: [Int], strideB: [Int]

    init(op: BinaryOp, a: Operand, b: Operand, output: Int, shape: [Int], strideA: [Int], strideB: [Int]) {
        (self.op, self.a, self.b, self.output) = (op, a, b, output)
        (self.shape, self.strideA, self.strideB) = Self.collapse(shape, strideA, strideB)
    }

    /// Merges neighbouring dimensions that both operands walk contiguously (or both repeat).
    static func collapse(_ shape: [Int], _ sa: [Int], _ sb: [Int]) -> ([Int], [Int], [Int]) {
        var (s, a, b): ([Int], [Int], [Int]) = ([], [], [])
        for i in 0..<shape.count where shape[i] != 1 {
            if let last = s.indices.last, a[last] == sa[i] * shape[i], b[last] == sb[i] * shape[i] {
                s[last] *= shape[i]
                a[last] = sa[i]
                b[last] = sb[i]
            } else {
                s.append(shape[i]); a.append(sa[i]); b.append(sb[i])
            }
        }
        return s.isEmpty ? ([1], [0], [0]) : (s, a, b)
    }

    @inline(__always) private func inner(_ x: UnsafePointer<Float>, _ sx: Int, _ y: UnsafePointer<Float>, _ sy: Int,
                                         _ out: UnsafeMutablePointer<Float>, _ n: Int) {
        switch (op, sx, sy) {
        case (.add, 1, 1): for i in 0..<n { out[i] = x[i] + y[i] }
        case (.add, 1, 0): let v = y.pointee; for i in 0..<n { out[i] = x[i] + v }
        case (.mul, 1, 1): for i in 0..<n { out[i] = x[i] * y[i] }
        case (.mul, 1, 0): let v = y.pointee; for i in 0..<n { out[i] = x[i] * v }
        default: for i in 0..<n { out[i] = Reference.apply(op, x[i * sx], y[i * sy]) }
        }
    }

    func run(_ context: RunContext) {
        let arena = context.arena
        let x = a.pointer(arena), y = b.pointer(arena), out = arena + output
        let rank = shape.count, n = shape[rank - 1]
        let (sa, sb) = (strideA[rank - 1], strideB[rank - 1])
        let rows = shape.count == 1 ? 1 : elementCount(Array(shape.dropLast()))
        withUnsafeTemporaryAllocation(of: Int.self, capacity: rank) { index in
            index.initialize(repeating: 0)
            var (oa, ob) = (0, 0)
            for row in 0..<rows {
                inner(x + oa, sa, y + ob, sb, out + row * n, n)
                var axis = rank - 2
                while axis >= 0 {
                    index[axis] += 1
                    oa += strideA[axis]; ob += strideB[axis]
                    if index[axis] < shape[axis] { break }
                    oa -= strideA[axis] * shape[axis]; ob -= strideB[axis] * shape[axis]
                    index[axis] = 0
                    axis -= 1
                }
            }
        }
    }
}
