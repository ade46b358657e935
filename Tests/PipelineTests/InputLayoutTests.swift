// NHWC and non-square models without metadata: JPEG → the model's own layout and size, against Pillow, through the engine.
import Foundation
import GlimpseCore
import GlimpseEngine
@_spi(Testing) import GlimpseImage
import GlimpseTestSupport
import Logging
import Testing

/// A recipe of scripts/make_goldens.py's `RECIPES`, with its Pillow reference tensor per image.
struct Recipe: Decodable, Sendable, CustomTestStringConvertible {
    struct Entry: Decodable, Sendable { var image: String; var tensor: String }
    var name: String
    var height: Int
    var width: Int
    var layout: String
    var resize_ratio: Double
    var mean: [Float]
    var std: [Float]
    var entries: [Entry]
    var testDescription: String { name }

    static let directory = TestData.root.appendingPathComponent("testdata/generated/preprocess")

    /// Every recipe; a missing index is an error, not a skip: scripts/setup (make_goldens.py) writes it.
    static func all() throws -> [Recipe] {
        struct Index: Decodable { var recipes: [Recipe] }
        let url = directory.appendingPathComponent("index.json")
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw MissingReference(path: url.path)
        }
        return try JSONDecoder().decode(Index.self, from: data).recipes
    }

    struct MissingReference: Error, CustomStringConvertible {
        var path: String
        var description: String { "\(path) is missing: run scripts/setup (scripts/make_goldens.py writes it)" }
    }
}

private func floats(_ url: URL) throws -> [Float] {
    let data = try Data(contentsOf: url)
    return data.withUnsafeBytes { b in (0..<(data.count / 4)).map { b.loadUnaligned(fromByteOffset: $0 * 4, as: Float.self) } }
}

/// A log handler that drops everything: the tiny models have no metadata, and their warning is tested elsewhere.
private let quiet = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

@Suite struct InputLayoutTests {
    /// In 0–255 pixel levels (|Δx| × std), as `PillowReferenceTests` (GlimpseImageTests) bounds the square
    /// models' tensors, for the same reasons: decoded whole, our resample is Pillow's to the bit (one level
    /// of slack for a future libjpeg rounding change); where a reduced DCT scale replaces part of the
    /// downscale, pixels differ by a few levels (up to ~50 on edges), so only the mean is bounded.
    static let fullScaleMaxLevels: Float = 1
    static let meanLevelsScaledDecode: Float = 3
    /// The tiny model averages 50–100k floats per channel in FP32, in the engine's order, against a Double
    /// sum here: rounding adds up to ~√n·ε ≈ 2e-5 of values of about 1 in a random walk; 1e-3 (absolute,
    /// on normalized values) leaves room for a sequential sum's drift, and a layout mix-up is off by 0.1 or more.
    static let channelMeanTolerance: Float = 1e-3

    @Test(arguments: try Recipe.all())
    func modelWithoutMetadataGetsThePillowTensorInItsOwnLayoutAndSize(recipe: Recipe) throws {
        let layout = try #require(ImageLayout(parsing: recipe.layout))
        let model = try TinyClassifier.model(height: recipe.height, width: recipe.width, layout: layout, name: recipe.name)
        let info = try ClassifierInfo(model: model, logger: quiet)
        #expect(info.layout == layout && info.inputHeight == recipe.height && info.inputWidth == recipe.width)
        // The reference was made with the defaults a model without metadata gets.
        #expect(info.mean == recipe.mean && info.std == recipe.std && info.resizeRatio == recipe.resize_ratio)
        let preprocessing = Preprocessing(height: info.inputHeight, width: info.inputWidth, layout: info.layout,
                                          resizeRatio: info.resizeRatio, mean: info.mean, std: info.std)
        #expect(preprocessing.outputShape == model.inputs[0].shape)
        let pipeline = ImagePipeline(preprocessing)
        let session = model.makeSession()
        #expect(recipe.entries.count >= 8)
        for entry in recipe.entries {
            let jpeg = try [UInt8](Data(contentsOf: TestData.images.appendingPathComponent(entry.image)))
            let reference = try floats(Recipe.directory.appendingPathComponent(entry.tensor))
            try jpeg.withUnsafeBytes { try pipeline.preprocess(jpeg: $0, into: session.input()) }
            let ours = Array(session.input())
            try #require(ours.count == reference.count)

            let header = try jpeg.withUnsafeBytes { try readJPEGInfo($0) }
            let scale = DCTScale.choose(width: header.width, height: header.height, for: preprocessing)
            var levels: Float = 0, maxLevels: Float = 0
            for (i, (a, b)) in zip(ours, reference).enumerated() {
                let d = abs(a - b) * info.std[layout == .nchw ? i / (ours.count / 3) : i % 3]
                levels += d
                maxLevels = max(maxLevels, d)
            }
            levels /= Float(ours.count)
            print("\(recipe.name)/\(entry.image) decoded at \(scale): mean |diff| \(levels) levels, max \(maxLevels) levels")
            if scale == .full {
                #expect(maxLevels <= Self.fullScaleMaxLevels + 1e-3, "\(recipe.name)/\(entry.image): full decode, max |diff| \(maxLevels) levels")
            } else {
                #expect(levels <= Self.meanLevelsScaledDecode, "\(recipe.name)/\(entry.image) at \(scale): mean |diff| \(levels) levels")
            }

            // The engine reads the tensor in the layout the model declares: its channel means come out.
            session.run()
            let expected = TinyClassifier.channelMeans(ours, layout: layout)
            for (got, want) in zip(Array(session.output()), expected) {
                #expect(abs(got - want) <= Self.channelMeanTolerance, "\(recipe.name)/\(entry.image): logits \(Array(session.output())) vs \(expected)")
            }
        }
    }
}
