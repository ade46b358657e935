// JPEG → tensor → logits, against the Pillow reference pipeline and ONNX Runtime.
import Foundation
import GlimpseEngine
import GlimpseImage
import Testing

private let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

private struct Index: Decodable {
    struct Entry: Decodable { var name: String; var input: String; var logits: String; var image: String?; var top5: [Int] }
    var entries: [Entry]
}

private func floats(_ url: URL) throws -> [Float] {
    let data = try Data(contentsOf: url)
    return data.withUnsafeBytes { b in (0..<(data.count / 4)).map { b.loadUnaligned(fromByteOffset: $0 * 4, as: Float.self) } }
}

@Suite struct PipelineTests {
    /// Our decode + resize differs from Pillow's only by rounding (same libjpeg-turbo decode, same
    /// triangle filter), except where a reduced DCT scale replaces part of the downscale: there
    /// the pixels differ by a few levels out of 255 (normalized: 1/128 per level).
    static let meanDiffFullDecode: Float = 0.01
    static let meanDiffScaledDecode: Float = 0.05
    /// Top-1 must agree wherever ONNX Runtime's top-1 leads its runner-up by this much probability.
    static let tieMargin: Float = 0.05

    @Test(arguments: ["lite0", "lite1", "lite2"])
    func pipelineAgreesWithPillowAndOnnxRuntime(model name: String) throws {
        let model = try ModelRepository(directory: root.appendingPathComponent("models")).load(name)
        let info = try ClassifierInfo(model: model)
        let pipeline = ImagePipeline(Preprocessing(height: info.inputHeight, width: info.inputWidth, layout: info.layout,
                                                   resizeRatio: info.resizeRatio, mean: info.mean, std: info.std))
        let session = model.makeSession()
        let goldens = root.appendingPathComponent("models/goldens/\(name)")
        let index = try JSONDecoder().decode(Index.self, from: Data(contentsOf: goldens.appendingPathComponent("index.json")))
        var agree = 0, compared = 0
        var report: [String] = []
        for entry in index.entries {
            guard let image = entry.image else { continue }
            let jpeg = try [UInt8](Data(contentsOf: root.appendingPathComponent("testdata/generated/images/\(image)")))
            let reference = try floats(goldens.appendingPathComponent(entry.input))
            let goldenLogits = try floats(goldens.appendingPathComponent(entry.logits))
            try jpeg.withUnsafeBytes { try pipeline.preprocess(jpeg: $0, into: session.input()) }
            let ours = Array(session.input())
            let meanDiff = zip(ours, reference).map { abs($0 - $1) }.reduce(0, +) / Float(ours.count)
            let size = try readJPEGInfo(jpeg)
            let scaled = DCTScale.choose(width: size.width, height: size.height, for: pipeline.preprocessing) != .full
            #expect(meanDiff <= (scaled ? Self.meanDiffScaledDecode : Self.meanDiffFullDecode),
                    "\(name)/\(entry.name): mean |input diff| \(meanDiff)")
            session.run()
            let top1 = topPredictions(session.output(), k: 1, labels: [])[0].index
            let expected = entry.top5[0]
            compared += 1
            if top1 == expected {
                agree += 1
            } else {
                // Where ONNX Runtime's own top two are within a few points of probability (photos of
                // things ImageNet has no class for), a one-level difference in a pixel may swap them.
                let probabilities = topPredictions(goldenLogits, k: 2, labels: [])
                let margin = probabilities[0].probability - probabilities[1].probability
                #expect(margin < Self.tieMargin,
                        "\(name)/\(entry.name): top-1 \(top1), ONNX Runtime on Pillow's tensor says \(expected) with a \(margin) lead")
            }
            report.append("  \(entry.name): mean |diff| \(String(format: "%.4f", meanDiff)), top-1 \(top1) vs \(expected)")
        }
        #expect(compared >= 8)
        print("pipeline \(name): top-1 agreement \(agree)/\(compared)\n" + report.joined(separator: "\n"))
    }
}

private func readJPEGInfo(_ bytes: [UInt8]) throws -> (width: Int, height: Int) {
    try bytes.withUnsafeBytes { raw in
        let info = try GlimpseImage.readJPEGInfo(raw)
        return (info.width, info.height)
    }
}
