// Gemm and MatMul: import (shapes, broadcasting), lowering (a dense layer on the conv kernels when B is constant), step.
import CKernels

extension NodeImport {
    /// Gemm: 2-D A and B, C broadcast to the result.
    mutating func gemm() throws(EngineError) {
        try need(2)
        let alpha = attributes.float("alpha", default: 1), beta = attributes.float("beta", default: 1)
        let transA = attributes.int("transA", default: 0) != 0, transB = attributes.int("transB", default: 0) != 0
        attributes.ignore("broadcast")
        try attributes.finish()
        let (a, b) = (shapes[0], shapes[1])
        guard a.count == 2, b.count == 2 else { throw .invalidModel("node '\(name)': Gemm needs 2-D A and B") }
        let (m, k) = transA ? (a[1], a[0]) : (a[0], a[1])
        let (kb, n) = transB ? (b[1], b[0]) : (b[0], b[1])
        guard k == kb else { throw .invalidModel("node '\(name)': Gemm A \(a) and B \(b) do not agree") }
        if !input(2).isEmpty, try broadcast([m, n], shapes[2], node: name) != [m, n] {
            throw .invalidModel("node '\(name)': C \(shapes[2]) does not broadcast to [\(m), \(n)]")
        }
        define(output, shape: [m, n], node: Node(name: name, op: .gemm(alpha: alpha, beta: beta, transA: transA, transB: transB, epilogue: .identity),
                                                 inputs: [inputs[0], inputs[1], input(2)], output: output))
    }

    /// MatMul with numpy batch broadcasting and 1-D operands.
    mutating func matMul() throws(EngineError) {
        try need(2)
        try attributes.finish()
        var (a, b) = (shapes[0], shapes[1])
        guard !a.isEmpty, !b.isEmpty else { throw .invalidModel("node '\(name)': MatMul of a scalar") }
        if a.count == 1 { a.insert(1, at: 0) }
        if b.count == 1 { b.append(1) }
        guard a[a.count - 1] == b[b.count - 2] else {
            throw .invalidModel("node '\(name)': MatMul \(shapes[0]) × \(shapes[1]) do not agree")
        }
        var outShape = try broadcast(Array(a.dropLast(2)), Array(b.dropLast(2)), node: name) + [a[a.count - 2], b[b.count - 1]]
        if shapes[1].count == 1 { outShape.removeLast() }
        if shapes[0].count == 1 { outShape.remove(at: outShape.count - (shapes[1].count == 1 ? 1 : 2)) }
        define(output, shape: outShape, node: Node(name: name, op: .matMul, inputs: [inputs[0], inputs[1]], output: output))
    }
}

extension Lowering {
    /// A product with constant weights is a 1×1 convolution over the rows of A, so it gets the
    /// fast pointwise kernel and a fused bias. Like every pointwise conv, A's M rows are M output
    /// rows of one pixel, which threads split evenly.
    mutating func emitDense(_ node: Node, rows: Int, k: Int, n: Int, weightsNK: [Float], bias: [Float]?,
                                    epilogue: Epilogue = .identity) throws(EngineError) {
        var p = gl_conv2d_params()
        (p.in_h, p.in_w, p.in_c) = (rows, 1, k)
        (p.out_h, p.out_w, p.out_c) = (rows, 1, n)
        (p.kernel_h, p.kernel_w, p.stride_h, p.stride_w, p.dilation_h, p.dilation_w) = (1, 1, 1, 1, 1, 1)
        p.groups = 1
        p.set(epilogue)
        let input = try ref(node.inputs[0], .plain)
        try emitConv(node.name, p, weights: weightsNK, bias: bias, input: input, residual: nil,
                     output: define(node.output, .plain), batch: 1)
    }

    mutating func lowerGemm(_ node: Node, alpha: Float, beta: Float, transA: Bool, transB: Bool, epilogue: Epilogue) throws(EngineError) {
        let kernels = self.kernels
        let a = graph.shape(node.inputs[0])
        let (m, k) = transA ? (a[1], a[0]) : (a[0], a[1])
        let n = graph.shape(node.output)[1]
        let cName = node.inputs[2]
        let cShape = cName.isEmpty ? [] : graph.shape(cName)
        let cIsRowBias = cName.isEmpty || (graph.constants[cName] != nil && elementCount(cShape) == n && (cShape.last ?? 1) == n)
            || (graph.constants[cName] != nil && elementCount(cShape) == 1)
        if !transA, let weights = graph.constants[node.inputs[1]], cIsRowBias {
            let w = weights.floats
            let nk = (0..<n).flatMap { j in (0..<k).map { i in alpha * (transB ? w[j * k + i] : w[i * n + j]) } }
            var bias: [Float]?
            if !cName.isEmpty {
                let c = graph.constants[cName]!.floats
                bias = (0..<n).map { beta * c[c.count == 1 ? 0 : $0] }
            }
            try emitDense(node, rows: m, k: k, n: n, weightsNK: nk, bias: bias, epilogue: epilogue)
            return
        }
        let layoutA = transA ? GemmStep.Matrix(rowStride: 1, colStride: m) : GemmStep.Matrix(rowStride: k, colStride: 1)
        let layoutB = transB ? GemmStep.Matrix(rowStride: 1, colStride: k) : GemmStep.Matrix(rowStride: n, colStride: 1)
        var refs = [try ref(node.inputs[0], .plain), try ref(node.inputs[1], .plain)]
        var cStrides = (row: 0, col: 0)
        if !cName.isEmpty {
            let s = Reference.broadcastStrides(cShape, to: [m, n])
            cStrides = (s[0], s[1])
            refs.append(try ref(cName, .plain))
        }
        let output = define(node.output, .plain)
        emit(refs, output: output) { ops, out in
            GemmStep(kernels: kernels, m: m, n: n, k: k, alpha: alpha, a: ops[0], layoutA: layoutA, b: ops[1], layoutB: layoutB,
                     batches: [(0, 0, 0)], c: ops.count > 2 ? ops[2] : nil, cStrides: cStrides, beta: beta, output: out)
        }
        if !epilogue.isIdentity {
            // The strided GEMM has no epilogue: the fused activation runs over its result in place.
            emit([.buffer(output)], output: output) { ops, out in
                ActivationStep(kernels: kernels, epilogue: epilogue, count: m * n, input: ops[0], output: out)
            }
        }
    }

