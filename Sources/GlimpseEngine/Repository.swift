// The models folder: which models exist, loading one by name, and what a classifier says about itself.
import Foundation

/// A classifier's description, from its ONNX `glimpse.*` metadata (written by scripts/convert_models.py),
/// with the input size taken from the graph when the metadata does not say.
public struct ClassifierInfo: Sendable, Equatable {
    public var name: String
    public var version: String
    /// Square input side S; the model takes [1, 3, S, S].
    public var inputSize: Int
    /// The short side is resized to S / resizeRatio before the centre crop.
    public var resizeRatio: Double
    public var mean: [Float]
    public var std: [Float]
    /// Class names by index; empty when the model carries none.
    public var labels: [String]

    public init(model: Model) throws(EngineError) {
        let meta = model.metadata
        guard let input = model.inputs.first, input.shape.count == 4, input.shape[1] == 3, input.shape[2] == input.shape[3] else {
            throw .invalidModel("'\(model.name)' does not take one [N, 3, S, S] image; its inputs are \(model.inputs.map(\.shape))")
        }
        func floats(_ key: String, _ fallback: [Float]) throws(EngineError) -> [Float] {
            guard let text = meta[key] else { return fallback }
            let values = text.split(separator: ",").compactMap { Float($0.trimmingCharacters(in: .whitespaces)) }
            guard values.count == 3 else { throw .invalidModel("'\(model.name)': \(key) must be three numbers, is '\(text)'") }
            return values
        }
        name = meta["glimpse.name"] ?? model.name
        version = meta["glimpse.version"] ?? "unversioned"
        inputSize = input.shape[2]
        if let declared = meta["glimpse.input_size"], Int(declared) != inputSize {
            throw .invalidModel("'\(model.name)': metadata says input size \(declared), the graph takes \(inputSize)")
        }
        resizeRatio = meta["glimpse.resize_ratio"].flatMap(Double.init) ?? 0.875
        mean = try floats("glimpse.mean", [127, 127, 127])
        std = try floats("glimpse.std", [128, 128, 128])
        labels = meta["glimpse.labels"].map { $0.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) } ?? []
        if !labels.isEmpty, let classes = model.outputs.first.map({ elementCount($0.shape) }), labels.count != classes {
            throw .invalidModel("'\(model.name)' has \(labels.count) labels for \(classes) outputs")
        }
    }
}

/// A folder of `<name>.onnx` files.
public struct ModelRepository: Sendable {
    public let directory: URL

    public init(directory: URL) { self.directory = directory }

    /// The folder named by GLIMPSE_MODELS, else ./models.
    public static var standard: ModelRepository {
        ModelRepository(directory: URL(fileURLWithPath: ProcessInfo.processInfo.environment["GLIMPSE_MODELS"] ?? "models"))
    }

    /// Model names, sorted.
    public func names() -> [String] {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return files.filter { $0.hasSuffix(".onnx") }.map { String($0.dropLast(5)) }.sorted()
    }

    /// Loads `name`; a name that is not a file in the folder (or tries to leave it) is `modelNotFound`.
    public func load(_ name: String, options: LoadOptions = LoadOptions()) throws(EngineError) -> Model {
        let available = names()
        guard available.contains(name) else { throw .modelNotFound(name, available: available) }
        return try Model(contentsOf: directory.appendingPathComponent("\(name).onnx"), name: name, options: options)
    }
}
