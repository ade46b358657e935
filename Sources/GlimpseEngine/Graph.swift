// The engine's graph: typed operators over named values with static shapes.

/// Padding and window geometry shared by Conv and the pools (2-D only).
struct Window: Sendable, Equatable {
    var kernel: (h: Int, w: Int)
    var stride: (h: Int, w: Int)
    var dilation: (h: Int, w: Int)
    /// Explicit begin/end padding; end padding may be larger for TF "SAME".
    var padTop: Int, padLeft: Int, padBottom: Int, padRight: Int
    var ceilMode = false

    static func == (a: Window, b: Window) -> Bool {
        a.kernel == b.kernel && a.stride == b.stride && a.dilation == b.dilation
            && (a.padTop, a.padLeft, a.padBottom, a.padRight) == (b.padTop, b.padLeft, b.padBottom, b.padRight)
            && a.ceilMode == b.ceilMode
    }

    /// Output size along one axis, by ONNX's formula.
    static func outputSize(input: Int, kernel: Int, stride: Int, dilation: Int,
                           padBegin: Int, padEnd: Int, ceilMode: Bool) -> Int {
        let span = (kernel - 1) * dilation + 1
        let room = input + padBegin + padEnd - span
        guard room >= 0 else { return 0 }
        var out = (ceilMode ? (room + stride - 1) / stride : room / stride) + 1
        // A ceil-mode window must start inside the input or its begin padding.
        if ceilMode, (out - 1) * stride >= input + padBegin { out -= 1 }
        return out
    }

    func outputSize(inputH: Int, inputW: Int) -> (h: Int, w: Int) {
        (Self.outputSize(input: inputH, kernel: kernel.h, stride: stride.h, dilation: dilation.h,
                         padBegin: padTop, padEnd: padBottom, ceilMode: ceilMode),
         Self.outputSize(input: inputW, kernel: kernel.w, stride: stride.w, dilation: dilation.w,
                         padBegin: padLeft, padEnd: padRight, ceilMode: ceilMode))
    }
}

/// What a conv applies to its output, or an elementwise step on its own: an activation, then a
/// clamp (the kernels' epilogue: clamp(activation(x)); Relu and Clip are the clamp alone).
struct Epilogue: Sendable, Equatable {
    enum Activation: Sendable, Equatable {
        case identity
        /// x · clamp(alpha·x + beta, 0, 1); ONNX HardSwish is alpha 1/6, beta 1/2.
        case hardSwish(alpha: Float, beta: Float)
        case hardSigmoid(alpha: Float, beta: Float)
        case sigmoid
        /// x · sigmoid(x), also called Swish.
        case silu
    }

    var activation = Activation.identity
    var min: Float = -.infinity
    var max: Float = .infinity

    static let identity = Epilogue()
    static let relu = Epilogue(min: 0)
    var isIdentity: Bool { self == .identity }

    /// This epilogue followed by `next`, as one, when that exists: at most one activation, and
    /// clamps that meet (clamping to [a, b] then [c, d] is clamping to their overlap, if any).
    func then(_ next: Epilogue) -> Epilogue? {
        guard next.activation == .identity || (activation == .identity && min == -.infinity && max == .infinity) else {
            return nil
        }
        let low = Swift.max(min, next.min), high = Swift.min(max, next.max)
        guard low <= high else { return nil }
        return Epilogue(activation: next.activation == .identity ? activation : next.activation, min: low, max: high)
    }

    /// The operator it stands for, in profiles and messages.
    var name: String {
        switch activation {
        case .identity: min == 0 && max == .infinity ? "Relu" : "Clip"
        case .hardSwish: "HardSwish"
        case .hardSigmoid: "HardSigmoid"
        case .sigmoid: "Sigmoid"
        case .silu: "SiLU"
        }
    }
}

enum BinaryOp: Sendable, Equatable {
    case add, sub, mul, div
}

