// Options shared by the subcommands.
import ArgumentParser
import Foundation
import GlimpseEngine
import Logging

struct ModelFolderOptions: ParsableArguments {
    @Option(name: .customLong("models-dir"),
            help: "Folder of <name>.onnx models (default: $GLIMPSE_MODELS, else ./models).")
    var modelsDirectory: String?

    var repository: ModelRepository {
        modelsDirectory.map { ModelRepository(directory: URL(fileURLWithPath: $0)) } ?? .standard
    }
}

/// How the engine runs: which kernels, how many threads per request.
struct EngineOptions: ParsableArguments {
    @Option(help: "Kernel variant: scalar, avx2, avx512 or neon (default: $GLIMPSE_KERNELS, else the best this CPU runs).")
    var kernels: String?

    @Option(help: "Threads one request may use (output rows of each convolution split across them).")
    var threads = 1

    @Flag(name: .customLong("no-fuse"), help: "Run apart what is fused across steps: a conv (an expansion, a stem) and the depthwise conv that reads it; a squeeze-excite gate and the 1x1 conv that takes it into its weights (to measure what fusing brings).")
    var noFuse = false

    @Option(name: .customLong("band-kb"), help: .hidden)
    var bandKB = 256

    @Flag(name: .customLong("no-prefetch"), help: "Do not stream each layer's weights toward the cache while the layer before runs (to measure what it brings; a GEMM's prefetch of its own next pass stays on).")
    var noPrefetch = false

    func validate() throws {
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
        guard bandKB >= 1 else { throw ValidationError("--band-kb must be at least 1") }
    }

    var loadOptions: LoadOptions {
        var options = LoadOptions()
        options.fuseExpandDepthwise = !noFuse
        options.fuseGateIntoConv = !noFuse
        options.fusedBandBytes = bandKB * 1024
        options.prefetchNextWeights = !noPrefetch
        options.kernels = kernels
        return options
    }
}

/// Prints `message` to standard error.
func printError(_ message: String) {
    FileHandle.standardError.write(Data("glimpse: \(message)\n".utf8))
}

/// Encodes `value` as pretty, key-sorted JSON on standard output.
func printJSON(_ value: some Encodable) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}

/// Sends swift-log's records to standard error at `level` and up. swift-log's own default is standard
/// output, where a model's load warning would land in the middle of `classify --json` or the models
/// table. swift-log allows this once per process: each command calls it once, first.
func bootstrapLogging(level: Logger.Level = .info) {
    LoggingSystem.bootstrap { label in
        var handler = StreamLogHandler.standardError(label: label)
        handler.logLevel = level
        return handler
    }
}
