// Graph → program: each node lowered by its operator's file (Operators/), then fusion (Fusion.swift) and the
// arena plan (ArenaPlan.swift). Layouts and operands: Layout.swift; constants and packing: Packing.swift.
import CKernels

/// The compiled form of a model: run by any number of sessions, each with its own arena.
struct Program: Sendable {
    var steps: [any Step]
    var arenaSize: Int
    /// What the intermediate tensors would take with no reuse (floats), for comparison.
    var unsharedSize: Int
    var inputs: [(name: String, shape: [Int], offset: Int)]
    var outputs: [(name: String, shape: [Int], offset: Int)]
    var storage: ConstantStorage
    /// Which conv kernel each conv node runs, for profiles and tests.
    var convKernels: [(node: String, kernel: String)]
    /// Per step, the weights its thread prefetches while it runs (Session.run): the next step's,
    /// at most a pointwise GEMM's first pass (about 384 KB), which is what that step reads first.
    /// All nil when LoadOptions.prefetchNextWeights is off.
    var prefetch: [WeightSpan?]

    /// Bytes of a model's constant storage (which lives as long as the program).
    struct WeightSpan: @unchecked Sendable {
        var start: UnsafeRawPointer
        var bytes: Int
    }

    static func prefetchPlan(_ steps: [any Step]) -> [WeightSpan?] {
        steps.indices.map { index in
            guard index + 1 < steps.count, let w = steps[index + 1].weights, let start = w.baseAddress else { return nil }
            return WeightSpan(start: start, bytes: min(w.count, Int(GL_POINTWISE_PASS_FLOATS) * MemoryLayout<Float>.size))
        }
    }
}

struct Lowering {
    struct Buffer { var size: Int; var alias: Int? }
    struct Pending {
        var inputs: [Int]
        var output: Int
        var build: (_ offset: (Int) -> Int) -> any Step
        /// What a convolution step is made of, for fusing it with its neighbour.
        var conv: Conv? = nil
    }

    struct Conv {
        var kernel: UnsafePointer<gl_conv2d_kernel>
        var params: gl_conv2d_params
        var packed: UnsafePointer<Float>
        var input: Ref, residual: Ref?
        var batch: Int
    }

    let graph: Graph
    let kernels: UnsafePointer<gl_kernels>
    let options: LoadOptions
    let storage = ConstantStorage()
    var buffers: [Buffer] = []
    var pending: [Pending] = []
    /// Runtime values by name and layout; a value may exist in both layouts.
    var placed: [String: [Layout: Int]] = [:]
    /// The layout each runtime value was produced in.
    var produced: [String: Layout] = [:]
    var storedConstants: [String: UnsafePointer<Float>] = [:]
    var convKernels: [(node: String, kernel: String)] = []
    /// Squeeze-excite outputs left unscaled for the 1×1 conv that reads them: the SE's input and
    /// the buffer of its gate (lowerSqueezeExcite, lowerConv).
    var gates: [String: (input: String, gate: Int)] = [:]

    static func program(for graph: Graph, kernels: UnsafePointer<gl_kernels>, options: LoadOptions = LoadOptions()) throws(EngineError) -> Program {
        var lowering = Lowering(graph: graph, kernels: kernels, options: options)
        return try lowering.run()
    }

    init(graph: Graph, kernels: UnsafePointer<gl_kernels>, options: LoadOptions) {
        self.graph = graph
        self.kernels = kernels
        self.options = options
    }

    mutating func run() throws(EngineError) -> Program {
        let inputBuffers = graph.inputs.map { name in define(name, .plain) }
        for node in graph.nodes { try lower(node) }
        var outputBuffers: [Int] = []
        for name in graph.outputs {
            if let constant = graph.constants[name] {
                // A folded output still needs a home in the arena: copy it there each run.
                let id = newBuffer(constant.count)
                let source = store(name)
                pending.append(Pending(inputs: [], output: id) { offset in
                    CopyStep(source: source, count: constant.count, output: offset(id))
                })
                outputBuffers.append(id)
            } else {
                outputBuffers.append(try operand(name, .plain))
            }
        }
        if options.fuseExpandDepthwise { fuseExpandDepthwise(outputs: outputBuffers) }
        let (offsets, size) = plan(inputs: inputBuffers, outputs: outputBuffers)
        let unshared = Set(buffers.indices.map(root)).reduce(0) { $0 + buffers[$1].size }
        let roots = buffers.indices.map(root)
        let offset = { (id: Int) -> Int in offsets[roots[id]]! }
        let steps = pending.map { $0.build(offset) }
        return Program(
            steps: steps,
            arenaSize: size,
            unsharedSize: unshared,
            inputs: zip(graph.inputs, inputBuffers).map { ($0, graph.shape($0), offset($1)) },
            outputs: zip(graph.outputs, outputBuffers).map { ($0, graph.shape($0), offset($1)) },
            storage: storage,
            convKernels: convKernels,
            prefetch: options.prefetchNextWeights ? Program.prefetchPlan(steps) : Array(repeating: nil, count: steps.count))
    }
    mutating func emit(_ refs: [Ref], output: Int, _ build: @escaping ([Operand], Int) -> any Step) {
        pending.append(Pending(inputs: refs.compactMap(\.buffer), output: output) { offset in
            build(refs.map { $0.operand(offset) }, offset(output))
        })
    }

    // MARK: nodes

    /// Lowers one node through its operator's file.
    mutating func lower(_ node: Node) throws(EngineError) {
        switch node.op {
        case let .conv(window, groups, epilogue): try lowerConv(node, window: window, groups: groups, epilogue: epilogue)
        case .batchNorm, .channelAffine: try lowerChannelAffine(node)
        case let .unary(epilogue): try lowerActivation(node, epilogue)
        case .clip: try lowerClip(node)
        case let .pad(mode, pads, fill): try lowerPad(node, mode: mode, pads: pads, fill: fill)
        case let .squeezeExcite(reduce, expand): try lowerSqueezeExcite(node, reduce: reduce, expand: expand)
        case let .binary(op): try lowerBinary(node, op)
        case let .pool(kind, window): try lowerPool(node, kind, window)
        case .globalAveragePool: try lowerGlobalAveragePool(node)
        case let .concat(axis): try lowerConcat(node, axis: axis)
        case .reshape: try lowerReshape(node)
        case let .transpose(perm): try lowerTranspose(node, perm: perm)
        case let .gemm(alpha, beta, transA, transB, epilogue):
            try lowerGemm(node, alpha: alpha, beta: beta, transA: transA, transB: transB, epilogue: epilogue)
        case .matMul: try lowerMatMul(node)
        case let .softmax(axis, coerce2D): try lowerSoftmax(node, axis: axis, coerce2D: coerce2D)
        case let .reduceMean(axes, keepDims): try lowerReduceMean(node, axes: axes, keepDims: keepDims)
        }
    }
}

/// Copies a folded constant into the arena (a graph output that needed no computation).
final class CopyStep: Step, @unchecked Sendable {
    var kind: String { "Copy" }
    let source: UnsafePointer<Float>, count: Int, output: Int

    init(source: UnsafePointer<Float>, count: Int, output: Int) {
        (self.source, self.count, self.output) = (source, count, output)
    }

    func run(_ context: RunContext) { (context.arena + output).update(from: source, count: count) }
}
