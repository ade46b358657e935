// ONNX ModelProto → Graph: typed operators, validated attributes, static shapes, folded constants.
import Foundation

/// How a model is specialised when it loads.
public struct LoadOptions: Sendable {
    /// Shapes for graph inputs whose declared shape has symbolic or missing dimensions.
    /// A symbolic leading (batch) dimension defaults to 1.
    public var inputShapes: [String: [Int]] = [:]
    /// Graph inputs fixed to a value at load: they become constants, as if they were
    /// initializers (a backend test's weights, a reshape target). They are not inputs at run time.
    public var bindings: [String: Tensor] = [:]
    /// Like `bindings`, for integer inputs such as shapes and axes.
    public var integerBindings: [String: (shape: [Int], values: [Int64])] = [:]
    /// Kernel variant to compile for ("scalar", "avx2", "avx512", "neon"); nil: $GLIMPSE_KERNELS, else the best this CPU runs.
    public var kernels: String?
    /// Fuse each conv with a large output (a pointwise expansion, a stem) with the depthwise conv that reads it, band by band
    /// (the tensor between them never leaves L2). Off only to measure what it brings.
    public var fuseExpandDepthwise = true
    /// Scratch per thread for a fused band, bytes: about a quarter of a core's L2.
    public var fusedBandBytes = 256 * 1024
    /// While a step runs, stream the next step's weights toward the cache (gl_prefetch_next),
    /// so a layer does not start by waiting on memory. Off only to measure what it brings.
    public var prefetchNextWeights = true

    public init() {}

    /// Binds `name` to a serialized ONNX TensorProto of float or integer type.
    public mutating func bind(_ name: String, serializedTensorProto data: Data) throws(EngineError) {
        let proto: Onnx_TensorProto
        do { proto = try Onnx_TensorProto(serializedBytes: data) } catch {
            throw .invalidInput("'\(name)' is not a TensorProto: \(error)")
        }
        let constant = try Constant(proto: proto, what: name)
        switch constant.values {
        case let .float(values): bindings[name] = Tensor(shape: constant.shape, data: values)
        case let .int64(values): integerBindings[name] = (constant.shape, values)
        }
    }
}

/// The operators the importer accepts (Constant, Shape, Gather and Cast only where they fold away).
public let supportedOperators: Set<String> = [
    "Conv", "BatchNormalization", "Relu", "Clip", "Add", "Sub", "Mul", "Div", "HardSigmoid", "HardSwish",
    "Sigmoid", "GlobalAveragePool", "AveragePool", "MaxPool", "Concat", "Flatten", "Reshape", "Squeeze",
    "Unsqueeze", "Identity", "Dropout", "Transpose", "Gemm", "MatMul", "Softmax", "ReduceMean",
    "Pad", "Constant", "Shape", "Gather", "Cast",
]

/// An ONNX node's attributes, read by name; any attribute left unread is reported as unsupported,
/// so that a model never runs with a setting the engine silently ignored.
private struct Attributes {
    let node: String
    var pending: [String: Onnx_AttributeProto]

    init(_ node: Onnx_NodeProto, name: String) {
        self.node = name
        pending = Dictionary(node.attribute.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
    }

    mutating func int(_ key: String, default value: Int) -> Int {
        pending.removeValue(forKey: key).map { Int($0.i) } ?? value
    }

    mutating func ints(_ key: String) -> [Int]? {
        pending.removeValue(forKey: key).map { $0.ints.map { Int($0) } }
    }

    mutating func float(_ key: String, default value: Float) -> Float {
        pending.removeValue(forKey: key).map { $0.f } ?? value
    }

    mutating func string(_ key: String) -> String? {
        pending.removeValue(forKey: key).map { String(decoding: $0.s, as: UTF8.self) }
    }

    mutating func tensor(_ key: String) -> Onnx_TensorProto? {
        pending.removeValue(forKey: key).map { $0.t }
    }

    /// Attributes that are legal but change nothing for inference.
    mutating func ignore(_ keys: String...) {
        for key in keys { pending.removeValue(forKey: key) }
    }

    func finish() throws(EngineError) {
        if let key = pending.keys.sorted().first {
            throw .unsupportedFeature(node: node, what: "attribute '\(key)'")
        }
    }
}

struct Importer {
    private var graph = Graph()
    private let opset: Int

