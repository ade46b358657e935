// The admin HTTP port: a Hummingbird application on an event loop of its own, started and stopped with the server.
import Dispatch
import Foundation
import GlimpseCore
import GlimpseServer
import Hummingbird
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

/// Serves `/metrics`, `/healthz`, `/readyz`, `/v1/models`, `/v1/models/{name}/classify` and the demo
/// page for one `Server`. Runs on its own one-thread event loop group, so HTTP never competes
/// with the nanomsg front thread; classify calls enter the server through `Server.call`.
public final class AdminServer: Sendable {
    public let address: AdminAddress
    private let server: Server
    private let logger: Logger
    private let state = LockedState()

    public init(server: Server, address: AdminAddress, logger: Logger = Logger(label: "glimpse.admin")) {
        self.server = server
        self.address = address
        self.logger = logger
    }

    /// Binds the address and starts answering; returns the port (the OS's choice when given 0).
    public func start() async throws -> Int {
        let eventLoops = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let (started, reportStart) = AsyncStream<Result<Int, any Error>>.makeStream()
        let application = Application(
            router: AdminRoutes(server: server).router(),
            configuration: .init(address: .hostname(address.host, port: address.port), serverName: "glimpse/\(glimpseVersion)"),
            onServerRunning: { channel in reportStart.yield(.success(channel.localAddress?.port ?? 0)) },
            eventLoopGroupProvider: .shared(eventLoops),
            logger: logger)
        var configuration = ServiceGroupConfiguration(services: [application], logger: logger)
        // Signals stay with `glimpse serve`, which stops the server, which stops this.
        configuration.gracefulShutdownSignals = []
        // Responses in progress get this long to finish, then their connections are cut.
        configuration.maximumGracefulShutdownDuration = .seconds(5)
        configuration.maximumCancellationDuration = .seconds(2)
        let group = ServiceGroup(configuration: configuration)
        let running = Task {
            do {
                try await group.run()
                reportStart.yield(.failure(AdminError.stoppedBeforeStarting))
            } catch {
                reportStart.yield(.failure(error))
            }
            reportStart.finish()
        }
        for await outcome in started {
            switch outcome {
            case let .success(port):
                state.set(.running(group: group, task: running, eventLoops: eventLoops))
                logger.info("admin port listening", metadata: ["url": "http://\(address.urlHost):\(port)/"])
                return port
            case let .failure(error):
                _ = await running.result
                try? await eventLoops.shutdownGracefully()
                throw AdminError.cannotListen(address.description, reason: "\(error)")
            }
        }
        throw AdminError.stoppedBeforeStarting
    }

    /// `start()` for a caller outside Swift concurrency, which may block (`glimpse serve`'s main thread).
    public func startWaiting() throws -> Int {
        try waitOutsideConcurrency { try await self.start() }
    }

    /// Stops answering: requests in progress finish (up to 5 s), then the event loop's thread
    /// exits. Idempotent.
    public func stop() async {
        guard case let .running(group, task, eventLoops) = state.take() else { return }
        await group.triggerGracefulShutdown()
        _ = await task.result
        try? await eventLoops.shutdownGracefully()
        logger.info("admin port stopped")
    }

    /// Makes `server.run()` stop this port once the server has answered everything in flight,
    /// so that stopping the server stops the admin port too and `run()` returns with both down.
    public func stopsWithServer() {
        // run()'s own thread is never a Swift concurrency one, so it may wait for the async stop.
        server.onStop { [self] in _ = try? waitOutsideConcurrency { await self.stop() } }
    }
}

/// Runs `body` on Swift concurrency and blocks this thread until it is done. Only for threads
/// outside the concurrency pool: blocking a pool thread could starve `body` itself.
private func waitOutsideConcurrency<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
    let outcome = OutcomeBox<T>()
    let done = DispatchSemaphore(value: 0)
    Task {
        do { outcome.set(.success(try await body())) } catch { outcome.set(.failure(error)) }
        done.signal()
    }
    done.wait()
    return try outcome.get()
}

/// Why the admin port could not run.
public enum AdminError: StatusError {
    case badAddress(String, reason: String)
    case notLoopback(String)
    case cannotListen(String, reason: String)
    case stoppedBeforeStarting

    public var status: StatusCode {
        switch self {
        case .badAddress, .notLoopback: .invalidArgument
        case .cannotListen, .stoppedBeforeStarting: .unavailable
        }
    }

    public var description: String {
        switch self {
        case let .badAddress(text, reason): "admin address '\(text)' \(reason); expected HOST:PORT such as 127.0.0.1:8080 or [::1]:8080"
        case let .notLoopback(text):
            "admin address '\(text)' is not a loopback address; the admin port has no authentication, so pass --admin-allow-remote to expose it"
        case let .cannotListen(text, reason): "cannot listen on \(text): \(reason)"
        case .stoppedBeforeStarting: "the admin port stopped before it started listening"
        }
    }
}

/// The running application's handles, guarded by a lock: `start` and `stop` may come from any thread.
private final class LockedState: @unchecked Sendable {
    enum State {
        case idle
        case running(group: ServiceGroup, task: Task<Void, Never>, eventLoops: MultiThreadedEventLoopGroup)
    }

    private let lock = NSLock()
    private var state = State.idle

    func set(_ new: State) {
        lock.lock(); defer { lock.unlock() }
        state = new
    }

    /// The current state, leaving `.idle` behind.
    func take() -> State {
        lock.lock(); defer { lock.unlock() }
        defer { state = .idle }
        return state
    }
}

private final class OutcomeBox<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var outcome: Result<T, any Error>?

    func set(_ value: Result<T, any Error>) {
        lock.lock(); defer { lock.unlock() }
        outcome = value
    }

    func get() throws -> T {
        lock.lock(); defer { lock.unlock() }
        return try outcome!.get()
    }
}
