// `glimpse bench`: measurements as ratios against a peer, both measured in the same run.
import ArgumentParser
import Foundation
import GlimpseClient
import GlimpseNanomsg
import GlimpseProtocol
import GlimpseServer
import Histogram

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Benchmarks (each measures Glimpse against a peer in the same run, interleaved).",
        subcommands: [BenchKernels.self, BenchModel.self, BenchRPC.self, BenchWorkers.self])
}

/// Microsecond latency histogram with the summary lines the benches print.
struct Latencies {
    var histogram = Histogram<UInt64>(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)

    mutating func record(nanoseconds: UInt64) { _ = histogram.record(max(1, nanoseconds / 1000)) }

    var p50: UInt64 { histogram.valueAtPercentile(50) }
    var p90: UInt64 { histogram.valueAtPercentile(90) }
    var p99: UInt64 { histogram.valueAtPercentile(99) }
}

/// A free loopback TCP URL (the kernel picks the port).
func freeLoopbackURL() -> String {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
    _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
    return "tcp://127.0.0.1:\(UInt16(bigEndian: address.sin_port))"
}

/// Starts `server.run()` on a thread of its own.
func startInBackground(_ server: Server) -> DispatchSemaphore {
    let done = DispatchSemaphore(value: 0)
    Thread {
        server.run()
        done.signal()
    }.start()
    return done
}

struct BenchRPC: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rpc",
        abstract: "A cache hit's round trip against a bare nanomsg REQ/REP echo of the same frame.",
        discussion: """
        Starts an echo peer (raw REP that sends every frame back) and a Glimpse server, both on loopback TCP \
        in this process, then alternates: the frame to the echo, the same frame to Glimpse (answered from \
        its cache). Both legs use the same REQ socket code, so the difference is what Glimpse adds.
        """)

    @Option(help: "JPEG files whose Classify frames are sent (default: three test images of 35, 119 and 265 KB).")
    var image: [String] = ["testdata/generated/images/cat.jpg", "testdata/generated/images/motorcycle.jpg",
                           "testdata/generated/images/hubble.jpg"]

    @Option(help: "Round trips per leg and image.")
    var iterations = 2000

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    @OptionGroup var folder: ModelFolderOptions

    struct Row: Encodable {
        var payloadBytes: Int
        var echo: [String: UInt64]
        var cacheHit: [String: UInt64]
        var ratioP50: Double
        var ratioP99: Double
    }

    func run() throws {
        let echoURL = freeLoopbackURL(), glimpseURL = freeLoopbackURL()
        let echo = try Socket(.rawReply)
        try echo.bind(echoURL)
        Thread {
            while true {
                guard let incoming = try? echo.receiveWithRoute() else { continue }
                try? echo.reply(incoming.bytes, to: incoming.route)
            }
        }.start()
        var configuration = ServerConfiguration()
        configuration.listen = [glimpseURL]
        configuration.modelsDirectory = folder.repository.directory
        configuration.models = ["lite0"]
        configuration.workers = 1
        let server = try Server(configuration)
        let stopped = startInBackground(server)
        defer { server.stop(); stopped.wait() }

        let toEcho = try Socket(.request), toGlimpse = try Socket(.request)
        for (socket, url) in [(toEcho, echoURL), (toGlimpse, glimpseURL)] {
            try socket.setResendInterval(milliseconds: Int(Int32.max))
            try socket.setReceiveTimeout(milliseconds: 30_000)
            try socket.connect(url)
        }
        func roundTrip(_ socket: Socket, _ frame: [UInt8]) throws -> (UInt64, [UInt8]) {
            let start = monotonicNanoseconds()
            try frame.withUnsafeBytes { try socket.send($0) }
            let reply = try socket.receive()
            return (monotonicNanoseconds() - start, reply)
        }
        var rows: [Row] = []
        for path in image {
            var request = Glimpse_V1_ClassifyRequest()
            request.jpeg = try Data(contentsOf: URL(fileURLWithPath: path))
            var envelope = Glimpse_V1_RequestEnvelope()
            envelope.method = Method.classify.rawValue
            envelope.body = try request.serializedData()
            let frame = Frame.encode(envelope)
            _ = try roundTrip(toGlimpse, frame) // the miss that fills the cache
            var echoTimes = Latencies(), hitTimes = Latencies()
            for i in 0..<(iterations + iterations / 10) {
                let (e, echoed) = try roundTrip(toEcho, frame)
                let (g, reply) = try roundTrip(toGlimpse, frame)
                let response = try reply.withUnsafeBytes { try Frame.decodeResponse($0) }
                guard echoed.count == frame.count, response.status == 0, response.metadata[MetadataKey.cache] == "hit" else {
                    throw ValidationError("round trip \(i) was not an echo and a cache hit: status \(response.status) \(response.message)")
                }
                if i >= iterations / 10 { // the first tenth warms both paths up
                    echoTimes.record(nanoseconds: e)
                    hitTimes.record(nanoseconds: g)
                }
            }
            rows.append(Row(payloadBytes: frame.count,
                            echo: ["p50_us": echoTimes.p50, "p90_us": echoTimes.p90, "p99_us": echoTimes.p99],
                            cacheHit: ["p50_us": hitTimes.p50, "p90_us": hitTimes.p90, "p99_us": hitTimes.p99],
                            ratioP50: Double(hitTimes.p50) / Double(echoTimes.p50),
                            ratioP99: Double(hitTimes.p99) / Double(echoTimes.p99)))
        }
        if json { return try printJSON(rows) }
        print("frame bytes   echo p50/p90/p99 µs    cache hit p50/p90/p99 µs   hit/echo p50   p99")
        for r in rows {
            let e = "\(r.echo["p50_us"]!)/\(r.echo["p90_us"]!)/\(r.echo["p99_us"]!)"
            let h = "\(r.cacheHit["p50_us"]!)/\(r.cacheHit["p90_us"]!)/\(r.cacheHit["p99_us"]!)"
            print("\(String(r.payloadBytes).leftPad(11))   \(e.leftPad(20))   \(h.leftPad(24))   \(String(format: "%11.2fx", r.ratioP50))  \(String(format: "%5.2fx", r.ratioP99))")
        }
    }
}