    /// Imports the main graph of `model`.
    static func graph(of model: Onnx_ModelProto, options: LoadOptions) throws(EngineError) -> Graph {
        var importer = Importer(opset: model.opsetImport.first { $0.domain.isEmpty || $0.domain == "ai.onnx" }
            .map { Int($0.version) } ?? 13)
        try importer.run(model.graph, options: options)
        return importer.graph
    }

    private init(opset: Int) { self.opset = opset }

    private mutating func run(_ proto: Onnx_GraphProto, options: LoadOptions) throws(EngineError) {
        for initializer in proto.initializer {
            graph.constants[initializer.name] = try Constant(proto: initializer, what: initializer.name)
            graph.shapes[initializer.name] = graph.constants[initializer.name]!.shape
        }
        for (name, tensor) in options.bindings {
            graph.constants[name] = Constant(tensor)
            graph.shapes[name] = tensor.shape
        }
        for (name, bound) in options.integerBindings {
            graph.constants[name] = Constant(shape: bound.shape, values: .int64(bound.values))
            graph.shapes[name] = bound.shape
        }
        for input in proto.input where graph.constants[input.name] == nil {
            graph.inputs.append(input.name)
            graph.shapes[input.name] = try inputShape(input, given: options.inputShapes[input.name])
        }
        for node in proto.node {
            try add(node)
        }
        for output in proto.output {
            guard graph.shapes[output.name] != nil else {
                throw .invalidModel("graph output '\(output.name)' is produced by no node")
            }
            graph.outputs.append(output.name)
        }
    }

    private func inputShape(_ input: Onnx_ValueInfoProto, given: [Int]?) throws(EngineError) -> [Int] {
        let type = input.type.tensorType
        guard Onnx_TensorProto.DataType(rawValue: Int(type.elemType)) == .float else {
            let name = Onnx_TensorProto.DataType(rawValue: Int(type.elemType)).map { "\($0)" } ?? "\(type.elemType)"
            throw .unsupportedFeature(node: input.name, what: "input element type \(name) (only float)")
        }
        if let given { return given }
        guard type.hasShape else { throw .invalidModel("input '\(input.name)' has no shape; pass one when loading") }
        return try type.shape.dim.enumerated().map { (axis, dim) throws(EngineError) -> Int in
            if case let .dimValue(size)? = dim.value, size >= 0 { return Int(size) }
            if axis == 0 { return 1 }
            throw .invalidModel("input '\(input.name)' has a symbolic dimension \(axis) ('\(dim.dimParam)'); pass a shape when loading")
        }
    }

    // MARK: nodes

    private func constant(_ name: String, of node: String, as what: String) throws(EngineError) -> Constant {
        guard let value = graph.constants[name] else {
            throw .unsupportedFeature(node: node, what: "\(what) computed at run time (it must be a constant)")
        }
        return value
    }

    private func constantInts(_ name: String, of node: String, as what: String) throws(EngineError) -> [Int] {
        guard let ints = try constant(name, of: node, as: what).ints else {
            throw .invalidModel("node '\(node)': \(what) must be integers")
        }
        return ints
    }

    private func shape(_ name: String, of node: String) throws(EngineError) -> [Int] {
        guard let shape = graph.shapes[name] else {
            throw .invalidModel("node '\(node)' reads '\(name)', which no earlier node produces")
        }
        return shape
    }

    private func axis(_ axis: Int, rank: Int, node: String) throws(EngineError) -> Int {
        let normalized = axis < 0 ? axis + rank : axis
        guard (0..<max(rank, 1)).contains(normalized) else {
            throw .invalidModel("node '\(node)': axis \(axis) is out of range for rank \(rank)")
        }
        return normalized
    }

    private mutating func define(_ output: String, shape: [Int], node: Node?) {
        graph.shapes[output] = shape
        if let node { graph.nodes.append(node) }
    }

