// Executable steps: each runs one lowered operator on the arena, allocating nothing.
import CKernels

/// Memory a model owns for its lifetime: packed weights and other constants, packed one after
/// another into huge-page regions (see HugeRegion), in the order the steps will read them.
final class ConstantStorage: @unchecked Sendable {
    private var regions: [HugeRegion] = []
    private var used = 0

    /// Cache-line aligned, so a kernel's 16-float weight panel row is exactly one line.
    func allocate(_ count: Int) -> UnsafeMutablePointer<Float> {
        let bytes = (max(count, 1) * MemoryLayout<Float>.size + 63) / 64 * 64
        if regions.isEmpty || used + bytes > regions[regions.count - 1].bytes {
            // Each region twice the last (2, 4, 8 ... MB): a 20 MB model takes four, a tiny one 2 MB.
            let next = regions.last.map { $0.bytes * 2 } ?? HugeRegion.pageBytes
            regions.append(HugeRegion(bytes: max(bytes, next)))
            used = 0
        }
        let block = regions[regions.count - 1].base + used
        used += bytes
        return block.bindMemory(to: Float.self, capacity: max(count, 1))
    }

    func store(_ values: [Float]) -> UnsafePointer<Float> {
        let block = allocate(values.count)
        if !values.isEmpty { values.withUnsafeBufferPointer { block.update(from: $0.baseAddress!, count: values.count) } }
        return UnsafePointer(block)
    }
}

/// Where a step reads an operand: a constant, or an offset into the session's arena.
struct Operand: @unchecked Sendable {
    let constant: UnsafePointer<Float>?
    let offset: Int

    @inline(__always) func pointer(_ arena: UnsafeMutablePointer<Float>) -> UnsafePointer<Float> {
        constant ?? UnsafePointer(arena + offset)
    }
}

/// What a step runs with: the session's arena, its scratch (for fused steps' bands) and, for
/// intra-op threads, its pool.
struct RunContext {
    var arena: UnsafeMutablePointer<Float>
    var scratch: UnsafeMutablePointer<Float>
    var pool: OpaquePointer?
}

protocol Step: Sendable {
    /// What the step is, for profiles: the kernel's name for convolutions, else the operator.
    var kind: String { get }
    /// The layer's shape, for per-layer profiles ("dw3x3/2 112x112x96"); the kind when there is none.
    var layer: String { get }
    /// Floats of session scratch the step needs with `threads` intra-op threads.
    func scratchFloats(threads: Int) -> Int
    /// The packed weights the step reads first, if any: what the step before it prefetches.
    var weights: UnsafeRawBufferPointer? { get }
    func run(_ context: RunContext)
}

extension Step {
    var layer: String { kind }
    func scratchFloats(threads: Int) -> Int { 0 }
    var weights: UnsafeRawBufferPointer? { nil }
}

final class ConvStep: Step, @unchecked Sendable {
    let kernel: UnsafePointer<gl_conv2d_kernel>
    let params: gl_conv2d_params
    let packed: UnsafePointer<Float>
    let input: Operand, residual: Operand?, output: Int
    let batch: Int

    var kind: String { String(cString: kernel.pointee.name) }
    var layer: String { ConvShape(params, residual: residual != nil).description }
    var weights: UnsafeRawBufferPointer? {
        let floats = withUnsafePointer(to: params) { kernel.pointee.packed_size($0) }
        return UnsafeRawBufferPointer(start: packed, count: floats * MemoryLayout<Float>.size)
    }

    init(kernel: UnsafePointer<gl_conv2d_kernel>, params: gl_conv2d_params, packed: UnsafePointer<Float>,
         input: Operand, residual: Operand?, output: Int, batch: Int) {
        (self.kernel, self.params, self.packed) = (kernel, params, packed)
        (self.input, self.residual, self.output, self.batch) = (input, residual, output, batch)
    }

