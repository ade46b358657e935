// The glimpse binary as a user runs it: `models` and `classify` on NHWC, non-square and metadata-less models.
import Foundation
import GlimpseTestSupport
import Testing

/// The `glimpse` executable `swift test` built next to this test bundle, run with a folder of tiny models.
struct GlimpseCommand {
    struct Output { var status: Int32; var stdout: String; var stderr: String }

    static let executable: URL? = {
        let bundle = Bundle.main.executableURL ?? URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        let candidate = bundle.deletingLastPathComponent().appendingPathComponent("glimpse")
        return FileManager.default.isExecutableFile(atPath: candidate.path) ? candidate : nil
    }()

    static func run(_ arguments: [String]) throws -> Output {
        let executable = try #require(Self.executable, "no glimpse binary beside the test bundle: swift test builds it with the tests")
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        // stderr is read on another thread while this one reads stdout, so neither full pipe stalls the child.
        let stderrRead = DispatchGroup()
        nonisolated(unsafe) var stderr = Data()
        DispatchQueue.global().async(group: stderrRead) { stderr = err.fileHandleForReading.readDataToEndOfFile() }
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        stderrRead.wait()
        process.waitUntilExit()
        return Output(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                      stderr: String(decoding: stderr, as: UTF8.self))
    }
}

@Suite struct CLITests {
    static let longName = "keras_mobilenet_v3_large_224_nhwc_export"

    /// A folder with a long-named NHWC model and a non-square one (neither with metadata), and a short-named
    /// square one with full metadata.
    static func folder() throws -> URL {
        try TinyClassifier.folder([
            longName: TinyClassifier.onnx(height: 224, width: 224, layout: .nhwc),
            "wide_240x320": TinyClassifier.onnx(height: 240, width: 320, layout: .nchw),
            "sq": TinyClassifier.onnx(height: 96, width: 96, layout: .nchw, metadata: [
                "glimpse.version": "1-test", "glimpse.resize_ratio": "0.875", "glimpse.mean": "127,127,127",
                "glimpse.std": "128,128,128", "glimpse.labels": "red\ngreen\nblue",
            ]),
        ])
    }

    @Test func modelsPrintsWholeNamesAndTheInputsLayoutAndSize() throws {
        let folder = try Self.folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let output = try GlimpseCommand.run(["models", "--models-dir", folder.path])
        #expect(output.status == 0, "\(output.stderr)")
        let lines = output.stdout.split(separator: "\n").map(String.init)
        try #require(lines.count == 4, "\(output.stdout)")
        let header = lines[0]
        let long = try #require(lines.first { $0.hasPrefix(Self.longName + " ") }, "the whole name: \(output.stdout)")
        let wide = try #require(lines.first { $0.hasPrefix("wide_240x320 ") })
        let square = try #require(lines.first { $0.hasPrefix("sq ") })
        // Columns line up whatever the name's length: INPUT starts where each row's input does.
        let inputColumn = try #require(header.range(of: "INPUT")).lowerBound.utf16Offset(in: header)
        #expect(long.dropFirst(inputColumn).hasPrefix("224x224 NHWC "), "\(output.stdout)")
        #expect(wide.dropFirst(inputColumn).hasPrefix("240x320 "), "\(output.stdout)")
        #expect(!wide.contains("NHWC") && !wide.contains("error"))
        #expect(square.dropFirst(inputColumn).hasPrefix("96x96 "), "\(output.stdout)")
        #expect(square.hasSuffix("1-test") && long.hasSuffix("unversioned"))

        // One warning per model without metadata, on standard error; none for the one with it.
        let warnings = output.stderr.split(separator: "\n").filter { $0.contains("warning") }
        #expect(warnings.count == 2, "\(output.stderr)")
        #expect(warnings.contains { $0.contains("'\(Self.longName)' has no glimpse.* metadata") && $0.contains("ImageNet mean") })
        #expect(warnings.contains { $0.contains("'wide_240x320' has no glimpse.* metadata") })
        #expect(!output.stderr.contains("'sq'"))
    }

    @Test func modelsJSONHasHeightWidthAndLayout() throws {
        let folder = try Self.folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let output = try GlimpseCommand.run(["models", "--json", "--models-dir", folder.path])
        #expect(output.status == 0, "\(output.stderr)")
        let entries = try #require(try JSONSerialization.jsonObject(with: Data(output.stdout.utf8)) as? [[String: Any]], "stdout is JSON only")
        let wide = try #require(entries.first { $0["name"] as? String == "wide_240x320" })
        #expect(wide["inputHeight"] as? Int == 240 && wide["inputWidth"] as? Int == 320 && wide["layout"] as? String == "NCHW")
        #expect(wide["inputSize"] == nil, "no single side for a non-square input")
        let long = try #require(entries.first { $0["name"] as? String == Self.longName })
        #expect(long["layout"] as? String == "NHWC" && long["inputSize"] as? Int == 224 && long["classes"] as? Int == 0)
    }

    @Test(arguments: [longName, "wide_240x320"])
    func classifyShowsTheIndexOnlyForAModelWithoutLabels(model: String) throws {
        let folder = try Self.folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let cat = TestData.images.appendingPathComponent("cat.jpg").path
        let text = try GlimpseCommand.run(["classify", "--models-dir", folder.path, "--model", model, "--top", "3", cat])
        #expect(text.status == 0, "\(text.stderr)")
        let lines = text.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 4 && lines[0] == cat, "\(text.stdout)")
        for line in lines.dropFirst() {
            // "   36.1%     2": probability and index, nothing after.
            let fields = line.split(separator: " ")
            #expect(fields.count == 2 && fields[0].hasSuffix("%") && ["0", "1", "2"].contains(fields[1]), "\(line)")
        }
        #expect(text.stderr.split(separator: "\n").filter { $0.contains("no glimpse.* metadata") }.count == 1, "\(text.stderr)")

        let json = try GlimpseCommand.run(["classify", "--json", "--models-dir", folder.path, "--model", model, cat])
        #expect(json.status == 0, "\(json.stderr)")
        let results = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]], "stdout is JSON only")
        let predictions = try #require(results.first?["predictions"] as? [[String: Any]])
        #expect(predictions.count == 3 && predictions.allSatisfy { $0["label"] as? String == "" })
    }
}