    private mutating func defineConstant(_ output: String, _ value: Constant) {
        graph.shapes[output] = value.shape
        graph.constants[output] = value
    }

    private mutating func add(_ proto: Onnx_NodeProto) throws(EngineError) {
        let name = proto.name.isEmpty ? (proto.output.first ?? proto.opType) : proto.name
        let op = proto.opType
        guard proto.domain.isEmpty || proto.domain == "ai.onnx" else {
            throw .unsupportedOperator(op: "\(proto.domain).\(op)", node: name)
        }
        guard supportedOperators.contains(op) else { throw .unsupportedOperator(op: op, node: name) }
        guard let output = proto.output.first, !output.isEmpty else {
            throw .invalidModel("node '\(name)' has no output")
        }
        // Extra outputs (MaxPool indices, Dropout mask, BatchNorm running stats) are unsupported
        // when something reads them; an empty name means the model does not want them.
        if proto.output.dropFirst().contains(where: { !$0.isEmpty }) {
            throw .unsupportedFeature(node: name, what: "\(op) with more than one output")
        }
        var attributes = Attributes(proto, name: name)
        let inputs = Array(proto.input)
        var shapes: [[Int]] = []
        for input in inputs {
            shapes.append(input.isEmpty ? [] : try shape(input, of: name))
        }
        func input(_ i: Int) -> String { i < inputs.count ? inputs[i] : "" }
        func need(_ n: Int) throws(EngineError) {
            guard inputs.count >= n, inputs.prefix(n).allSatisfy({ !$0.isEmpty }) else {
                throw .invalidModel("node '\(name)' (\(op)) needs \(n) inputs, has \(inputs.count)")
            }
        }
        let allConstant = inputs.allSatisfy { $0.isEmpty || graph.constants[$0] != nil }

        switch op {
        case "Conv":
            try need(2)
            let (x, w) = (shapes[0], shapes[1])
            guard x.count == 4 else {
                throw .unsupportedFeature(node: name, what: "\(x.count - 2)-D convolution (only 2-D)")
            }
            guard w.count == 4 else { throw .invalidModel("node '\(name)': weights \(w) are not 4-D like the input") }
            _ = try constant(inputs[1], of: name, as: "the weights")
            if !input(2).isEmpty { _ = try constant(inputs[2], of: name, as: "the bias") }
            let groups = attributes.int("group", default: 1)
            guard groups >= 1, x[1] % groups == 0, w[0] % groups == 0, w[1] * groups == x[1] else {
                throw .invalidModel("node '\(name)': weights \(w) do not fit input \(x) with \(groups) groups")
            }
            if let kernel = attributes.ints("kernel_shape"), kernel != [w[2], w[3]] {
                throw .invalidModel("node '\(name)': kernel_shape \(kernel) disagrees with weights \(w)")
            }
            let window = try self.window(&attributes, node: name, input: x, kernel: (w[2], w[3]), allowCeil: false)
            try attributes.finish()
            let out = window.outputSize(inputH: x[2], inputW: x[3])
            let node = Node(name: name, op: .conv(window: window, groups: groups, epilogue: .identity),
                            inputs: [inputs[0], inputs[1], input(2)], output: output)
            define(output, shape: [x[0], w[0], out.h, out.w], node: node)

        case "BatchNormalization":
            try need(5)
            attributes.ignore("momentum", "is_test")
            let epsilon = attributes.float("epsilon", default: 1e-5)
            guard attributes.int("training_mode", default: 0) == 0, attributes.int("spatial", default: 1) == 1 else {
                throw .unsupportedFeature(node: name, what: "training-mode or non-spatial BatchNormalization")
            }
            try attributes.finish()
            let channels = shapes[0].count >= 2 ? shapes[0][1] : 0
            for i in 1...4 {
                guard try constant(inputs[i], of: name, as: "the statistics").count == channels else {
                    throw .invalidModel("node '\(name)': parameter '\(inputs[i])' does not have \(channels) values")
                }
            }
            guard shapes[0].count == 4 || shapes[0].count == 2 else {
                throw .unsupportedFeature(node: name, what: "BatchNormalization on rank \(shapes[0].count)")
            }
            define(output, shape: shapes[0], node: Node(name: name, op: .batchNorm(epsilon: epsilon),
                                                        inputs: Array(inputs.prefix(5)), output: output))

        case "Relu", "Sigmoid", "HardSwish", "HardSigmoid":
            try need(1)
            let unary: Epilogue = switch op {
            case "Relu": .relu
            case "Sigmoid": Epilogue(activation: .sigmoid)
            case "HardSwish": Epilogue(activation: .hardSwish(alpha: 1 / 6, beta: 0.5))
            default: Epilogue(activation: .hardSigmoid(alpha: attributes.float("alpha", default: 0.2),
                                                       beta: attributes.float("beta", default: 0.5)))
            }
            try attributes.finish()
            try unaryNode(name, unary, input: inputs[0], output: output)

        case "Clip":
            try need(1)
            var low: Float = -.infinity, high: Float = .infinity
            var runtimeBounds = false
            if opset < 11 {
                low = attributes.float("min", default: -.infinity)
                high = attributes.float("max", default: .infinity)
            } else {
                for (i, isMin) in [(1, true), (2, false)] where !input(i).isEmpty {
                    guard let bound = graph.constants[inputs[i]] else { runtimeBounds = true; continue }
                    guard bound.count == 1 else { throw .invalidModel("node '\(name)': Clip bounds must be scalars") }
                    if isMin { low = bound.floats[0] } else { high = bound.floats[0] }
                }
            }
            try attributes.finish()
            if runtimeBounds {
                define(output, shape: shapes[0], node: Node(name: name, op: .clip,
                                                            inputs: [inputs[0], input(1), input(2)], output: output))
            } else {
                try unaryNode(name, Epilogue(min: low, max: high), input: inputs[0], output: output)
            }

        case "Add", "Sub", "Mul", "Div":
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

        case "MaxPool", "AveragePool":
            try need(1)
            let x = shapes[0]
            guard x.count == 4 else { throw .unsupportedFeature(node: name, what: "\(x.count - 2)-D pooling (only 2-D)") }
            guard let kernel = attributes.ints("kernel_shape"), kernel.count == 2 else {
                throw .invalidModel("node '\(name)': kernel_shape must have 2 values")
            }
            var kind = PoolKind.max
            if op == "MaxPool" {
                guard attributes.int("storage_order", default: 0) == 0 else {
                    throw .unsupportedFeature(node: name, what: "storage_order 1")
                }
            } else {
                kind = .average(countIncludePad: attributes.int("count_include_pad", default: 0) != 0)
            }
            let window = try self.window(&attributes, node: name, input: x, kernel: (kernel[0], kernel[1]), allowCeil: true)
            if window.ceilMode, case .average(true) = kind {
                throw .unsupportedFeature(node: name, what: "ceil_mode with count_include_pad")
            }
            try attributes.finish()
            let out = window.outputSize(inputH: x[2], inputW: x[3])
            define(output, shape: [x[0], x[1], out.h, out.w],
                   node: Node(name: name, op: .pool(kind, window), inputs: [inputs[0]], output: output))

        case "GlobalAveragePool":
            try need(1)
            try attributes.finish()
            guard shapes[0].count == 4 else {
                throw .unsupportedFeature(node: name, what: "GlobalAveragePool on rank \(shapes[0].count)")
            }
            define(output, shape: [shapes[0][0], shapes[0][1], 1, 1],
                   node: Node(name: name, op: .globalAveragePool, inputs: [inputs[0]], output: output))

        case "Concat":
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

        case "Reshape":
            try need(2)
            let allowZero = attributes.int("allowzero", default: 0) != 0
            try attributes.finish()
            let target = try constantInts(inputs[1], of: name, as: "the target shape")
            try reshapeNode(name, input: inputs[0], output: output, to: try reshaped(shapes[0], target, allowZero: allowZero, node: name))

        case "Flatten":
            try need(1)
            let rank = shapes[0].count
            var axis = attributes.int("axis", default: 1)
            if axis < 0 { axis += rank }
            guard (0...rank).contains(axis) else { throw .invalidModel("node '\(name)': Flatten axis out of range") }
            try attributes.finish()
            try reshapeNode(name, input: inputs[0], output: output,
                            to: [elementCount(Array(shapes[0][..<axis])), elementCount(Array(shapes[0][axis...]))])

        case "Squeeze", "Unsqueeze":
            try need(1)
            var axes = attributes.ints("axes")
            if opset >= 13, !input(1).isEmpty { axes = try constantInts(inputs[1], of: name, as: "the axes") }
            try attributes.finish()
            var outShape = shapes[0]
            if op == "Squeeze" {
                let rank = outShape.count
                let drop = try Set((axes ?? (0..<rank).filter { outShape[$0] == 1 }).map { a throws(EngineError) in
                    try self.axis(a, rank: rank, node: name)
                })
                guard drop.allSatisfy({ outShape[$0] == 1 }) else {
                    throw .invalidModel("node '\(name)': cannot squeeze a dimension that is not 1")
                }
                outShape = outShape.enumerated().filter { !drop.contains($0.offset) }.map(\.element)
            } else {
                guard let axes else { throw .invalidModel("node '\(name)': Unsqueeze needs axes") }
                let rank = outShape.count + axes.count
                for a in try axes.map({ a throws(EngineError) in try self.axis(a, rank: rank, node: name) }).sorted() {
                    outShape.insert(1, at: a)
                }
            }
            try reshapeNode(name, input: inputs[0], output: output, to: outShape)

        case "Identity", "Dropout":
            try need(1)
            attributes.ignore("ratio", "seed", "is_test")
            try attributes.finish()
            if op == "Dropout", !input(2).isEmpty, (graph.constants[inputs[2]]?.floats.first ?? 1) != 0 {
                throw .unsupportedFeature(node: name, what: "Dropout in training mode")
            }
            try reshapeNode(name, input: inputs[0], output: output, to: shapes[0])

        case "Transpose":
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

        case "Gemm":
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

        case "MatMul":
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

        case "Softmax":
            try need(1)
            let rank = shapes[0].count
            let axis = try self.axis(attributes.int("axis", default: opset < 13 ? 1 : -1), rank: rank, node: name)
            try attributes.finish()
            define(output, shape: shapes[0], node: Node(name: name, op: .softmax(axis: axis, coerce2D: opset < 13),
                                                        inputs: [inputs[0]], output: output))

        case "ReduceMean":
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

        case "Pad":
            try need(1)
            let rank = shapes[0].count
            let modeName = attributes.string("mode") ?? "constant"
            guard let mode = PadMode(rawValue: modeName) else {
                throw .unsupportedFeature(node: name, what: "Pad mode '\(modeName)'")
            }
            var pads: [Int], fill: Float
            if opset < 11 {
                guard let given = attributes.ints("pads") else { throw .invalidModel("node '\(name)': Pad needs pads") }
                pads = given
                fill = attributes.float("value", default: 0)
            } else {
                try need(2)
                pads = try constantInts(inputs[1], of: name, as: "the pads")
                fill = 0
                if !input(2).isEmpty {
                    let given = try constant(inputs[2], of: name, as: "the constant value")
                    guard given.count == 1 else { throw .invalidModel("node '\(name)': Pad's constant value must be one value") }
                    fill = given.floats[0]
                }
                if !input(3).isEmpty {
                    // opset 18: pads for the listed axes only; the others get none.
                    let axes = try constantInts(inputs[3], of: name, as: "the axes").map { a throws(EngineError) in
                        try self.axis(a, rank: rank, node: name)
                    }
                    guard pads.count == 2 * axes.count, Set(axes).count == axes.count else {
                        throw .invalidModel("node '\(name)': \(pads.count) pads for axes \(axes)")
                    }
                    var full = [Int](repeating: 0, count: 2 * rank)
                    for (i, a) in axes.enumerated() { (full[a], full[rank + a]) = (pads[i], pads[axes.count + i]) }
                    pads = full
                }
            }
            try attributes.finish()
            guard pads.count == 2 * rank else {
                throw .invalidModel("node '\(name)': \(pads.count) pads for a rank-\(rank) input (need \(2 * rank))")
            }
            let outShape = (0..<rank).map { shapes[0][$0] + pads[$0] + pads[rank + $0] }
            guard outShape.allSatisfy({ $0 >= 0 }) else {
                throw .invalidModel("node '\(name)': pads \(pads) crop \(shapes[0]) below nothing")
            }
            if mode != .constant {
                // reflect needs pads below the size, edge and wrap a non-empty axis to copy from.
                for axis in 0..<rank where pads[axis] > 0 || pads[rank + axis] > 0 {
                    let size = shapes[0][axis], most = Swift.max(pads[axis], pads[rank + axis])
                    guard size > 0, mode != .reflect || most < size, mode != .wrap || most <= size else {
                        throw .invalidModel("node '\(name)': \(mode.rawValue) pads of \(most) on an axis of \(size)")
                    }
                }
            }
            if let value = graph.constants[inputs[0]], case .float = value.values {
                defineConstant(output, Reference.pad(value, mode: mode, pads: pads, fill: fill))
            } else {
                define(output, shape: outShape, node: Node(name: name, op: .pad(mode: mode, pads: pads, value: fill),
                                                           inputs: [inputs[0]], output: output))
            }

        case "Constant":
            let value: Constant
            if let tensor = attributes.tensor("value") {
                value = try Constant(proto: tensor, what: name)
            } else if let f = attributes.pending.removeValue(forKey: "value_float") {
                value = Constant(shape: [], values: .float([f.f]))
            } else if let fs = attributes.pending.removeValue(forKey: "value_floats") {
                value = Constant(shape: [fs.floats.count], values: .float(fs.floats))
            } else if let i = attributes.pending.removeValue(forKey: "value_int") {
                value = Constant(shape: [], values: .int64([i.i]))
            } else if let ints = attributes.pending.removeValue(forKey: "value_ints") {
                value = Constant(shape: [ints.ints.count], values: .int64(ints.ints))
            } else {
                throw .unsupportedFeature(node: name, what: "this kind of Constant")
            }
            try attributes.finish()
            defineConstant(output, value)

        case "Shape":
            try need(1)
            var start = attributes.int("start", default: 0), end = attributes.int("end", default: shapes[0].count)
            try attributes.finish()
            let rank = shapes[0].count
            if start < 0 { start += rank }
            if end < 0 { end += rank }
            let dims = shapes[0][max(0, min(start, rank))..<max(0, min(end, rank))]
            defineConstant(output, Constant(shape: [dims.count], values: .int64(dims.map { Int64($0) })))

        case "Gather", "Cast":
            guard allConstant else {
                throw .unsupportedFeature(node: name, what: "\(op) on values computed at run time")
            }
            if op == "Cast" {
                let to = attributes.int("to", default: 1)
                attributes.ignore("saturate")
                try attributes.finish()
                let source = graph.constants[inputs[0]]!
                switch Onnx_TensorProto.DataType(rawValue: to) {
                case .float, .double: defineConstant(output, Constant(shape: source.shape, values: .float(source.floats)))
                case .int64, .int32: defineConstant(output, Constant(shape: source.shape, values: .int64(source.floats.map { Int64($0) })))
                default: throw .unsupportedFeature(node: name, what: "Cast to type \(to)")
                }
            } else {
                try need(2)
                let data = graph.constants[inputs[0]]!
                let axis = try self.axis(attributes.int("axis", default: 0), rank: data.shape.count, node: name)
                try attributes.finish()
                guard let indices = graph.constants[inputs[1]]!.ints else {
                    throw .invalidModel("node '\(name)': Gather indices must be integers")
                }
                defineConstant(output, try Reference.gather(data, indices: indices, indexShape: shapes[1], axis: axis, node: name))
            }

        default:
            throw .unsupportedOperator(op: op, node: name)
        }
    }

