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
