// Locates the repository's generated models, goldens and test images for the engine tests.
import Foundation
import GlimpseEngine

enum Fixtures {
    /// The repository root, found from this file's path.
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let models = root.appendingPathComponent("models")
    static let modelNames = ["lite0", "lite1", "lite2"]

    struct MissingFixture: Error, CustomStringConvertible {
        var path: String
        var description: String { "\(path) is missing: run scripts/setup first (it converts the models and writes the goldens)" }
    }

    static func data(_ url: URL) throws -> Data {
        guard let data = FileManager.default.contents(atPath: url.path) else { throw MissingFixture(path: url.path) }
        return data
    }

    /// Raw little-endian float32, as the golden scripts write them.
    static func floats(_ url: URL) throws -> [Float] {
        let data = try data(url)
        return data.withUnsafeBytes { bytes in
            (0..<(data.count / 4)).map { bytes.loadUnaligned(fromByteOffset: $0 * 4, as: Float.self) }
        }
    }

    /// Loaded models are shared across tests: loading packs every weight once.
    private static let cache = ModelCache()

    /// The model compiled for `kernels` (nil: the default variant).
    static func model(_ name: String, kernels: String? = nil) throws -> Model {
        try cache.model("\(name)/\(kernels ?? "default")") {
            var options = LoadOptions()
            options.kernels = kernels
            return try Model(contentsOf: models.appendingPathComponent("\(name).onnx"), options: options)
        }
    }

    /// Every kernel variant this CPU runs.
    static let variants = KernelVariants.all.filter(\.supported).map(\.name)

    struct GoldenIndex: Decodable {
        struct Entry: Decodable {
            var name: String
            var input: String
            var logits: String
            var image: String?
            var top5: [Int]
        }
        var model: String
        var input_size: Int
        var entries: [Entry]
    }

    static func goldens(_ model: String) throws -> GoldenIndex {
        try JSONDecoder().decode(GoldenIndex.self, from: data(models.appendingPathComponent("goldens/\(model)/index.json")))
    }
}

private final class ModelCache: @unchecked Sendable {
    private let lock = NSLock()
    private var models: [String: Model] = [:]

    func model(_ name: String, load: () throws -> Model) throws -> Model {
        lock.lock()
        defer { lock.unlock() }
        if let model = models[name] { return model }
        let model = try load()
        models[name] = model
        return model
    }
}

/// Indices of the k largest values, largest first.
func topK(_ values: some Collection<Float>, _ k: Int) -> [Int] {
    Array(values.enumerated().sorted { $0.element > $1.element }.prefix(k).map(\.offset))
}