struct BenchWorkers: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "workers",
        abstract: "Cache-miss throughput with N workers against 1 worker, at a fixed concurrency.",
        discussion: "Rounds alternate between a 1-worker and an N-worker server (cache off) so both see the same machine.")

    @Option(help: "Workers of the server compared with a 1-worker one.")
    var workers = 2

    @Option(help: "Requests in flight at once.")
    var concurrency = 4

    @Option(help: "Requests per round.")
    var requests = 120

    @Option(help: "Rounds per server.")
    var rounds = 3

    @Option(help: "Model to run.")
    var model = "lite0"

    @Option(help: "JPEG files to send, round-robin.")
    var image: [String] = ["testdata/generated/images/cat.jpg", "testdata/generated/images/coffee.jpg",
                           "testdata/generated/images/rocket.jpg", "testdata/generated/images/motorcycle.jpg"]

    @OptionGroup var folder: ModelFolderOptions

    func run() throws {
        let jpegs = try image.map { try Data(contentsOf: URL(fileURLWithPath: $0)) }
        func server(workers: Int) throws -> (Server, String, DispatchSemaphore) {
            var configuration = ServerConfiguration()
            configuration.listen = [freeLoopbackURL()]
            configuration.modelsDirectory = folder.repository.directory
            configuration.models = [model]
            configuration.workers = workers
            configuration.cacheBytes = 0
            let server = try Server(configuration)
            return (server, configuration.listen[0], startInBackground(server))
        }
        let one = try server(workers: 1), many = try server(workers: workers)
        defer { for s in [one, many] { s.0.stop(); s.2.wait() } }
        // Frames are encoded once: the client side should cost as little CPU as possible,
        // since on a small machine it shares the cores with the workers it is measuring.
        let frames: [[UInt8]] = try jpegs.map { jpeg in
            var request = Glimpse_V1_ClassifyRequest()
            request.model = model
            request.jpeg = jpeg
            var envelope = Glimpse_V1_RequestEnvelope()
            envelope.method = Method.classify.rawValue
            envelope.body = try request.serializedData()
            envelope.metadata = [MetadataKey.cache: "no"] // every request computed: no cache, no coalescing
            return Frame.encode(envelope)
        }
        /// Requests per second for one round against `url`, `concurrency` REQ sockets in closed loop.
        func round(_ url: String) throws -> Double {
            let sockets = try (0..<concurrency).map { _ in
                let socket = try Socket(.request)
                try socket.setReceiveTimeout(milliseconds: 60_000)
                try socket.connect(url)
                return socket
            }
            let next = ManagedCounter(), failures = ManagedCounter()
            let group = DispatchGroup()
            let start = monotonicNanoseconds()
            for socket in sockets {
                group.enter()
                Thread {
                    while case let i = next.increment(), i < requests {
                        do {
                            try frames[i % frames.count].withUnsafeBytes { try socket.send($0) }
                            let reply = try socket.receive().withUnsafeBytes { try Frame.decodeResponse($0) }
                            if reply.status != 0 { _ = failures.increment() }
                        } catch { _ = failures.increment() }
                    }
                    group.leave()
                }.start()
            }
            group.wait()
            guard failures.value == 0 else { throw ValidationError("\(failures.value) requests failed") }
            return Double(requests) / (Double(monotonicNanoseconds() - start) / 1e9)
        }
        _ = try round(one.1) // warm-up
        _ = try round(many.1)
        var single: [Double] = [], multi: [Double] = []
        for _ in 0..<rounds {
            single.append(try round(one.1))
            multi.append(try round(many.1))
        }
        let (s, m) = (single.sorted()[rounds / 2], multi.sorted()[rounds / 2])
        print("model \(model), concurrency \(concurrency), \(requests) requests per round, median of \(rounds) rounds, cache off")
        print(String(format: "1 worker:  %7.1f req/s   (rounds: %@)", s, single.map { String(format: "%.1f", $0) }.joined(separator: ", ")))
        print(String(format: "%d workers: %7.1f req/s   (rounds: %@)", workers, m, multi.map { String(format: "%.1f", $0) }.joined(separator: ", ")))
        print(String(format: "ratio:     %7.2fx", m / s))
    }
}

/// A counter shared by the closed-loop tasks.
final class ManagedCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0

    func increment() -> Int {
        lock.lock(); defer { lock.unlock() }
        defer { count += 1 }
        return count
    }

    var value: Int {
        lock.lock(); defer { lock.unlock() }
        return count
    }
}
