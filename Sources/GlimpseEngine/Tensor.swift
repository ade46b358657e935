// Tensors at the engine's boundary, and the decoding of ONNX TensorProto constants.
import Foundation

/// A float32 tensor in ONNX's logical layout (row-major, NCHW for images).
public struct Tensor: Sendable, Equatable {
    public var shape: [Int]
    public var data: [Float]

    public init(shape: [Int], data: [Float]) {
        precondition(shape.reduce(1, *) == data.count, "shape \(shape) does not hold \(data.count) values")
        self.shape = shape
        self.data = data
    }

    public init(zeros shape: [Int]) {
        self.init(shape: shape, data: [Float](repeating: 0, count: shape.reduce(1, *)))
    }
}

/// A constant known when the model loads: an initializer, a Constant node, a bound input,
/// or a folded result. Shape arithmetic needs integers, so int64 is kept apart from float.
struct Constant: Sendable, Equatable {
    enum Values: Sendable, Equatable {
        case float([Float])
        case int64([Int64])
    }

    var shape: [Int]
    var values: Values

    init(shape: [Int], values: Values) {
        self.shape = shape
        self.values = values
    }

    init(_ tensor: Tensor) {
        self.init(shape: tensor.shape, values: .float(tensor.data))
    }

    var count: Int { shape.reduce(1, *) }

    /// The values as floats (int64 converted), for ops that compute in float.
    var floats: [Float] {
        switch values {
        case let .float(f): f
        case let .int64(i): i.map { Float($0) }
        }
    }

    /// The values as integers, for shapes, axes and indices; nil for float data.
    var ints: [Int]? {
        if case let .int64(i) = values { return i.map { Int($0) } }
        return nil
    }
}

extension Constant {
    /// Decodes an ONNX tensor. Only float and integer element types are accepted;
    /// `what` names the tensor in errors.
    init(proto: Onnx_TensorProto, what: String) throws(EngineError) {
        let shape = proto.dims.map { Int($0) }
        guard shape.allSatisfy({ $0 >= 0 }) else {
            throw .invalidModel("tensor '\(what)' has a negative dimension \(shape)")
        }
        let count = shape.reduce(1, *)
        if proto.dataLocation == .external || !proto.externalData.isEmpty {
            throw .unsupportedFeature(node: what, what: "external tensor data")
        }
        let raw = proto.rawData
        func fromRaw<T>(_ type: T.Type) throws(EngineError) -> [T] {
            guard raw.count == count * MemoryLayout<T>.size else {
                throw .invalidModel("tensor '\(what)' has \(raw.count) raw bytes for \(count) values")
            }
            return raw.withUnsafeBytes { bytes in
                (0..<count).map { bytes.loadUnaligned(fromByteOffset: $0 * MemoryLayout<T>.size, as: T.self) }
            }
        }
        func checkCount(_ n: Int) throws(EngineError) {
            guard n == count else { throw .invalidModel("tensor '\(what)' has \(n) values for shape \(shape)") }
        }
        switch Onnx_TensorProto.DataType(rawValue: Int(proto.dataType)) {
        case .float:
            let values = raw.isEmpty ? proto.floatData : try fromRaw(Float.self)
            try checkCount(values.count)
            self.init(shape: shape, values: .float(values))
        case .double:
            let values = raw.isEmpty ? proto.doubleData : try fromRaw(Double.self)
            try checkCount(values.count)
            self.init(shape: shape, values: .float(values.map { Float($0) }))
        case .int64:
            let values = raw.isEmpty ? proto.int64Data : try fromRaw(Int64.self)
            try checkCount(values.count)
            self.init(shape: shape, values: .int64(values))
        case .int32:
            let values = raw.isEmpty ? proto.int32Data : try fromRaw(Int32.self)
            try checkCount(values.count)
            self.init(shape: shape, values: .int64(values.map { Int64($0) }))
        default:
            let name = Onnx_TensorProto.DataType(rawValue: Int(proto.dataType)).map { "\($0)" } ?? "\(proto.dataType)"
            throw .unsupportedFeature(node: what, what: "element type \(name)")
        }
    }
}

extension Tensor {
    /// Reads a serialized ONNX TensorProto (the backend test suites' `input_0.pb` files).
    public init(serializedTensorProto data: Data) throws(EngineError) {
        let proto: Onnx_TensorProto
        do { proto = try Onnx_TensorProto(serializedBytes: data) } catch {
            throw .invalidInput("not a TensorProto: \(error)")
        }
        let constant = try Constant(proto: proto, what: proto.name)
        self.init(shape: constant.shape, data: constant.floats)
    }
}
