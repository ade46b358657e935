// The engine's public face: load an ONNX model once, run it from many sessions.
import CKernels
import Foundation
import SwiftProtobuf

/// A tensor a model takes or gives, by name and static shape.
public struct TensorSpec: Sendable, Equatable {
    public var name: String
    public var shape: [Int]
}

/// A loaded, compiled model. Immutable and shareable; each thread runs it through its own `Session`.
public final class Model: Sendable {
    /// Name of the model (file name without extension unless given).
    public let name: String
    public let inputs: [TensorSpec]
    public let outputs: [TensorSpec]
    /// ONNX `metadata_props`.
    public let metadata: [String: String]
    /// Weights and other initializers, counted before any folding.
    public let parameterCount: Int
    /// The kernel variant the model was compiled for ("scalar", "avx2", ...).
    public let kernelVariant: String
    /// Operator count as imported and after fusion, for the curious.
    public let nodeCount: (imported: Int, compiled: Int)
    let program: Program

    /// Loads `url` (an .onnx file).
    public convenience init(contentsOf url: URL, name: String? = nil, options: LoadOptions = LoadOptions()) throws(EngineError) {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw .unreadableModel(url.path, reason: error.localizedDescription)
        }
        try self.init(onnx: data, name: name ?? url.deletingPathExtension().lastPathComponent,
                      source: url.path, options: options)
    }

    /// Loads a serialized ONNX ModelProto.
    public init(onnx data: Data, name: String, source: String? = nil, options: LoadOptions = LoadOptions()) throws(EngineError) {
        let proto: Onnx_ModelProto
        do { proto = try Onnx_ModelProto(serializedBytes: data) } catch {
            throw .unreadableModel(source ?? name, reason: "not an ONNX protobuf (\(error))")
        }
        var graph = try Importer.graph(of: proto, options: options)
        let imported = graph.nodes.count
        graph.optimize()
        let kernels = try KernelVariants.table(options.kernels ?? ProcessInfo.processInfo.environment["GLIMPSE_KERNELS"])
        program = try Lowering.program(for: graph, kernels: kernels, options: options)
        self.name = name
        inputs = program.inputs.map { TensorSpec(name: $0.name, shape: $0.shape) }
        outputs = program.outputs.map { TensorSpec(name: $0.name, shape: $0.shape) }
        metadata = Dictionary(proto.metadataProps.map { ($0.key, $0.value) }, uniquingKeysWith: { _, b in b })
        parameterCount = proto.graph.initializer.reduce(0) { $0 + Int($1.dims.reduce(1, *)) }
        kernelVariant = String(cString: kernels.pointee.variant)
        nodeCount = (imported, graph.nodes.count)
    }

    /// Bytes of working memory each session needs.
    public var arenaBytes: Int { program.arenaSize * MemoryLayout<Float>.size }

    /// What every intermediate tensor would take if none shared memory.
    public var unsharedBytes: Int { program.unsharedSize * MemoryLayout<Float>.size }

    /// Which kernel each convolution (and dense layer) runs.
    public var convolutionKernels: [(node: String, kernel: String)] { program.convKernels }

    /// What each step of a run is: a conv kernel's name, or the operator ("Pad", "SqueezeExcite", "add" ...).
    public var stepKinds: [String] { program.steps.map(\.kind) }

    /// Expansions run fused with their depthwise conv (each one step, its expanded tensor never stored).
    public var fusedExpansions: Int { program.steps.count { $0 is ExpandDepthwiseStep } }

    /// 1×1 convs that take a squeeze-excite gate into their weights (LoadOptions.fuseGateIntoConv).
    public var gatedConvs: Int { program.steps.count { ($0 as? ConvStep)?.gate != nil } }

    /// A session whose convolutions split their output rows over `threads` threads.
    public func makeSession(threads: Int = 1) -> Session { Session(self, threads: threads) }

    /// Runs once with a fresh session: convenient, but allocates; servers keep a session per thread.
    public func run(_ inputs: [String: Tensor]) throws(EngineError) -> [String: Tensor] {
        try makeSession().run(inputs)
    }
}

/// The kernel variants this build has.
public enum KernelVariants {
    /// Every variant, with whether this CPU can run it, scalar first.
    public static var all: [(name: String, supported: Bool)] {
        (0..<gl_kernels_variant_count()).map { i in
            let table = gl_kernels_variant(i)!
            return (String(cString: table.pointee.variant), gl_kernels_variant_supported(table) != 0)
        }
    }

    /// The best variant this CPU runs.
    public static var best: String { String(cString: bestTable.pointee.variant) }

    /// The last (most preferred) variant this CPU supports. Chosen here, per model, rather than
    /// read from a process-wide table that a test or a caller could switch under a loading model.
    private static var bestTable: UnsafePointer<gl_kernels> {
        (0..<gl_kernels_variant_count()).reversed().lazy.map { gl_kernels_variant($0)! }
            .first { gl_kernels_variant_supported($0) != 0 }!
    }

