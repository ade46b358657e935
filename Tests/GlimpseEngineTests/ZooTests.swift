// Exporter-style models (scripts/make_zoo_models.py: PyTorch and tf2onnx graphs of MobileNetV2/V3,
// ResNet, SqueezeNet, EfficientNet-B0) load unmodified and agree with ONNX Runtime.
import Foundation
import GlimpseCore
import GlimpseEngine
import Testing

/// These models carry seeded random weights, so their logits are not ImageNet-sized: the bound is
/// relative to the largest golden logit. Float32 sums in another order (and folded BatchNorm,
/// Pad and Mul/Add) differ by ~1e-6 relative per layer; 50 layers stay far below 1e-3.
let zooRelativeTolerance: Float = 1e-3

@Suite struct ZooTests {
    static let directory = Fixtures.models.appendingPathComponent("zoo")

    /// Every model the script wrote (it writes at least the ones named in the issue).
    static let names: [String] = {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return files.filter { $0.hasSuffix(".onnx") }.map { String($0.dropLast(5)) }.sorted()
    }()

    /// Step kinds that should never run on their own in an ordinary CNN.
    static let foldable: Set<String> = ["Pad", "Relu", "Clip", "Sigmoid", "HardSigmoid", "HardSwish",
                                        "SiLU", "add", "sub", "mul", "div"]

    struct Index: Decodable {
        struct Entry: Decodable { var name: String, input: String, logits: String }
        var model: String
        var input_shape: [Int]
        var entries: [Entry]
    }

    @Test func theZooIsThere() {
        for expected in ["mobilenetv2_pt", "mobilenetv2_tf", "mobilenetv3_small_pt", "mobilenetv3_large_pt",
                         "resnet18_pt", "squeezenet11_pt", "efficientnet_b0_pt", "efficientnet_b0_tf"] {
            #expect(Self.names.contains(expected), "models/zoo/\(expected).onnx is missing: run scripts/setup")
        }
    }

    @Test(arguments: names, Fixtures.variants)
    func exportedModelsMatchOnnxRuntime(model name: String, kernels: String) throws {
        var options = LoadOptions()
        options.kernels = kernels
        let model = try Model(contentsOf: Self.directory.appendingPathComponent("\(name).onnx"), options: options)
        let dir = Self.directory.appendingPathComponent("goldens/\(name)")
        let index = try JSONDecoder().decode(Index.self, from: Fixtures.data(dir.appendingPathComponent("index.json")))
        #expect(model.inputs[0].shape.dropFirst() == index.input_shape.dropFirst())
        let session = model.makeSession()
        var worst: Float = 0
        for entry in index.entries {
            let input = try Fixtures.floats(dir.appendingPathComponent(entry.input))
            let expected = try Fixtures.floats(dir.appendingPathComponent(entry.logits))
            _ = session.input().update(from: input)
            session.run()
            let logits = Array(session.output())
            #expect(logits.count == expected.count)
            let scale = max(1, expected.map(abs).max() ?? 1)
            let diff = zip(logits, expected).map { abs($0 - $1) }.max() ?? .infinity
            worst = max(worst, diff / scale)
            #expect(diff <= zooRelativeTolerance * scale, "\(name)/\(entry.name) on \(kernels): max |diff| \(diff), largest logit \(scale)")
        }
        if !name.hasPrefix("pad_") {
            // Exporters' BatchNorm-as-Mul/Add, Pads, decomposed activations and squeeze-excite gates
            // all fold into convs and squeeze-excite steps: nothing elementwise is left to run alone.
            let loose = model.stepKinds.filter { Self.foldable.contains($0) }
            #expect(loose.isEmpty, "\(name): steps left unfused: \(loose)")
        }
        print("zoo \(name) on \(kernels): \(index.entries.count) inputs, max |diff| / max |logit| \(worst), \(model.nodeCount.imported) -> \(model.nodeCount.compiled) nodes")
    }

    /// A squeeze-excite gate taken into the next 1×1 conv's weights gives what scaling the image does,
    /// image by image in a batch of two, with one thread or two.
    @Test(arguments: ["efficientnet_b0_pt", "efficientnet_b0_tf", "mobilenetv3_large_pt"], [1, 2])
    func gatesTakenIntoWeightsMatchScaledImages(model name: String, threads: Int) throws {
        let url = Self.directory.appendingPathComponent("\(name).onnx")
        var options = LoadOptions()
        let gated = try Model(contentsOf: url, options: options)
        options.fuseGateIntoConv = false
        let scaled = try Model(contentsOf: url, options: options)
        #expect(scaled.gatedConvs == 0)
        if name.hasPrefix("efficientnet") {
            // B0's SE blocks at 112², 56² and 28² have at least 8 pixels per output channel.
            #expect(gated.gatedConvs == 5, "\(name): \(gated.gatedConvs) gated convs")
        }
        var batchShape = gated.inputs[0].shape
        batchShape[0] = 2
        options = LoadOptions()
        options.inputShapes[gated.inputs[0].name] = batchShape
        let batched = try Model(contentsOf: url, options: options)
        #expect(batched.gatedConvs == gated.gatedConvs)

        var generator = SplitMix64(seed: 11)
        let count = gated.inputs[0].shape.reduce(1, *)
        let images = (0..<2).map { _ in (0..<count).map { _ in Float(generator.next() % 2001) / 1000 - 1 } }
        let batchSession = batched.makeSession(threads: threads)
        _ = batchSession.input().update(from: images[0] + images[1])
        batchSession.run()
        let batchLogits = Array(batchSession.output())
        for (i, image) in images.enumerated() {
            var logits: [[Float]] = []
            for model in [gated, scaled] {
                let session = model.makeSession(threads: threads)
                _ = session.input().update(from: image)
                session.run()
                logits.append(Array(session.output()))
            }
            let scale = max(1, logits[1].map(abs).max() ?? 1)
            let fromBatch = Array(batchLogits[(i * logits[0].count)..<((i + 1) * logits[0].count)])
            for candidate in [logits[0], fromBatch] {
                let diff = zip(candidate, logits[1]).map { abs($0 - $1) }.max() ?? .infinity
                #expect(diff <= 1e-5 * scale, "\(name) image \(i), \(threads) threads: max |diff| \(diff), largest logit \(scale)")
            }
        }
    }
}
