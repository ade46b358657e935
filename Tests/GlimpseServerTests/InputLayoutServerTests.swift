// NHWC and non-square models without metadata, served: Classify, ListModels and ModelMetadata say and do the right thing.
import Foundation
import GlimpseClient
import GlimpseCore
import GlimpseEngine
import GlimpseImage
import GlimpseProtocol
import GlimpseServer
import GlimpseTestSupport
import Logging
import Testing

@Suite struct InputLayoutServerTests {
    /// (name, H, W, layout): a tf2onnx-style NHWC model and a non-square NCHW one, neither with glimpse.* metadata.
    static let models: [(name: String, height: Int, width: Int, layout: ImageLayout)] = [
        ("keras_mobilenet_v3_large_nhwc", 224, 224, .nhwc),
        ("wide_240x320", 240, 320, .nchw),
        ("tall_nhwc", 300, 180, .nhwc),
    ]

    /// Probabilities from the server and from the same computation here: the same FP32 tensor through
    /// the same engine, so they agree to rounding.
    static let probabilityTolerance: Float = 1e-6

    @Test func nhwcAndNonSquareModelsClassifyOverTheWireAsTheyDoLocally() async throws {
        let folder = try TinyClassifier.folder(Dictionary(uniqueKeysWithValues: Self.models.map {
            ($0.name, try TinyClassifier.onnx(height: $0.height, width: $0.width, layout: $0.layout))
        }))
        defer { try? FileManager.default.removeItem(at: folder) }
        var configuration = ServerConfiguration.forTests("layouts", models: Self.models.map(\.name), workers: 1)
        configuration.modelsDirectory = folder
        let running = try RunningServer(configuration)
        defer { running.stop() }
        let client = GlimpseClient(url: running.url, timeout: .seconds(20))
        let jpeg = try TestData.image("cat.jpg")

        for spec in Self.models {
            let response = try await client.classify(jpeg: jpeg, model: spec.name, topK: 3)
            // The same JPEG through the pipeline and model here.
            let model = try TinyClassifier.model(height: spec.height, width: spec.width, layout: spec.layout)
            let info = try ClassifierInfo(model: model, logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() })
            let pipeline = ImagePipeline(Preprocessing(height: info.inputHeight, width: info.inputWidth, layout: info.layout,
                                                       resizeRatio: info.resizeRatio, mean: info.mean, std: info.std))
            let outputs = try model.run(["image": Tensor(shape: model.inputs[0].shape, data: pipeline.preprocess(jpeg: [UInt8](jpeg)))])
            let expected = topPredictions(try #require(outputs["logits"]).data, k: 3, labels: [])
            #expect(response.classes.map { Int($0.index) } == expected.map(\.index), "\(spec.name)")
            for (got, want) in zip(response.classes, expected) {
                #expect(abs(got.probability - want.probability) <= Self.probabilityTolerance, "\(spec.name)")
                #expect(got.label.isEmpty, "\(spec.name): a model without labels answers with the index only")
            }
        }

        let list = try await client.listModels()
        for spec in Self.models {
            let summary = try #require(list.models.first { $0.name == spec.name })
            #expect(summary.inputHeight == UInt32(spec.height) && summary.inputWidth == UInt32(spec.width))
            #expect(summary.layout == (spec.layout == .nhwc ? .nhwc : .nchw))
            #expect(summary.inputSize == (spec.height == spec.width ? UInt32(spec.height) : 0), "input_size is the square side, else 0")
            let metadata = try await client.modelMetadata(spec.name)
            #expect(metadata.inputHeight == summary.inputHeight && metadata.inputWidth == summary.inputWidth)
            #expect(metadata.layout == summary.layout && metadata.inputSize == summary.inputSize)
            #expect(metadata.inputs[0].shape == (spec.layout == .nhwc ? [1, spec.height, spec.width, 3] : [1, 3, spec.height, spec.width]).map(Int64.init))
            #expect(metadata.mean == ClassifierInfo.defaultMean && metadata.std == ClassifierInfo.defaultStd && metadata.labelCount == 0)
        }
    }
}