    /// The table named `name` (nil or empty: the best); an error says what exists and what runs here.
    static func table(_ name: String?) throws(EngineError) -> UnsafePointer<gl_kernels> {
        guard let name, !name.isEmpty else { return bestTable }
        for i in 0..<gl_kernels_variant_count() {
            let table = gl_kernels_variant(i)!
            guard String(cString: table.pointee.variant) == name else { continue }
            guard gl_kernels_variant_supported(table) != 0 else {
                throw .unavailableKernels("kernel variant '\(name)' needs CPU features this machine lacks; it runs: \(all.filter(\.supported).map(\.name).joined(separator: ", "))")
            }
            return table
        }
        throw .unavailableKernels("unknown kernel variant '\(name)'; this build has: \(all.map(\.name).joined(separator: ", "))")
    }
}

/// One thread's way to run a model: owns the arena that every intermediate tensor lives in,
/// so a run allocates nothing.
public final class Session {
    public let model: Model
    /// Threads one run may use (intra-op); 1 keeps a run on the caller's thread.
    public let threads: Int
    private let arena: UnsafeMutablePointer<Float>
    /// The arena and the scratch, in one huge-page region.
    private let memory: HugeRegion
    /// Bands of fused steps, one per thread.
    private let scratch: UnsafeMutablePointer<Float>
    /// The intra-op pool when threads > 1 (its helpers spin between steps, sleep between runs).
    private let pool: OpaquePointer?

    init(_ model: Model, threads: Int) {
        self.model = model
        self.threads = max(1, threads)
        // Every tensor's offset is a multiple of 16 floats, so with this alignment each starts a cache line.
        let count = max(model.program.arenaSize, 1)
        let scratchCount = max(1, model.program.steps.map { $0.scratchFloats(threads: max(1, threads)) }.max() ?? 0)
        let arenaBytes = (count * MemoryLayout<Float>.size + 63) / 64 * 64
        memory = HugeRegion(bytes: arenaBytes + scratchCount * MemoryLayout<Float>.size)
        arena = memory.base.bindMemory(to: Float.self, capacity: count)
        arena.initialize(repeating: 0, count: count)
        scratch = (memory.base + arenaBytes).bindMemory(to: Float.self, capacity: scratchCount)
        scratch.initialize(repeating: 0, count: scratchCount)
        pool = self.threads > 1 ? gl_threadpool_create(self.threads) : nil
    }

    deinit {
        gl_threadpool_destroy(pool)
    }

    /// Where input `index` is read from (NCHW, row-major); write it, then call `run()`. The arena
    /// reuses this memory for later tensors, so write the input again before every run.
    public func input(_ index: Int = 0) -> UnsafeMutableBufferPointer<Float> {
        let spec = model.program.inputs[index]
        return UnsafeMutableBufferPointer(start: arena + spec.offset, count: elementCount(spec.shape))
    }

    /// Output `index` after `run()`; valid until the next run.
    public func output(_ index: Int = 0) -> UnsafeBufferPointer<Float> {
        let spec = model.program.outputs[index]
        return UnsafeBufferPointer(start: arena + spec.offset, count: elementCount(spec.shape))
    }

    /// Runs the model on what `input(_:)` holds. While a step runs, its thread streams the next
    /// step's weights toward the cache (gl_prefetch_next; the first pass's worth of them).
    public func run() {
        let context = RunContext(arena: arena, scratch: scratch, pool: pool)
        let steps = model.program.steps, next = model.program.prefetch
        for index in steps.indices {
            gl_prefetch_next(next[index]?.start, next[index]?.bytes ?? 0)
            steps[index].run(context)
        }
        gl_prefetch_next(nil, 0)
    }

    /// Runs once, timing every step; returns (kind, nanoseconds) per step in order.
    public func profile() -> [(kind: String, layer: String, nanoseconds: UInt64)] {
        let context = RunContext(arena: arena, scratch: scratch, pool: pool)
        let next = model.program.prefetch
        defer { gl_prefetch_next(nil, 0) }
        return model.program.steps.enumerated().map { index, step in
            gl_prefetch_next(next[index]?.start, next[index]?.bytes ?? 0)
            let start = DispatchTime.now().uptimeNanoseconds
            step.run(context)
            return (step.kind, step.layer, DispatchTime.now().uptimeNanoseconds - start)
        }
    }

    /// Copies named inputs in, runs, and copies every output out.
    public func run(_ inputs: [String: Tensor]) throws(EngineError) -> [String: Tensor] {
        if let extra = inputs.keys.first(where: { key in !model.inputs.contains { $0.name == key } }) {
            throw .invalidInput("the model has no input '\(extra)'; it takes \(model.inputs.map(\.name))")
        }
        for (index, spec) in model.inputs.enumerated() {
            guard let tensor = inputs[spec.name] else {
                throw .invalidInput("missing input '\(spec.name)' \(spec.shape)")
            }
            guard tensor.shape == spec.shape else {
                throw .invalidInput("input '\(spec.name)' has shape \(tensor.shape), the model takes \(spec.shape)")
            }
            _ = input(index).update(from: tensor.data)
        }
        run()
        var results: [String: Tensor] = [:]
        for (index, spec) in model.outputs.enumerated() {
            results[spec.name] = Tensor(shape: spec.shape, data: Array(output(index)))
        }
        return results
    }
}