enum PoolKind: Sendable, Equatable {
    case max
    case average(countIncludePad: Bool)
}

enum PadMode: String, Sendable, Equatable {
    case constant, reflect, edge, wrap
}

enum Op: Sendable, Equatable {
    /// inputs: x, W, B ("" when absent), then an optional fused residual.
    case conv(window: Window, groups: Int, epilogue: Epilogue)
    /// inputs: x, scale, B, mean, var.
    case batchNorm(epsilon: Float)
    /// Relu, Clip (constant bounds), Sigmoid, HardSigmoid, HardSwish, and patterns such as SiLU.
    case unary(Epilogue)
    /// Clip whose bounds are computed at run time: inputs x, min ("" = none), max ("" = none).
    case clip
    case binary(BinaryOp)
    case pool(PoolKind, Window)
    case globalAveragePool
    case concat(axis: Int)
    /// Reshape, Flatten, Squeeze, Unsqueeze, Identity, Dropout: same data, new shape.
    case reshape
    case transpose(perm: [Int])
    /// inputs: A, B, C ("" when absent).
    /// inputs: A, B, C ("" when absent); the epilogue applies to the result (a fused activation).
    case gemm(alpha: Float, beta: Float, transA: Bool, transB: Bool, epilogue: Epilogue)
    /// y = x·scale[c] + shift[c] over axis 1 (a BatchNorm or a chain of per-channel Mul/Add that
    /// no conv could take, such as a model's own input normalisation). inputs: x, scale, shift.
    case channelAffine
    case matMul
    case softmax(axis: Int, coerce2D: Bool)
    case reduceMean(axes: [Int], keepDims: Bool)
    /// pads: begin for every axis, then end for every axis (negative crops); value for .constant.
    case pad(mode: PadMode, pads: [Int], value: Float)
    /// Squeeze-excite on x: x · gate, gate = expand(reduce(mean over H, W of x)), the two being
    /// 1×1 convs with their epilogues. inputs: x, reduce W, reduce B, expand W, expand B.
    case squeezeExcite(reduce: Epilogue, expand: Epilogue)

    var name: String {
        switch self {
        case .conv: "Conv"
        case .batchNorm: "BatchNormalization"
        case let .unary(epilogue): epilogue.name
        case .clip: "Clip"
        case let .binary(b):
            switch b {
            case .add: "Add"
            case .sub: "Sub"
            case .mul: "Mul"
            case .div: "Div"
            }
        case let .pool(kind, _):
            if case .max = kind { "MaxPool" } else { "AveragePool" }
        case .globalAveragePool: "GlobalAveragePool"
        case .concat: "Concat"
        case .reshape: "Reshape"
        case .transpose: "Transpose"
        case .gemm: "Gemm"
        case .channelAffine: "ChannelAffine"
        case .matMul: "MatMul"
        case .softmax: "Softmax"
        case .reduceMean: "ReduceMean"
        case .pad: "Pad"
        case .squeezeExcite: "SqueezeExcite"
        }
    }
}

struct Node: Sendable, Equatable {
    var name: String
    var op: Op
    var inputs: [String]
    var output: String
}

/// A model's computation after import: values have static shapes, constants are known.
struct Graph: Sendable {
    var inputs: [String] = []
    var outputs: [String] = []
    var shapes: [String: [Int]] = [:]
    var constants: [String: Constant] = [:]
    var nodes: [Node] = []

    func shape(_ value: String) -> [Int] { shapes[value]! }

    /// How many nodes (and graph outputs) read each value.
    func useCounts() -> [String: Int] {
        var uses: [String: Int] = [:]
        for node in nodes {
            for input in node.inputs where !input.isEmpty { uses[input, default: 0] += 1 }
        }
        for output in outputs { uses[output, default: 0] += 1 }
        return uses
    }
}

/// The element count of a shape.
func elementCount(_ shape: [Int]) -> Int { shape.reduce(1, *) }