    private mutating func unaryNode(_ name: String, _ unary: Epilogue, input: String, output: String) throws(EngineError) {
        if let value = graph.constants[input] {
            defineConstant(output, Reference.unary(unary, value))
        } else {
            define(output, shape: graph.shapes[input]!, node: Node(name: name, op: .unary(unary), inputs: [input], output: output))
        }
    }

    private mutating func reshapeNode(_ name: String, input: String, output: String, to shape: [Int]) throws(EngineError) {
        if var value = graph.constants[input] {
            value.shape = shape
            defineConstant(output, value)
        } else {
            define(output, shape: shape, node: Node(name: name, op: .reshape, inputs: [input], output: output))
        }
    }

    /// Reads kernel geometry; resolves auto_pad against the input size.
    private func window(_ attributes: inout Attributes, node: String, input: [Int], kernel: (Int, Int),
                        allowCeil: Bool) throws(EngineError) -> Window {
        let strides = attributes.ints("strides") ?? [1, 1]
        let dilations = attributes.ints("dilations") ?? [1, 1]
        var pads = attributes.ints("pads") ?? [0, 0, 0, 0]
        let autoPad = attributes.string("auto_pad") ?? "NOTSET"
        let ceilMode = allowCeil ? attributes.int("ceil_mode", default: 0) != 0 : false
        guard strides.count == 2, dilations.count == 2, pads.count == 4,
              strides.allSatisfy({ $0 > 0 }), dilations.allSatisfy({ $0 > 0 }), pads.allSatisfy({ $0 >= 0 }),
              kernel.0 > 0, kernel.1 > 0 else {
            throw .invalidModel("node '\(node)': bad strides \(strides), dilations \(dilations) or pads \(pads)")
        }
        switch autoPad {
        case "NOTSET": break
        case "VALID": pads = [0, 0, 0, 0]
        case "SAME_UPPER", "SAME_LOWER":
            for (axis, k) in [(0, kernel.0), (1, kernel.1)] {
                let size = input[2 + axis], s = strides[axis]
                let total = max(0, ((size + s - 1) / s - 1) * s + (k - 1) * dilations[axis] + 1 - size)
                let small = total / 2
                pads[axis] = autoPad == "SAME_UPPER" ? small : total - small
                pads[axis + 2] = total - pads[axis]
            }
        default: throw .unsupportedFeature(node: node, what: "auto_pad \(autoPad)")
        }
        return Window(kernel: (kernel.0, kernel.1), stride: (strides[0], strides[1]),
                      dilation: (dilations[0], dilations[1]),
                      padTop: pads[0], padLeft: pads[1], padBottom: pads[2], padRight: pads[3], ceilMode: ceilMode)
    }

