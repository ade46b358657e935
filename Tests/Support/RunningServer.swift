// Shared by the server, load and admin tests: where the test data is, and a real server on an ipc:// path of its own.
import Foundation
import GlimpseServer

public enum TestData {
    /// The repository's root (this file is Tests/Support/RunningServer.swift).
    public static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    public static let models = root.appendingPathComponent("models")
    /// scripts/make_test_images.py's JPEGs.
    public static let images = root.appendingPathComponent("testdata/generated/images")

    public static func image(_ name: String) throws -> Data { try Data(contentsOf: images.appendingPathComponent(name)) }
}

extension ServerConfiguration {
    /// A test server's configuration: listening on a new ipc:// path (`tag` names the suite).
    public static func forTests(_ tag: String, models: [String] = ["lite0"], workers: Int = 2, queue: Int = 64,
                                cacheBytes: Int = 16 << 20, maxMessageBytes: Int = 4 << 20,
                                maxPayloadBytes: Int = 2 << 20) -> ServerConfiguration {
        var configuration = ServerConfiguration()
        configuration.listen = ["ipc:///tmp/glimpse-\(tag)-\(getpid())-\(UUID().uuidString.prefix(8)).ipc"]
        configuration.modelsDirectory = TestData.models
        configuration.models = models
        configuration.workers = workers
        configuration.queueCapacity = queue
        configuration.cacheBytes = cacheBytes
        configuration.maxMessageBytes = maxMessageBytes
        configuration.maxPayloadBytes = maxPayloadBytes
        return configuration
    }
}

/// A server running on its own thread for one test; `stop()` waits until `run()` has returned
/// and removes the socket file.
public final class RunningServer: @unchecked Sendable {
    public let server: Server
    public let url: String
    private let finished = DispatchSemaphore(value: 0)

    public init(_ configuration: ServerConfiguration) throws {
        url = configuration.listen[0]
        server = try Server(configuration)
        Thread { [server, finished] in
            server.run()
            finished.signal()
        }.start()
    }

    public convenience init(models: [String] = ["lite0"], workers: Int = 2, queue: Int = 64, cacheBytes: Int = 16 << 20,
                            maxMessageBytes: Int = 4 << 20, maxPayloadBytes: Int = 2 << 20) throws {
        try self.init(.forTests("test", models: models, workers: workers, queue: queue, cacheBytes: cacheBytes,
                                maxMessageBytes: maxMessageBytes, maxPayloadBytes: maxPayloadBytes))
    }

    public func stop() {
        server.stop()
        finished.wait()
        try? FileManager.default.removeItem(atPath: String(url.dropFirst("ipc://".count)))
    }
}
