// `glimpse load`: a load generator for a Glimpse server on this machine (closed- or open-loop sweeps).
import ArgumentParser
import Foundation
import GlimpseLoad

struct Load: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Drive a Glimpse server on this machine with Classify load and report throughput and latency.",
        discussion: """
        Closed loop (default): for each --concurrency level N, N connections each send a request as soon \
        as their last one is answered. Open loop (--request-rate): requests arrive at random (Poisson: \
        exponential gaps) at each rate, over at most --max-outstanding connections; latency counts from \
        each request's intended send time, so time spent waiting for a free connection is included.

        Each step reports client-side latency percentiles (HdrHistogram) of the OK replies, errors by gRPC \
        status, and the server's own view of the same window from two Stats calls: mean queue wait, \
        decode+resize and inference per computed call, cache hits, misses and coalesced calls. The \
        server's counters include any other client's traffic.

        --cache-hit-ratio H: a fraction H of requests repeat one of a few images answered just before \
        the window (cache hits); the rest carry an image no request carried before (misses), made by \
        inserting a numbered JPEG comment segment, which changes the bytes but not the pixels.

        Only servers on this machine: tcp://127.x.x.x:PORT, tcp://localhost:PORT, tcp://[::1]:PORT, ipc:///PATH.
        """)

    @Option(help: "The server's URL (loopback TCP or ipc:// only).")
    var server: String

    @Option(name: .shortAndLong, help: "Model to classify with.")
    var model = "lite0"

    @Option(help: "Folder of JPEGs to send (images the server refuses as bad input are skipped, with a note).")
    var images: String?

    @Flag(help: "Send synthetic 640x480 JPEGs made here instead of --images (the default when --images is not given).")
    var synthetic = false

    @Option(help: "Closed loop: requests in flight per step, comma-separated.")
    var concurrency = "1,2,4,8,16"

    @Option(name: .customLong("request-rate"), help: "Open loop: Poisson arrival rates per second, comma-separated (one step each). Replaces --concurrency.")
    var requestRate: String?

    @Option(name: .customLong("max-outstanding"), help: "Open loop: connections, i.e. the most requests in flight; an arrival with none free waits, and the wait counts.")
    var maxOutstanding = 64

    @Option(help: "Length of each step: 10s, 500ms, 2m (default: 10s). Not with --requests.")
    var duration: String?

    @Option(help: "Requests per step instead of a --duration.")
    var requests: Int?

    @Option(name: .customLong("cache-hit-ratio"), help: "Fraction of requests, 0.0...1.0, that repeat an already answered image (cache hits); the rest are unique.")
    var cacheHitRatio = 0.0

    @Flag(name: .customLong("no-cache"), help: "Ask the server to skip its cache for every request (glimpse-cache: no): every request is computed.")
    var noCache = false

    @Option(help: "Unrecorded load before each step, same settings (e.g. 1s, 0).")
    var warmup = "1s"

    @Option(help: "Per-request timeout (sent to the server too); an open-loop arrival not sent within it expires.")
    var timeout = "10s"

    @Option(help: "Classes per reply.")
    var top = 5

    @Option(help: "Seed of the arrival schedule and the hit/miss mix (default: random; the report records it).")
    var seed: UInt64?

    @Option(help: "Also write the whole result, per step, as JSON to this file.")
    var json: String?

    func validate() throws {
        guard images == nil || !synthetic else { throw ValidationError("give --images DIR or --synthetic, not both") }
        guard duration == nil || requests == nil else { throw ValidationError("give --duration or --requests, not both") }
        _ = try parsedConfiguration()
    }

    func parsedConfiguration() throws -> LoadConfiguration {
        func seconds(_ text: String, _ option: String) throws -> Double {
            guard let value = parseSeconds(text) else { throw ValidationError("\(option) '\(text)' is not a duration like 10s, 500ms or 2m") }
            return value
        }
        var configuration = LoadConfiguration(url: server)
        configuration.model = model
        if let requestRate {
            let rates = requestRate.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
            guard !rates.isEmpty, rates.allSatisfy({ $0 != nil }) else { throw ValidationError("--request-rate '\(requestRate)' is not a list of numbers") }
            configuration.mode = .open(rates: rates.map { $0! }, maxOutstanding: maxOutstanding)
        } else {
            let levels = concurrency.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard !levels.isEmpty, levels.allSatisfy({ $0 != nil }) else { throw ValidationError("--concurrency '\(concurrency)' is not a list of integers") }
            configuration.mode = .closed(concurrency: levels.map { $0! })
        }
        configuration.length = try requests.map { .requests($0) } ?? .seconds(seconds(duration ?? "10s", "--duration"))
        configuration.warmupSeconds = try seconds(warmup, "--warmup")
        configuration.timeoutSeconds = try seconds(timeout, "--timeout")
        configuration.hitRatio = cacheHitRatio
        configuration.bypassCache = noCache
        configuration.topK = top
        if let seed { configuration.seed = seed }
        do { try configuration.validate() } catch { throw ValidationError(error.description) }
        return configuration
    }

    func run() throws {
        let configuration = try parsedConfiguration()
        let progress = ProgressLine()
        do {
            let imageSet = try images.map { try ImageSet.load(directory: $0) } ?? ImageSet.synthetic(seed: configuration.seed)
            let report = try LoadRunner(configuration, images: imageSet, progress: progress).run()
            print(report.table())
            if let json {
                try report.json().write(to: URL(fileURLWithPath: json))
                progress.note("wrote \(json)")
            }
        } catch let error as LoadError {
            printError(error.description)
            throw ExitCode(error.status == .invalidArgument || error.status == .notFound ? 2 : 1)
        }
    }
}
