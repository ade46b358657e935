// The engine against ONNX Runtime: same ONNX file, same input tensor, logits compared.
import Foundation
import GlimpseEngine
import Testing

/// ONNX Runtime and Glimpse sum the same products in different orders (and Glimpse folds
/// BatchNorm into the weights first), so logits differ by float32 rounding: the issue's
/// bound, 1e-3 absolute on logits of magnitude ~10, is about 100× what we see.
let logitTolerance: Float = 1e-3

@Suite struct GoldenTests {
    @Test(arguments: Fixtures.modelNames, Fixtures.variants)
    func logitsMatchOnnxRuntime(model name: String, kernels: String) throws {
        let model = try Fixtures.model(name, kernels: kernels)
        #expect(model.kernelVariant == kernels)
        let index = try Fixtures.goldens(name)
        let session = model.makeSession()
        #expect(model.inputs[0].shape == [1, 3, index.input_size, index.input_size])
        var worst: Float = 0
        for entry in index.entries {
            let dir = Fixtures.models.appendingPathComponent("goldens/\(name)")
            let input = try Fixtures.floats(dir.appendingPathComponent(entry.input))
            let expected = try Fixtures.floats(dir.appendingPathComponent(entry.logits))
            _ = session.input().update(from: input)
            session.run()
            let logits = Array(session.output())
            #expect(logits.count == expected.count)
            let diff = zip(logits, expected).map { abs($0 - $1) }.max() ?? .infinity
            worst = max(worst, diff)
            #expect(diff <= logitTolerance, "\(name)/\(entry.name) on \(kernels): max |logit diff| \(diff)")
            // Same top-5 order, except where two golden logits are closer than the tolerance allows us to order.
            let ours = topK(logits, 5)
            for (rank, (a, b)) in zip(ours, entry.top5).enumerated() where a != b {
                #expect(abs(expected[a] - expected[b]) <= 2 * logitTolerance,
                        "\(name)/\(entry.name): rank \(rank) is class \(a), ONNX Runtime says \(b)")
            }
        }
        print("golden \(name) on \(kernels): \(index.entries.count) inputs, max |logit diff| \(worst)")
    }

    @Test func unknownOrUnrunnableVariantsAreClearErrors() throws {
        var options = LoadOptions()
        options.kernels = "sse9"
        let url = Fixtures.models.appendingPathComponent("lite0.onnx")
        let error = #expect(throws: EngineError.self) { try Model(contentsOf: url, options: options) }
        #expect(error?.status == .failedPrecondition)
        let listed = KernelVariants.all.map(\.name).joined(separator: ", ")
        #expect(error?.description == "unknown kernel variant 'sse9'; this build has: \(listed)")
        for variant in KernelVariants.all where !variant.supported {
            options.kernels = variant.name
            let error = #expect(throws: EngineError.self) { try Model(contentsOf: url, options: options) }
            #expect(error?.description.contains("needs CPU features this machine lacks") == true)
        }
    }

    @Test(arguments: [1, 2, 3])
    func threadsSplitRowsWithoutChangingResults(threads: Int) throws {
        let model = try Fixtures.model("lite0")
        let input = try Fixtures.floats(Fixtures.models.appendingPathComponent("goldens/lite0/cat.input.f32"))
        let one = model.makeSession(), many = model.makeSession(threads: threads)
        _ = one.input().update(from: input)
        _ = many.input().update(from: input)
        one.run()
        many.run()
        // Each output row is computed by exactly one thread, with the same code: bit-identical.
        #expect(Array(one.output()) == Array(many.output()))
    }

    @Test(arguments: Fixtures.modelNames, [1, 2])
    func fusedExpansionsGiveTheSameBitsAsSeparateSteps(name: String, threads: Int) throws {
        let fused = try Fixtures.model(name)
        var options = LoadOptions()
        options.fuseExpandDepthwise = false
        let apart = try Model(contentsOf: Fixtures.models.appendingPathComponent("\(name).onnx"), options: options)
        // Lite0's first two big expansions (112²×96, 56²×144) and their like in the larger models.
        #expect(fused.fusedExpansions >= 2)
        #expect(apart.fusedExpansions == 0)
        #expect(fused.arenaBytes < apart.arenaBytes, "fused \(fused.arenaBytes) B, apart \(apart.arenaBytes) B")
        let input = try Fixtures.floats(Fixtures.models.appendingPathComponent("goldens/\(name)/cat.input.f32"))
        let a = fused.makeSession(threads: threads), b = apart.makeSession(threads: threads)
        _ = a.input().update(from: input)
        _ = b.input().update(from: input)
        a.run()
        b.run()
        #expect(Array(a.output()) == Array(b.output()))
    }

    @Test func catIsClassifiedAsACat() throws {
        let model = try Fixtures.model("lite0")
        let dir = Fixtures.models.appendingPathComponent("goldens/lite0")
        let input = try Fixtures.floats(dir.appendingPathComponent("cat.input.f32"))
        let logits = try model.run([model.inputs[0].name: Tensor(shape: model.inputs[0].shape, data: input)])
        let top1 = topK(logits[model.outputs[0].name]!.data, 1)[0]
        #expect((281...285).contains(top1), "top-1 class \(top1) is not a cat")
    }

    @Test func arenaReusesMemoryOfDeadTensors() throws {
        let model = try Fixtures.model("lite0")
        // Lite0's intermediate tensors add up to ~28 MB; with the big expansions fused (they need
        // no buffer) the largest pair alive at once is a 112×112×32 conv's input and output, 3.2 MB.
        #expect(model.arenaBytes * 4 < model.unsharedBytes, "arena \(model.arenaBytes) B, unshared \(model.unsharedBytes) B")
        #expect(model.arenaBytes < 4 * 1 << 20)
        print("lite0 arena \(model.arenaBytes) bytes; without reuse \(model.unsharedBytes) bytes")
    }

    @Test func batchNormIsFoldedAndClampsAreFused() throws {
        let model = try Fixtures.model("lite0")
        // Every Conv+BN(+Clip)(+Add) chain is one conv step; what is left is the pooling and the classifier.
        #expect(model.nodeCount.compiled < model.nodeCount.imported / 2,
                "imported \(model.nodeCount.imported) nodes, compiled \(model.nodeCount.compiled)")
        #expect(model.convolutionKernels.count == model.nodeCount.compiled - 2) // all but GlobalAveragePool and Flatten
    }
}
