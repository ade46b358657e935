// The models folder: which models exist, loading one by name, and what a classifier says about itself.
import Foundation
import GlimpseCore
import Logging

/// A classifier's description: the input's layout and size from the graph, the rest from its ONNX
/// `glimpse.*` metadata (written by scripts/convert_models.py), or defaults where a key is missing.
///
/// The input is one 4-D RGB image, [N, 3, H, W] (NCHW, ONNX's convention) or [N, H, W, 3] (NHWC, what
/// tf2onnx exports from Keras unless told otherwise). The layout is read from where the 3 is: on axis 1
/// NCHW, on axis 3 NHWC. When both could be (a 3-pixel side), `glimpse.layout` decides, else NCHW;
/// when the graph does decide, `glimpse.layout` must agree with it.
///
/// Metadata keys (`metadata_props` of the ONNX file), all optional:
/// - `glimpse.name`, `glimpse.version`: how the server names and versions the model;
/// - `glimpse.input_size`: `S` (S×S) or `HxW`; checked against the graph, which is what counts;
/// - `glimpse.layout`: `NCHW` or `NHWC`;
/// - `glimpse.resize_ratio`: the crop's share of the resized image, in (0, 1];
/// - `glimpse.mean`, `glimpse.std`: three numbers each, per RGB channel, on 0–255 pixel values;
/// - `glimpse.labels`: class names, one per line, as many as the model has outputs.
public struct ClassifierInfo: Sendable, Equatable {
    public var name: String
    public var version: String
    /// How the input image's axes are ordered.
    public var layout: ImageLayout
    /// Rows of the input image (H).
    public var inputHeight: Int
    /// Columns of the input image (W).
    public var inputWidth: Int
    /// The resized image is round(H / resizeRatio) × round(W / resizeRatio) (or more along one axis, keeping
    /// the aspect ratio) before the centre crop.
    public var resizeRatio: Double
    public var mean: [Float]
    public var std: [Float]
    /// Class names by index; empty when the model carries none (predictions then show the index only).
    public var labels: [String]
    /// The metadata keys that were missing and got a default, as the load warning names them; empty when
    /// the metadata says everything. (`glimpse.name` and `glimpse.version` are not listed: their fallbacks,
    /// the file name and "unversioned", change no answer.)
    public var defaults: [Default]

    /// A metadata key that was missing, and what stands in for it.
    public struct Default: Sendable, Equatable {
        public var key: String
        public var used: String
    }

    /// Mean and std for a model that does not give them: ImageNet's per-channel statistics, on 0–255 RGB.
    /// A classifier exported to ONNX without our metadata most likely comes from torchvision or timm (or
    /// Keras's `preprocess_input(mode="torch")` models), which all normalise 0–1 input with mean
    /// (0.485, 0.456, 0.406) and std (0.229, 0.224, 0.225): ×255 here, since our pixels are 0–255.
    /// EfficientNet-Lite's 127/128 (the previous default) is right only for the models
    /// scripts/convert_models.py writes, and those carry it in their metadata. Models that want [-1, 1]
    /// (Keras mode "tf": mean 127.5, std 127.5) or raw 0–255 (Keras EfficientNet normalises in the graph:
    /// mean 0, std 1) must say so in `glimpse.mean` / `glimpse.std`; the load warning names what was assumed.
    public static let defaultMean: [Float] = [123.675, 116.28, 103.53]
    public static let defaultStd: [Float] = [58.395, 57.12, 57.375]
    /// torchvision's and Keras's evaluation crop: resize to 256, keep the centre 224.
    public static let defaultResizeRatio = 0.875