    func run(_ context: RunContext) {
        let arena = context.arena
        let inSize = params.in_h * params.in_w * params.in_c
        let outSize = params.out_h * params.out_w * params.out_c
        let x = input.pointer(arena), r = residual?.pointer(arena), y = arena + output
        withUnsafePointer(to: params) { p in
            for n in 0..<batch {
                // With a pool, output rows are split across its threads; without, one call does all.
                gl_conv2d_run_parallel(context.pool, kernel, p, x + n * inSize, packed, r.map { $0 + n * outSize }, y + n * outSize)
            }
        }
    }
}

/// A conv (a pointwise expansion, or a stem) and the depthwise conv that alone reads its output,
/// computed band by band (gl_expand_dw_run_parallel): that tensor lives only in the session's scratch.
final class ExpandDepthwiseStep: Step, @unchecked Sendable {
    private let fused: UnsafeMutablePointer<gl_expand_dw>
    let input: Operand, residual: Operand?, output: Int

    var kind: String {
        "\(String(cString: fused.pointee.expand.pointee.name)) + \(String(cString: fused.pointee.dw.pointee.name))"
    }
    var layer: String { shapes.map(\.description).joined(separator: " + ") }
    /// The two convolutions, as the kernel bench sees them.
    var shapes: [ConvShape] {
        [ConvShape(fused.pointee.expand_params, residual: false), ConvShape(fused.pointee.dw_params, residual: residual != nil)]
    }

    init(_ fused: gl_expand_dw, input: Operand, residual: Operand?, output: Int) {
        self.fused = .allocate(capacity: 1)
        self.fused.initialize(to: fused)
        (self.input, self.residual, self.output) = (input, residual, output)
    }

    deinit { fused.deallocate() }

    func scratchFloats(threads: Int) -> Int { gl_expand_dw_scratch_floats(fused, threads) }

    var weights: UnsafeRawBufferPointer? {
        let floats = withUnsafePointer(to: fused.pointee.expand_params) { fused.pointee.expand.pointee.packed_size($0) }
        return UnsafeRawBufferPointer(start: fused.pointee.expand_packed, count: floats * MemoryLayout<Float>.size)
    }