    mutating func lowerMatMul(_ node: Node) throws(EngineError) {
        let kernels = self.kernels
        var a = graph.shape(node.inputs[0]), b = graph.shape(node.inputs[1])
        if a.count == 1 { a.insert(1, at: 0) }
        if b.count == 1 { b.append(1) }
        let (m, k, n) = (a[a.count - 2], a[a.count - 1], b[b.count - 1])
        if b.count == 2, let weights = graph.constants[node.inputs[1]] {
            let w = weights.floats
            let nk = (0..<n).flatMap { j in (0..<k).map { i in w[i * n + j] } }
            try emitDense(node, rows: elementCount(a) / k, k: k, n: n, weightsNK: nk, bias: nil)
            return
        }
        // Batch dimensions broadcast like any elementwise op.
        let batchA = Array(a.dropLast(2)), batchB = Array(b.dropLast(2))
        let batchShape = try broadcast(batchA, batchB, node: node.name)
        let sa = Reference.broadcastStrides(batchA, to: batchShape), sb = Reference.broadcastStrides(batchB, to: batchShape)
        var batches: [(a: Int, b: Int, y: Int)] = []
        Reference.forEach(batchShape, sa, sb) { i, ia, ib in batches.append((ia * m * k, ib * k * n, i * m * n)) }
        let refs = [try ref(node.inputs[0], .plain), try ref(node.inputs[1], .plain)]
        emit(refs, output: define(node.output, .plain)) { ops, out in
            GemmStep(kernels: kernels, m: m, n: n, k: k, alpha: 1, a: ops[0], layoutA: .init(rowStride: k, colStride: 1),
                     b: ops[1], layoutB: .init(rowStride: n, colStride: 1),
                     batches: batches, c: nil, cStrides: (0, 0), beta: 0, output: out)
        }
    }
}

/// Y = alpha·op(A)·op(B) + beta·C through the kernels' strided GEMM, batched with broadcasting.
final class GemmStep: Step, @unchecked Sendable {
    struct Matrix { var rowStride: Int, colStride: Int }
    let kernels: UnsafePointer<gl_kernels>
    let m: Int, n: Int, k: Int, alpha: Float
    let a: Operand, b: Operand, output: Int
    let layoutA: Matrix, layoutB: Matrix
    /// Per batch entry: offsets of A, B and Y.
    let batches: [(a: Int, b: Int, y: Int)]
    /// C broadcast into Y before the product (beta already applied), if any.
    let c: Operand?, cStrides: (row: Int, col: Int), beta: Float

    var kind: String { "Gemm" }

    init(kernels: UnsafePointer<gl_kernels>, m: Int, n: Int, k: Int, alpha: Float, a: Operand, layoutA: Matrix, b: Operand, layoutB: Matrix,
         batches: [(a: Int, b: Int, y: Int)], c: Operand?, cStrides: (row: Int, col: Int), beta: Float, output: Int) {
        self.kernels = kernels
        (self.m, self.n, self.k, self.alpha, self.a, self.b, self.output) = (m, n, k, alpha, a, b, output)
        (self.layoutA, self.layoutB, self.batches) = (layoutA, layoutB, batches)
        (self.c, self.cStrides, self.beta) = (c, cStrides, beta)
    }

    func run(_ context: RunContext) {
        let arena = context.arena
        let gemm = kernels.pointee.gemm!
        let x = a.pointer(arena), w = b.pointer(arena), y = arena + output
        if let c {
            let cp = c.pointer(arena)
            for i in 0..<m { for j in 0..<n { y[i * n + j] = beta * cp[i * cStrides.row + j * cStrides.col] } }
        }
        for batch in batches {
            gemm(m, n, k, alpha, x + batch.a, layoutA.rowStride, layoutA.colStride,
                 w + batch.b, layoutB.rowStride, layoutB.colStride, c == nil ? 0 : 1, y + batch.y, n)
        }
    }
}
