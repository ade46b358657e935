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
    /// Apply a squeeze-excite's gate to the weights of the 1×1 conv that alone reads its result, per
    /// request, instead of scaling the image, where the weights are much smaller than the image (the SE
    /// blocks at 112², 56² and 28² in EfficientNet-B0). Off only to measure what it brings.
    public var fuseGateIntoConv = true
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


/// The operators the importer accepts: the keys of `Operators.importers` (Constant, Shape, Gather and
/// Cast only where they fold away).
public let supportedOperators: Set<String> = Set(Operators.importers.keys)

/// An ONNX node's attributes, read by name; any attribute left unread is reported as unsupported,
/// so that a model never runs with a setting the engine silently ignored.
struct Attributes {
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

/// ONNX GraphProto → Graph: initializers and inputs, then each node through its operator's importer
/// (`Operators.importers`), which validates it, infers its shape and folds it when its inputs are constants.
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

    private mutating func add(_ proto: Onnx_NodeProto) throws(EngineError) {
        let name = proto.name.isEmpty ? (proto.output.first ?? proto.opType) : proto.name
        let op = proto.opType
        guard proto.domain.isEmpty || proto.domain == "ai.onnx" else {
            throw .unsupportedOperator(op: "\(proto.domain).\(op)", node: name)
        }
        guard let importer = Operators.importers[op] else { throw .unsupportedOperator(op: op, node: name) }
        guard let output = proto.output.first, !output.isEmpty else {
            throw .invalidModel("node '\(name)' has no output")
        }
        // Extra outputs (MaxPool indices, Dropout mask, BatchNorm running stats) are unsupported
        // when something reads them; an empty name means the model does not want them.
        if proto.output.dropFirst().contains(where: { !$0.isEmpty }) {
            throw .unsupportedFeature(node: name, what: "\(op) with more than one output")
        }
        var shapes: [[Int]] = []
        for input in proto.input {
            guard !input.isEmpty else { shapes.append([]); continue }
            guard let shape = graph.shapes[input] else {
                throw .invalidModel("node '\(name)' reads '\(input)', which no earlier node produces")
            }
            shapes.append(shape)
        }
        var node = NodeImport(name: name, op: op, inputs: Array(proto.input), shapes: shapes, output: output,
                              attributes: Attributes(proto, name: name), opset: opset)
        swap(&node.graph, &graph)
        defer { swap(&node.graph, &graph) }
        try importer(&node)
    }
}

/// One ONNX node being imported, as its operator's importer (an `extension NodeImport` in the operator's
/// file under Operators/) sees it: its inputs and their shapes, its attributes, the opset, and the graph
/// so far, to which it adds a node (`define`) or, when it folds, a constant (`defineConstant`).
struct NodeImport {
    let name: String
    /// The ONNX op_type.
    let op: String
    let inputs: [String]
    /// The inputs' shapes ([] for an absent optional input).
    let shapes: [[Int]]
    let output: String
    var attributes: Attributes
    let opset: Int
    var graph = Graph()

    init(name: String, op: String, inputs: [String], shapes: [[Int]], output: String, attributes: Attributes, opset: Int) {
        (self.name, self.op, self.inputs, self.shapes, self.output) = (name, op, inputs, shapes, output)
        (self.attributes, self.opset) = (attributes, opset)
    }

    /// Input `i`'s name, "" when absent.
    func input(_ i: Int) -> String { i < inputs.count ? inputs[i] : "" }

    /// Every input present is a constant (the node can fold at load).
    var allConstant: Bool { inputs.allSatisfy { $0.isEmpty || graph.constants[$0] != nil } }

    func need(_ n: Int) throws(EngineError) {
        guard inputs.count >= n, inputs.prefix(n).allSatisfy({ !$0.isEmpty }) else {
            throw .invalidModel("node '\(name)' (\(op)) needs \(n) inputs, has \(inputs.count)")
        }
    }

    func constant(_ name: String, of node: String, as what: String) throws(EngineError) -> Constant {
        guard let value = graph.constants[name] else {
            throw .unsupportedFeature(node: node, what: "\(what) computed at run time (it must be a constant)")
        }
        return value
    }

    func constantInts(_ name: String, of node: String, as what: String) throws(EngineError) -> [Int] {
        guard let ints = try constant(name, of: node, as: what).ints else {
            throw .invalidModel("node '\(node)': \(what) must be integers")
        }
        return ints
    }

    func axis(_ axis: Int, rank: Int, node: String) throws(EngineError) -> Int {
        let normalized = axis < 0 ? axis + rank : axis
        guard (0..<max(rank, 1)).contains(normalized) else {
            throw .invalidModel("node '\(node)': axis \(axis) is out of range for rank \(rank)")
        }
        return normalized
    }

    mutating func define(_ output: String, shape: [Int], node: Node?) {
        graph.shapes[output] = shape
        if let node { graph.nodes.append(node) }
    }

    mutating func defineConstant(_ output: String, _ value: Constant) {
        graph.shapes[output] = value.shape
        graph.constants[output] = value
    }

    /// Reads kernel geometry; resolves auto_pad against the input size.
    mutating func window(input: [Int], kernel: (Int, Int), allowCeil: Bool) throws(EngineError) -> Window {
        let node = name
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
