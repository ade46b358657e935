// Errors the engine reports, each carrying the gRPC status a server answers with.
import GlimpseCore

public enum EngineError: StatusError, Equatable {
    /// A model name that is not loaded; `available` lists what is.
    case modelNotFound(String, available: [String])
    /// The file could not be read or is not a valid ONNX protobuf.
    case unreadableModel(String, reason: String)
    /// An operator the engine has no implementation for.
    case unsupportedOperator(op: String, node: String)
    /// A supported operator used in a way the engine does not implement.
    case unsupportedFeature(node: String, what: String)
    /// The model itself is inconsistent (shapes that do not agree, missing inputs, ...).
    case invalidModel(String)
    /// A caller's tensor does not fit the model's input.
    case invalidInput(String)
    /// A kernel variant this build does not have, or this CPU cannot run.
    case unavailableKernels(String)

    public var status: StatusCode {
        switch self {
        case .modelNotFound: .notFound
        case .unreadableModel, .invalidModel: .failedPrecondition
        case .unsupportedOperator, .unsupportedFeature: .unimplemented
        case .invalidInput: .invalidArgument
        case .unavailableKernels: .failedPrecondition
        }
    }

    public var description: String {
        switch self {
        case let .modelNotFound(name, available):
            "model '\(name)' not found; loaded: \(available.isEmpty ? "none" : available.joined(separator: ", "))"
        case let .unreadableModel(path, reason): "cannot read ONNX model \(path): \(reason)"
        case let .unsupportedOperator(op, node): "unsupported operator \(op) (node '\(node)')"
        case let .unsupportedFeature(node, what): "node '\(node)': \(what) is not supported"
        case let .invalidModel(message): "invalid model: \(message)"
        case let .invalidInput(message): "invalid input: \(message)"
        case let .unavailableKernels(message): message
        }
    }
}