    private func reshaped(_ input: [Int], _ target: [Int], allowZero: Bool, node: String) throws(EngineError) -> [Int] {
        var shape = target.enumerated().map { (i, d) in d == 0 && !allowZero && i < input.count ? input[i] : d }
        let count = elementCount(input)
        if let infer = shape.firstIndex(of: -1) {
            let known = shape.enumerated().filter { $0.offset != infer }.map(\.element).reduce(1, *)
            guard known > 0, count % known == 0 else {
                throw .invalidModel("node '\(node)': cannot reshape \(input) to \(target)")
            }
            shape[infer] = count / known
        }
        guard shape.allSatisfy({ $0 >= 0 }), elementCount(shape) == count else {
            throw .invalidModel("node '\(node)': cannot reshape \(input) to \(target)")
        }
        return shape
    }
}

/// numpy broadcasting of two shapes.
func broadcast(_ a: [Int], _ b: [Int], node: String) throws(EngineError) -> [Int] {
    let rank = max(a.count, b.count)
    let pa = Array(repeating: 1, count: rank - a.count) + a
    let pb = Array(repeating: 1, count: rank - b.count) + b
    return try (0..<rank).map { i throws(EngineError) -> Int in
        if pa[i] == pb[i] || pb[i] == 1 { return pa[i] }
        if pa[i] == 1 { return pb[i] }
        throw .invalidModel("node '\(node)': shapes \(a) and \(b) do not broadcast")
    }
}