    /// Reads `model`'s input and metadata; a model that is not an RGB image classifier is `invalidModel`
    /// (it can still serve Infer). When metadata keys are missing it logs one warning on `logger` naming
    /// the defaults used.
    public init(model: Model, logger: Logger = Logger(label: "glimpse.engine")) throws(EngineError) {
        let meta = model.metadata
        let modelName = model.name
        guard let input = model.inputs.first, input.shape.count == 4 else {
            throw .invalidModel("'\(modelName)' does not take one 4-D image ([N, 3, H, W] or [N, H, W, 3]); its inputs are \(model.inputs.map(\.shape))")
        }
        let shape = input.shape
        var defaulted: [Default] = []

        // Layout: where the channel axis is.
        var declaredLayout: ImageLayout?
        if let text = meta["glimpse.layout"] {
            guard let parsed = ImageLayout(parsing: text) else {
                throw .invalidModel("'\(modelName)': glimpse.layout must be NCHW or NHWC, is '\(text)'")
            }
            declaredLayout = parsed
        }
        let channelsFirst = shape[1] == 3 || shape[1] == 1, channelsLast = shape[3] == 3 || shape[3] == 1
        switch (channelsFirst, channelsLast) {
        case (true, false): layout = .nchw
        case (false, true): layout = .nhwc
        case (true, true):
            layout = declaredLayout ?? .nchw
            if declaredLayout == nil { defaulted.append(Default(key: "glimpse.layout", used: "NCHW (the input \(shape) could be either)")) }
        case (false, false):
            throw .invalidModel("'\(modelName)' does not take an image: its input \(shape) has 3 (or 1) channels neither on axis 1 (NCHW) nor on axis 3 (NHWC)")
        }
        if let declaredLayout, declaredLayout != layout {
            throw .invalidModel("'\(modelName)': glimpse.layout says \(declaredLayout), the graph's input \(shape) is \(layout)")
        }
        let channels: Int
        (channels, inputHeight, inputWidth) = layout == .nchw ? (shape[1], shape[2], shape[3]) : (shape[3], shape[1], shape[2])
        guard channels == 3 else {
            throw .invalidModel("'\(modelName)' takes \(channels)-channel images (input \(shape)); the image pipeline makes RGB only, so use Infer")
        }
        guard inputHeight > 0, inputWidth > 0 else {
            throw .invalidModel("'\(modelName)': input \(shape) has an empty image side")
        }
        if let declared = meta["glimpse.input_size"] {
            guard let size = Self.parseSize(declared) else {
                throw .invalidModel("'\(modelName)': glimpse.input_size must be S or HxW, is '\(declared)'")
            }
            guard size == (inputHeight, inputWidth) else {
                throw .invalidModel("'\(modelName)': metadata says input size \(declared), the graph takes \(Self.sizeText(inputHeight, inputWidth)) (\(layout) \(shape))")
            }
        }

        func floats(_ key: String, _ fallback: [Float]) throws(EngineError) -> [Float] {
            guard let text = meta[key] else {
                defaulted.append(Default(key: key, used: fallback.map { "\($0)" }.joined(separator: ",")))
                return fallback
            }
            let values = text.split(separator: ",").compactMap { Float($0.trimmingCharacters(in: .whitespaces)) }
            guard values.count == 3, values.allSatisfy(\.isFinite) else {
                throw .invalidModel("'\(modelName)': \(key) must be three numbers, is '\(text)'")
            }
            return values
        }
        name = meta["glimpse.name"] ?? modelName
        version = meta["glimpse.version"] ?? "unversioned"
        if let text = meta["glimpse.resize_ratio"] {
            guard let ratio = Double(text.trimmingCharacters(in: .whitespaces)), ratio > 0, ratio <= 1 else {
                throw .invalidModel("'\(modelName)': glimpse.resize_ratio must be a number in (0, 1], is '\(text)'")
            }
            resizeRatio = ratio
        } else {
            resizeRatio = Self.defaultResizeRatio
            defaulted.append(Default(key: "glimpse.resize_ratio", used: "\(Self.defaultResizeRatio)"))
        }
        mean = try floats("glimpse.mean", Self.defaultMean)
        std = try floats("glimpse.std", Self.defaultStd)
        guard !std.contains(0) else { throw .invalidModel("'\(modelName)': glimpse.std has a zero") }
        if let text = meta["glimpse.labels"] {
            labels = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        } else {
            labels = []
            defaulted.append(Default(key: "glimpse.labels", used: "none (predictions show the class index only)"))
        }
        if !labels.isEmpty, let classes = model.outputs.first.map({ elementCount($0.shape) }), labels.count != classes {
            throw .invalidModel("'\(modelName)' has \(labels.count) labels for \(classes) outputs")
        }
        defaults = defaulted
        if let warning = Self.defaultsWarning(defaulted, model: modelName, metadata: meta) {
            logger.warning("\(warning)", metadata: ["model": "\(modelName)"])
        }
    }

    /// "224x224", "240x320" (H×W), with " NHWC" after it for NHWC inputs: how the CLI and the server's
    /// listings show the input.
    public var inputDescription: String {
        Self.sizeText(inputHeight, inputWidth) + (layout == .nhwc ? " NHWC" : "")
    }

    private static func sizeText(_ height: Int, _ width: Int) -> String { "\(height)x\(width)" }

    /// "S" → (S, S); "HxW" (or "H×W") → (H, W).
    static func parseSize(_ text: String) -> (Int, Int)? {
        let parts = text.lowercased().split(omittingEmptySubsequences: false, whereSeparator: { $0 == "x" || $0 == "×" })
            .map { Int($0.trimmingCharacters(in: .whitespaces)) }
        switch parts.count {
        case 1: if let s = parts[0], s > 0 { return (s, s) }
        case 2: if let h = parts[0], let w = parts[1], h > 0, w > 0 { return (h, w) }
        default: break
        }
        return nil
    }

    /// The one warning a model with missing keys loads with: which keys, and what stands in for them.
    private static func defaultsWarning(_ defaulted: [Default], model: String, metadata: [String: String]) -> String? {
        guard !defaulted.isEmpty else { return nil }
        let hasAny = metadata.keys.contains { $0.hasPrefix("glimpse.") }
        let what = hasAny ? "lacks \(defaulted.map(\.key).joined(separator: ", "))" : "has no glimpse.* metadata"
        let used = defaulted.map { key -> String in
            switch key.key {
            case "glimpse.mean": "ImageNet mean \(key.used)"
            case "glimpse.std": "ImageNet std \(key.used)"
            case "glimpse.resize_ratio": "resize ratio \(key.used)"
            case "glimpse.labels": "labels \(key.used)"
            case "glimpse.layout": "layout \(key.used)"
            default: "\(key.key) \(key.used)"
            }
        }
        return "model '\(model)' \(what); using defaults: \(used.joined(separator: "; ")) (set glimpse.* in the ONNX file's metadata_props to override)"
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
