// Test support: a real server with its admin port on 127.0.0.1 (the OS picks the port), a plain HTTP/1.1 client, a metrics parser.
import Foundation
import GlimpseAdmin
import GlimpseClient
import GlimpseServer
import GlimpseTestSupport

func image(_ name: String) throws -> Data { try TestData.image(name) }

/// A server running on its own thread, its admin port up. `stop()` returns once `run()` has
/// returned, which (through `stopsWithServer`) is after the admin port has closed.
final class RunningAdmin: @unchecked Sendable {
    let server: Server
    let admin: AdminServer
    let port: Int
    let url: String
    let runs: Bool
    private let finished = DispatchSemaphore(value: 0)

    /// `run: false` leaves the server loaded but not serving (`/readyz` then says it is starting).
    /// `models` in `modelsDirectory` (default: lite0 from the repository's models folder).
    init(workers: Int = 2, maxPayloadBytes: Int = 2 << 20, run: Bool = true,
         models: [String] = ["lite0"], modelsDirectory: URL? = nil) async throws {
        runs = run
        var configuration = ServerConfiguration.forTests("admin-test", models: models, workers: workers,
                                                         maxMessageBytes: maxPayloadBytes * 2, maxPayloadBytes: maxPayloadBytes)
        if let modelsDirectory { configuration.modelsDirectory = modelsDirectory }
        url = configuration.listen[0]
        server = try Server(configuration)
        admin = AdminServer(server: server, address: AdminAddress(host: "127.0.0.1", port: 0))
        port = try await admin.start()
        admin.stopsWithServer()
        guard run else { return }
        Thread { [server, finished] in
            server.run()
            finished.signal()
        }.start()
        while server.readiness != .ready { try await Task.sleep(for: .milliseconds(5)) }
    }

    func client() -> GlimpseClient { GlimpseClient(url: url, timeout: .seconds(30)) }

    /// Stops the server and waits, off the concurrency pool, for run() to return.
    func stop() async {
        server.stop()
        guard runs else { return await admin.stop() }
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            Thread { [finished] in
                finished.wait()
                done.resume()
            }.start()
        }
        try? FileManager.default.removeItem(atPath: String(url.dropFirst("ipc://".count)))
    }

    func get(_ path: String) async throws -> HTTPReply { try await http("GET", path) }

    func post(_ path: String, _ body: Data, headers: [String: String] = [:]) async throws -> HTTPReply {
        try await http("POST", path, body: body, headers: headers)
    }

    func http(_ method: String, _ path: String, body: Data? = nil, headers: [String: String] = [:]) async throws -> HTTPReply {
        try await HTTPReply.fetch(port: port, method: method, path: path, body: body, headers: headers)
    }
}

/// Runs `body` against a fresh server and stops it afterwards, also when `body` throws.
func withRunningAdmin(workers: Int = 2, maxPayloadBytes: Int = 2 << 20, run: Bool = true,
                      models: [String] = ["lite0"], modelsDirectory: URL? = nil,
                      _ body: (RunningAdmin) async throws -> Void) async throws {
    let running = try await RunningAdmin(workers: workers, maxPayloadBytes: maxPayloadBytes, run: run,
                                         models: models, modelsDirectory: modelsDirectory)
    do { try await body(running) } catch {
        await running.stop()
        throw error
    }
    await running.stop()
}

struct HTTPError: Error, CustomStringConvertible {
    var description: String
}

/// One HTTP/1.1 exchange over a fresh loopback connection (`Connection: close`), on a thread of
/// its own so the blocking socket never holds a Swift concurrency thread.
struct HTTPReply: Sendable {
    var status: Int
    var headers: [String: String]
    var body: Data

    var text: String { String(decoding: body, as: UTF8.self) }

    func json() throws -> [String: Any] {
        guard let object = try JSONSerialization.jsonObject(with: body) as? [String: Any] else {
            throw HTTPError(description: "not a JSON object: \(text)")
        }
        return object
    }

