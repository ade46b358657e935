// Elementwise activations (Relu, Clip, Sigmoid, HardSigmoid, HardSwish): import, reference, lowering, steps.
import CKernels

extension NodeImport {
    /// Relu, Sigmoid, HardSwish and HardSigmoid as an Epilogue (constants fold through the reference).
    mutating func activation() throws(EngineError) {
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
    }

    /// Clip: constant bounds make an epilogue (a clamp); bounds computed at run time a ClipStep.
    mutating func clip() throws(EngineError) {
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
    }

    mutating func unaryNode(_ name: String, _ unary: Epilogue, input: String, output: String) throws(EngineError) {
    if let value = graph.constants[input] {
        defineConstant(output, Reference.unary(unary, value))
    } else {
        define(output, shape: graph.shapes[input]!, node: Node(name: name, op: .unary(unary), inputs: [input], output: output))
    }
}
}

extension Reference {
    /// The kernels' epilogue in plain Swift: clamp(activation(x)).
    static func apply(_ e: Epilogue, _ x: Float) -> Float {
        let y: Float = switch e.activation {
        case .identity: x
        case let .hardSwish(alpha, beta): x * min(max(alpha * x + beta, 0), 1)
        case let .hardSigmoid(alpha, beta): min(max(alpha * x + beta, 0), 1)
        case .sigmoid: 1 / (1 + _exp(-x))
        case .silu: x / (1 + _exp(-x))
        }
        return min(max(y, e.min), e.max)
    }
    static func unary(_ op: Epilogue, _ x: Constant) -> Constant {
        Constant(shape: x.shape, values: .float(x.floats.map { apply(op, $0) }))
    }
}

extension Lowering {
    /// A standalone activation, through the kernels' vectorised `activation` entry.
    mutating func lowerActivation(_ node: Node, _ epilogue: Epilogue) throws(EngineError) {
        let kernels = self.kernels // steps capture the table, not the lowering
        let count = elementCount(graph.shape(node.output))
        let layout = currentLayout(node.inputs[0]) ?? .plain
        let x = try ref(node.inputs[0], layout)
        emit([x], output: define(node.output, layout)) { ops, out in
            ActivationStep(kernels: kernels, epilogue: epilogue, count: count, input: ops[0], output: out)
        }
    }

    /// Clip with bounds read at run time.
    mutating func lowerClip(_ node: Node) throws(EngineError) {
        let count = elementCount(graph.shape(node.output))
        let layout = currentLayout(node.inputs[0]) ?? .plain
        let x = try ref(node.inputs[0], layout)
        let low = node.inputs[1].isEmpty ? nil : try ref(node.inputs[1], .plain)
        let high = node.inputs[2].isEmpty ? nil : try ref(node.inputs[2], .plain)
        emit([x] + [low, high].compactMap { $0 }, output: define(node.output, layout)) { ops, out in
            ClipStep(count: count, input: ops[0], low: low == nil ? nil : ops[1],
                     high: high == nil ? nil : ops[low == nil ? 1 : 2], output: out)
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
