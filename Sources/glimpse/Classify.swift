// `glimpse classify`: JPEG files → top classes, on this machine.
import ArgumentParser
import Foundation
import GlimpseClient
import GlimpseEngine
import GlimpseImage

struct Classify: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Classify JPEG images with a local model, or on a server with --server.",
        discussion: "Prints the top classes of each image: label, class index and probability.")

    @Option(name: .shortAndLong, help: "Model name: a <name>.onnx file in the models folder.")
    var model = "lite0"

    @Option(help: "How many classes to print per image.")
    var top = 5

    @Flag(help: "Print JSON instead of text.")
    var json = false

    @Option(help: "A Glimpse server's URL (tcp://HOST:PORT or ipc:///path): classify there instead of here.")
    var server: String?

    @Option(help: "Seconds to wait for each reply from --server.")
    var timeout: Double = 10

    @Flag(name: .customLong("no-cache"), help: "Ask --server to compute afresh rather than answer from its result cache.")
    var noCache = false

    @OptionGroup var folder: ModelFolderOptions

    @OptionGroup var engine: EngineOptions

    @Argument(help: "JPEG files.")
    var images: [String]

    func validate() throws {
        guard top >= 1 else { throw ValidationError("--top must be at least 1") }
        guard !images.isEmpty else { throw ValidationError("name at least one image") }
    }

    struct Result: Encodable {
        var image: String
        var model: String
        var predictions: [Prediction]?
        var error: String?
    }

    func run() async throws {
        bootstrapLogging()
        let classify: (_ jpeg: [UInt8]) async throws -> [Prediction]
        if let server {
            let client = GlimpseClient(url: server, timeout: .milliseconds(Int(timeout * 1000)))
            classify = { jpeg in
                try await client.classify(jpeg: Data(jpeg), model: model, topK: top, cache: !noCache).classes.map {
                    Prediction(index: Int($0.index), label: $0.label, probability: $0.probability)
                }
            }
        } else {
            let local: LocalClassifier
            do { local = try LocalClassifier(model: folder.repository.load(model, options: engine.loadOptions), threads: engine.threads) } catch {
                printError("\(error)")
                throw ExitCode(2)
            }
            classify = { jpeg in try local.classify(jpeg: jpeg, top: top) }
        }
        var results: [Result] = []
        for path in images {
            do {
                let bytes = try readFile(path)
                let predictions = try await classify(bytes)
                results.append(Result(image: path, model: model, predictions: predictions))
                if !json {
                    print(path)
                    for p in predictions {
                        // A model without labels has only the index to show.
                        let line = String(format: "  %5.1f%%  %4d", p.probability * 100, p.index)
                        print(p.label.isEmpty ? line : "\(line)  \(p.label)")
                    }
                }
            } catch {
                results.append(Result(image: path, model: model, error: "\(error)"))
                printError("\(path): \(error)")
            }
        }
        if json { try printJSON(results) }
        if results.contains(where: { $0.error != nil }) { throw ExitCode(1) }
    }
}

struct FileError: Error, CustomStringConvertible {
    var description: String
}

func readFile(_ path: String) throws -> [UInt8] {
    guard let data = FileManager.default.contents(atPath: path) else { throw FileError(description: "cannot read the file") }
    return [UInt8](data)
}

/// JPEG bytes → top-k, with one image pipeline and one engine session.
final class LocalClassifier {
    let info: ClassifierInfo
    private let pipeline: ImagePipeline
    private let session: Session

    init(model: Model, threads: Int = 1) throws {
        info = try ClassifierInfo(model: model)
        pipeline = ImagePipeline(Preprocessing(height: info.inputHeight, width: info.inputWidth, layout: info.layout,
                                               resizeRatio: info.resizeRatio, mean: info.mean, std: info.std))
        session = model.makeSession(threads: threads)
    }

    func classify(jpeg: [UInt8], top: Int) throws -> [Prediction] {
        try jpeg.withUnsafeBytes { bytes in try pipeline.preprocess(jpeg: bytes, into: session.input()) }
        session.run()
        return topPredictions(session.output(), k: top, labels: info.labels)
    }
}