    func run(_ context: RunContext) {
        let arena = context.arena
        gl_expand_dw_run_parallel(context.pool, fused, input.pointer(arena), residual?.pointer(arena), context.scratch, arena + output)
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

extension gl_conv2d_params {
    /// Sets the kernels' epilogue fields: activation (GL_ACTIVATION_*) with its constants, then the clamp.
    mutating func set(_ epilogue: Epilogue) {
        (output_min, output_max) = (epilogue.min, epilogue.max)
        (activation, activation_alpha, activation_beta) = epilogue.kernelActivation
    }
}

extension Epilogue {
    /// The activation as the kernels take it: GL_ACTIVATION_* and its alpha, beta.
    var kernelActivation: (Int32, Float, Float) {
        switch activation {
        case .identity: (Int32(GL_ACTIVATION_IDENTITY), 0, 0)
        case let .hardSwish(alpha, beta): (Int32(GL_ACTIVATION_HARDSWISH), alpha, beta)
        case let .hardSigmoid(alpha, beta): (Int32(GL_ACTIVATION_HARDSIGMOID), alpha, beta)
        case .sigmoid: (Int32(GL_ACTIVATION_SIGMOID), 0, 0)
        case .silu: (Int32(GL_ACTIVATION_SILU), 0, 0)
        }
    }
}

/// An activation no conv could take in its epilogue (Relu, Clip, Sigmoid, HardSwish ... on their
/// own), through the kernels' vectorised elementwise epilogue.
final class ActivationStep: Step, @unchecked Sendable {
    var kind: String { epilogue.name }
    let kernels: UnsafePointer<gl_kernels>
    let epilogue: Epilogue, count: Int, input: Operand, output: Int

    init(kernels: UnsafePointer<gl_kernels>, epilogue: Epilogue, count: Int, input: Operand, output: Int) {
        (self.kernels, self.epilogue, self.count, self.input, self.output) = (kernels, epilogue, count, input, output)
    }

    func run(_ context: RunContext) {
        let (kind, alpha, beta) = epilogue.kernelActivation
        kernels.pointee.activation(kind, alpha, beta, epilogue.min, epilogue.max, count,
                                   input.pointer(context.arena), context.arena + output)
    }
}

/// A Pad that no conv or pool could take as its own padding (reflect, edge, a non-zero value).
final class PadStep: Step, @unchecked Sendable {
    var kind: String { "Pad" }
    let map: PadMap, fill: Float, input: Operand, output: Int

    init(map: PadMap, fill: Float, input: Operand, output: Int) {
        (self.map, self.fill, self.input, self.output) = (map, fill, input, output)
    }

    func run(_ context: RunContext) { map.apply(input.pointer(context.arena), context.arena + output, fill: fill) }
}

/// Squeeze-excite on an NHWC image, in one step: the mean of each channel, two small 1×1 convs
/// (with their epilogues: e.g. ReLU, then the sigmoid gate) on that one pixel, and the image's
/// channels scaled by the gate. The vectors live in the session's scratch.
final class SqueezeExciteStep: Step, @unchecked Sendable {
    var kind: String { "SqueezeExcite" }
    var layer: String { "se \(pixels)px \(channels)→\(reduce.params.out_c)→\(channels)" }
    struct FC {
        let kernel: UnsafePointer<gl_conv2d_kernel>
        let params: gl_conv2d_params
        let packed: UnsafePointer<Float>
    }
    let kernels: UnsafePointer<gl_kernels>
    let reduce: FC, expand: FC
    let pixels: Int, channels: Int, batch: Int
    let input: Operand, output: Int

    init(kernels: UnsafePointer<gl_kernels>, reduce: FC, expand: FC, pixels: Int, channels: Int, batch: Int, input: Operand, output: Int) {
        (self.kernels, self.reduce, self.expand) = (kernels, reduce, expand)
        (self.pixels, self.channels, self.batch, self.input, self.output) = (pixels, channels, batch, input, output)
    }

    var weights: UnsafeRawBufferPointer? {
        let floats = withUnsafePointer(to: reduce.params) { reduce.kernel.pointee.packed_size($0) }
        return UnsafeRawBufferPointer(start: reduce.packed, count: floats * MemoryLayout<Float>.size)
    }

    func scratchFloats(threads: Int) -> Int { 2 * channels + Int(reduce.params.out_c) }

    func run(_ context: RunContext) {
        let kernels = self.kernels.pointee
        let pooled = context.scratch, reduced = context.scratch + channels, gate = reduced + Int(reduce.params.out_c)
        let x = input.pointer(context.arena), y = context.arena + output
        let size = pixels * channels
        for n in 0..<batch {
            kernels.global_avgpool(pixels, channels, x + n * size, pooled)
            withUnsafePointer(to: reduce.params) { reduce.kernel.pointee.run($0, pooled, reduce.packed, nil, reduced, 0, 1) }
            withUnsafePointer(to: expand.params) { expand.kernel.pointee.run($0, reduced, expand.packed, nil, gate, 0, 1) }
            kernels.channel_scale(pixels, channels, x + n * size, gate, y + n * size)
        }
    }
}

/// Clip with bounds read at run time.
final class ClipStep: Step, @unchecked Sendable {
    var kind: String { "Clip" }
    let count: Int, input: Operand, low: Operand?, high: Operand?, output: Int

    init(count: Int, input: Operand, low: Operand?, high: Operand?, output: Int) {
        (self.count, self.input, self.low, self.high, self.output) = (count, input, low, high, output)
    }

    func run(_ context: RunContext) {
        let arena = context.arena
        let x = input.pointer(arena), y = arena + output
        let a = low.map { $0.pointer(arena).pointee } ?? -.infinity
        let b = high.map { $0.pointer(arena).pointee } ?? .infinity
        for i in 0..<count { y[i] = min(max(x[i], a), b) }
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
