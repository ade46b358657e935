// `glimpse serve`: the RPC server over nanomsg.
import ArgumentParser
import Dispatch
import Foundation
import GlimpseAdmin
import GlimpseServer
import Logging

struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the models over nanomsg REQ/REP (gRPC-style calls; see README).",
        discussion: "SIGINT or SIGTERM stops taking requests, finishes those in flight and exits 0.")

    @Option(name: .customLong("listen"), help: "nanomsg URL to bind; repeat for several (tcp://HOST:PORT, ipc:///path). (default: tcp://127.0.0.1:5555)")
    var listen: [String] = []

    @Option(help: "Models to load, comma-separated (default: every model in the folder).")
    var models: String?

    @Option(name: .customLong("default-model"), help: "Model for requests that name none (default: the first loaded).")
    var defaultModel: String?

    @Option(help: "Worker threads (default: one per core).")
    var workers = ProcessInfo.processInfo.activeProcessorCount

    @Option(help: "Requests that may wait for a worker before the server answers RESOURCE_EXHAUSTED.")
    var queue = 64

    @Option(name: .customLong("cache-mb"), help: "Result cache size in MiB; 0 turns the cache off.")
    var cacheMB = 64

    @Option(name: .customLong("max-message-mb"), help: "Largest frame accepted (NN_RCVMAXSIZE); nanomsg drops bigger ones and closes their connection.")
    var maxMessageMB = 16

    @Option(name: .customLong("max-payload-mb"), help: "Largest JPEG or tensor; bigger ones get RESOURCE_EXHAUSTED.")
    var maxPayloadMB = 8

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel = "info"

    @Option(name: .customLong("admin"),
            help: "HOST:PORT for the admin HTTP port: /metrics, /healthz, /readyz, /v1/models, POST /v1/models/NAME/classify and a demo page at /. Port 0 lets the OS choose (the log says which). (default: off)")
    var admin: String?

    @Flag(name: .customLong("admin-allow-remote"),
          help: "Let --admin listen on an address other than loopback (127.0.0.0/8, ::1, localhost). The admin port has no authentication.")
    var adminAllowRemote = false

    @OptionGroup var folder: ModelFolderOptions

    @OptionGroup var engine: EngineOptions

    func validate() throws {
        guard workers >= 1 else { throw ValidationError("--workers must be at least 1") }
        guard queue >= 1 else { throw ValidationError("--queue must be at least 1") }
        guard cacheMB >= 0, maxMessageMB >= 1, maxPayloadMB >= 1 else { throw ValidationError("sizes must be positive") }
        guard maxPayloadMB < maxMessageMB else { throw ValidationError("--max-payload-mb must be below --max-message-mb") }
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("unknown --log-level \(logLevel)") }
        if let admin {
            let address: AdminAddress
            do { address = try AdminAddress(parsing: admin) } catch { throw ValidationError("--admin: \(error)") }
            guard address.isLoopback || adminAllowRemote else { throw ValidationError("--admin: \(AdminError.notLoopback(admin))") }
        } else if adminAllowRemote {
            throw ValidationError("--admin-allow-remote needs --admin HOST:PORT")
        }
    }

    func run() throws {
        bootstrapLogging(level: Logger.Level(rawValue: logLevel)!)
        var configuration = ServerConfiguration()
        configuration.listen = listen.isEmpty ? ["tcp://127.0.0.1:5555"] : listen
        configuration.modelsDirectory = folder.repository.directory
        configuration.models = models?.split(separator: ",").map(String.init)
        configuration.defaultModel = defaultModel
        configuration.workers = workers
        configuration.queueCapacity = queue
        configuration.cacheBytes = cacheMB << 20
        configuration.maxMessageBytes = maxMessageMB << 20
        configuration.maxPayloadBytes = maxPayloadMB << 20
        configuration.kernels = engine.kernels
        configuration.threadsPerRequest = engine.threads
        let server: Server
        do { server = try Server(configuration) } catch {
            printError("\(error)")
            throw ExitCode(2)
        }
        if let admin {
            let port = AdminServer(server: server, address: try AdminAddress(parsing: admin))
            do { _ = try port.startWaiting() } catch {
                printError("\(error)")
                throw ExitCode(2)
            }
            port.stopsWithServer()
        }
        let signals = [SIGINT, SIGTERM].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { server.stop() }
            source.resume()
            return source
        }
        server.run()
        signals.forEach { $0.cancel() }
    }
}