    static func fetch(port: Int, method: String, path: String, body: Data?, headers: [String: String]) async throws -> HTTPReply {
        try await withCheckedThrowingContinuation { continuation in
            Thread {
                continuation.resume(with: Result { try exchange(port: port, method: method, path: path, body: body, headers: headers) })
            }.start()
        }
    }

    private static func exchange(port: Int, method: String, path: String, body: Data?, headers: [String: String]) throws -> HTTPReply {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw HTTPError(description: "socket: errno \(errno)") }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 60, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw HTTPError(description: "connect to 127.0.0.1:\(port): errno \(errno)") }
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n"
        var fields = headers
        if let body, fields["Content-Length"] == nil, fields["Transfer-Encoding"] == nil { fields["Content-Length"] = "\(body.count)" }
        for (name, value) in fields { head += "\(name): \(value)\r\n" }
        head += "\r\n"
        // MSG_NOSIGNAL: a server that answers early and closes must not kill the test with SIGPIPE.
        // A failed write is not an error here: the reply (413, say) may already be waiting.
        func write(_ data: Data) -> Bool {
            data.withUnsafeBytes { raw in
                var offset = 0
                while offset < raw.count {
                    let sent = send(fd, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
                    if sent <= 0 { return false }
                    offset += sent
                }
                return true
            }
        }
        if write(Data(head.utf8)), let body { _ = write(body) }
        var received = Data()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = recv(fd, &buffer, buffer.count, 0)
            if count <= 0 { break }
            received.append(contentsOf: buffer[0..<count])
        }
        return try parse(received)
    }

    private static func parse(_ data: Data) throws -> HTTPReply {
        guard let end = data.firstRange(of: Data("\r\n\r\n".utf8)) else {
            throw HTTPError(description: "no complete HTTP response in \(data.count) bytes")
        }
        let lines = String(decoding: data[..<end.lowerBound], as: UTF8.self).components(separatedBy: "\r\n")
        let statusParts = lines[0].split(separator: " ")
        guard statusParts.count >= 2, let status = Int(statusParts[1]) else { throw HTTPError(description: "bad status line \(lines[0])") }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        var body = Data(data[end.upperBound...])
        if headers["transfer-encoding"]?.lowercased() == "chunked" { body = try dechunk(body) }
        return HTTPReply(status: status, headers: headers, body: body)
    }

    private static func dechunk(_ data: Data) throws -> Data {
        var out = Data()
        var rest = data[...]
        while let lineEnd = rest.firstRange(of: Data("\r\n".utf8)) {
            let sizeText = String(decoding: rest[..<lineEnd.lowerBound], as: UTF8.self).split(separator: ";")[0]
            guard let size = Int(sizeText, radix: 16) else { throw HTTPError(description: "bad chunk size \(sizeText)") }
            if size == 0 { break }
            let start = lineEnd.upperBound
            out.append(rest[start..<start + size])
            rest = rest[(start + size + 2)...]
        }
        return out
    }
}

/// One sample of a Prometheus text exposition: `name{k="v",...} value`.
struct Sample {
    var name: String
    var labels: [String: String]
    var value: Double
}

/// Parses the sample lines of a Prometheus text exposition (comments skipped). Label values here
/// never hold escaped quotes or commas, which keeps this small.
func samples(_ text: String) -> [Sample] {
    text.split(separator: "\n").compactMap { line in
        guard !line.hasPrefix("#"), let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { return nil }
        let series = line[..<space]
        guard let brace = series.firstIndex(of: "{") else { return Sample(name: String(series), labels: [:], value: value) }
        var labels: [String: String] = [:]
        for pair in series[series.index(after: brace)..<series.index(before: series.endIndex)].split(separator: ",") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            labels[String(parts[0])] = String(parts[1].dropFirst().dropLast())
        }
        return Sample(name: String(series[..<brace]), labels: labels, value: value)
    }
}

extension [Sample] {
    /// The sum of the samples with this name whose labels include `labels` (0 when there are none).
    func value(_ name: String, _ labels: [String: String] = [:]) -> Double {
        filter { sample in sample.name == name && labels.allSatisfy { sample.labels[$0.key] == $0.value } }.reduce(0) { $0 + $1.value }
    }
}
