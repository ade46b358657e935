// The server: a front thread on a raw REP socket, a bounded queue, worker threads, the cache.
import Foundation
import GlimpseCore
import GlimpseEngine
import GlimpseNanomsg
import GlimpseProtocol
import Logging

public final class Server: @unchecked Sendable {
    /// Someone waiting for a call's result: where to send it and under which request id.
    struct Waiter: Sendable {
        var route: Route
        var requestID: UInt64
        /// Monotonic nanoseconds; .max for none.
        var deadline: UInt64
        var received: UInt64
    }

    struct Job: Sendable {
        var call: Call
        var model: LoadedModel
        /// nil when the caller opted out of the cache; then `waiter` is the only one.
        var key: CallKey?
        var waiter: Waiter
        var enqueued: UInt64
    }

    public let configuration: ServerConfiguration
    public let models: [String]
    public let defaultModel: String
    private let loaded: [String: LoadedModel]
    private let socket: Socket
    private let queue: JobQueue<Job>
    private let cache: ResultCache<Waiter>
    private let stats = ServerStats()
    private let logger = Logger(label: "glimpse.server")
    private let stopping = NSCondition()
    private var stopRequested = false
    private var executing = 0
    private let workersDone = DispatchGroup()

    /// Loads the models and binds every listen URL; `run()` then serves.
    public init(_ configuration: ServerConfiguration) throws {
        self.configuration = configuration
        let repository = ModelRepository(directory: configuration.modelsDirectory)
        let names = configuration.models ?? repository.names()
        guard !names.isEmpty else {
            throw CallError(.failedPrecondition, "no models in \(configuration.modelsDirectory.path): run scripts/setup")
        }
        var loaded: [String: LoadedModel] = [:]
        for name in names {
            let start = monotonicNanoseconds()
            var options = LoadOptions()
            options.kernels = configuration.kernels
            loaded[name] = LoadedModel(name: name, model: try repository.load(name, options: options))
            logger.info("loaded model", metadata: ["model": "\(name)", "ms": "\((monotonicNanoseconds() - start) / 1_000_000)",
                                                   "arena_mb": "\(loaded[name]!.model.arenaBytes >> 20)"])
        }
        let defaultModel = configuration.defaultModel ?? names[0]
        guard loaded[defaultModel] != nil else { throw EngineError.modelNotFound(defaultModel, available: names) }
        self.loaded = loaded
        self.models = names
        self.defaultModel = defaultModel
        queue = JobQueue(capacity: configuration.queueCapacity)
        cache = ResultCache(limits: .init(bytes: configuration.cacheBytes, entries: configuration.cacheEntries))
        socket = try Socket(.rawReply)
        try socket.setReceiveMaxSize(configuration.maxMessageBytes)
        try socket.setReceiveTimeout(milliseconds: 100) // how often the front checks for a stop
        for url in configuration.listen { try socket.bind(url) }
    }

    /// Serves until `stop()`: then takes no new requests, finishes those queued and in flight, and returns.
    public func run() {
        logger.info("serving", metadata: ["listen": "\(configuration.listen.joined(separator: " "))", "models": "\(models.joined(separator: ","))",
                                          "workers": "\(configuration.workers)", "kernels": "\(loaded[defaultModel]!.model.kernelVariant)"])
        let all = Array(loaded.values)
        for index in 0..<configuration.workers {
            workersDone.enter()
            let thread = Thread { [self] in
                let executor = Executor(models: all, threads: configuration.threadsPerRequest)
                while let job = queue.take() { work(job, executor) }
                workersDone.leave()
            }
            thread.name = "glimpse-worker-\(index)"
            thread.start()
        }
        while !isStopping {
            let incoming: Incoming
            do { incoming = try socket.receiveWithRoute() } catch {
                if !error.isTimeout { logger.error("receive failed", metadata: ["error": "\(error)"]) }
                continue
            }
            handle(incoming)
        }
        queue.close()
        workersDone.wait()
        socket.close()
        logger.info("stopped", metadata: ["requests": "\(stats.requestCount)"])
    }

    /// Asks `run()` to finish; safe from any thread (a signal handler's queue, say).
    public func stop() {
        stopping.lock()
        stopRequested = true
        stopping.unlock()
    }

    private var isStopping: Bool {
        stopping.lock(); defer { stopping.unlock() }
        return stopRequested
    }

    // MARK: front

    private func handle(_ incoming: consuming Incoming) {
        let received = monotonicNanoseconds()
        stats.received()
        let envelope: Glimpse_V1_RequestEnvelope
        do { envelope = try Frame.decodeRequest(incoming.bytes) } catch {
            return reply(Waiter(route: incoming.route, requestID: 0, deadline: .max, received: received), error: CallError(error))
        }
        let deadline = Self.deadline(received: received, timeoutMs: envelope.timeoutMs, unixMs: envelope.deadlineUnixMs,
                                     nowUnixMs: UInt64(max(0, Date().timeIntervalSince1970 * 1000)))
        let waiter = Waiter(route: incoming.route, requestID: envelope.requestID, deadline: deadline, received: received)
        if deadline <= received {
            return reply(waiter, error: CallError(.deadlineExceeded, "the deadline had passed when the request arrived"))
        }
        do {
            switch Method(rawValue: envelope.method) {
            case .classify?:
                let request = try parse(Glimpse_V1_ClassifyRequest.self, envelope.body)
                let model = try resolve(request.model)
                try submit(Call.classify(request, model: model, maxPayload: configuration.maxPayloadBytes), model, envelope, waiter)
            case .infer?:
                let request = try parse(Glimpse_V1_InferRequest.self, envelope.body)
                let model = try resolve(request.model)
                try submit(Call.infer(request, model: model, maxPayload: configuration.maxPayloadBytes), model, envelope, waiter)
            case .listModels?:
                reply(waiter, body: serialized(listModels()))
            case .modelMetadata?:
                let request = try parse(Glimpse_V1_ModelMetadataRequest.self, envelope.body)
                reply(waiter, body: serialized(metadata(try resolve(request.model))))
            case .health?:
                let request = try parse(Glimpse_V1_HealthRequest.self, envelope.body)
                guard request.service.isEmpty || request.service == "glimpse.v1.Glimpse" else {
                    throw CallError(.notFound, "unknown service '\(request.service)'; this server has glimpse.v1.Glimpse")
                }
                var response = Glimpse_V1_HealthResponse()
                response.status = isStopping ? .notServing : .serving
                reply(waiter, body: serialized(response))
            case .stats?:
                reply(waiter, body: serialized(statistics()))
            case nil:
                throw CallError(.unimplemented, "unknown method '\(envelope.method)'; this server has \(Method.allCases.map(\.rawValue).joined(separator: ", "))")
            }
        } catch {
            reply(waiter, error: error)
        }
    }

    /// The monotonic deadline of a request received at `received`: the earlier of its timeout and
    /// its absolute deadline; .max for none. Saturating: a deadline too far ahead to represent is none.
    static func deadline(received: UInt64, timeoutMs: UInt32, unixMs: UInt64, nowUnixMs: UInt64) -> UInt64 {
        func after(_ milliseconds: UInt64) -> UInt64 {
            let (nanoseconds, overflow) = milliseconds.multipliedReportingOverflow(by: 1_000_000)
            let (at, late) = received.addingReportingOverflow(nanoseconds)
            return overflow || late ? .max : at
        }
        var deadline = timeoutMs > 0 ? after(UInt64(timeoutMs)) : .max
        if unixMs > 0 { deadline = min(deadline, unixMs <= nowUnixMs ? 0 : after(unixMs - nowUnixMs)) }
        return deadline
    }

    private func parse<M: SwiftProtobuf.Message>(_ type: M.Type, _ body: Data) throws(CallError) -> M {
        do { return try M(serializedBytes: body) } catch {
            throw CallError(.invalidArgument, "body is not a valid \(M.protoMessageName): \(error)")
        }
    }

    private func resolve(_ name: String) throws(CallError) -> LoadedModel {
        let name = name.isEmpty ? defaultModel : name
        guard let model = loaded[name] else { throw CallError(EngineError.modelNotFound(name, available: models)) }
        return model
    }

    /// Answers from the cache, joins an identical call in flight, or queues a new one.
    private func submit(_ call: Call, _ model: LoadedModel, _ envelope: Glimpse_V1_RequestEnvelope, _ waiter: Waiter) throws(CallError) {
        let cached = envelope.metadata[MetadataKey.cache]?.lowercased() != "no"
        let key = cached ? CallKey(method: envelope.method, model: model.name, version: model.version,
                                   parameters: call.identity.parameters, payload: call.identity.payload) : nil
        if let key {
            switch cache.lookup(key, waiter: waiter) {
            case let .hit(body):
                return reply(waiter, body: body, metadata: [MetadataKey.cache: "hit"])
            case .joined:
                return
            case .first:
                break
            }
        }
        let job = Job(call: call, model: model, key: key, waiter: waiter, enqueued: monotonicNanoseconds())
        if !queue.offer(job) {
            let waiters = key.map { cache.abandon($0) } ?? [waiter]
            let error = CallError(.resourceExhausted, "server busy: \(queue.capacity) requests already queued for \(configuration.workers) workers")
            for waiter in waiters { reply(waiter, error: error) }
        }
    }

    // MARK: workers

    private func work(_ job: Job, _ executor: Executor) {
        let start = monotonicNanoseconds()
        let queued = (start - job.enqueued) / 1000
        setExecuting(+1)
        defer { setExecuting(-1) }
        let waiters: [Waiter]
        let latest = job.key.map { cache.waiters(of: $0).map(\.deadline).max() ?? 0 } ?? job.waiter.deadline
        if latest <= start {
            // Nobody who asked is still waiting for this answer.
            waiters = job.key.map { cache.complete($0, value: nil) } ?? [job.waiter]
            for waiter in waiters {
                reply(waiter, error: CallError(.deadlineExceeded, "the deadline passed after \(queued) µs in the queue; the model was not run"))
            }
            return
        }
        do {
            let result = try executor.run(job.call, on: job.model.name)
            waiters = job.key.map { cache.complete($0, value: result.body) } ?? [job.waiter]
            let stages: [(ServerStats.Stage, UInt64)] = [(.queue, queued), (.preprocess, result.preprocess), (.inference, result.inference)]
            for (index, waiter) in waiters.enumerated() {
                reply(waiter, body: result.body, metadata: index == 0 ? [:] : [MetadataKey.cache: "coalesced"], stages: index == 0 ? stages : [])
            }
        } catch {
            waiters = job.key.map { cache.complete($0, value: nil) } ?? [job.waiter]
            for waiter in waiters { reply(waiter, error: error) }
        }
    }

    private func setExecuting(_ delta: Int) {
        stopping.lock()
        executing += delta
        stopping.unlock()
    }

    // MARK: replies

    private func reply(_ waiter: Waiter, body: Data, metadata: [String: String] = [:], stages: [(ServerStats.Stage, UInt64)] = []) {
        var envelope = Glimpse_V1_ResponseEnvelope()
        envelope.requestID = waiter.requestID
        envelope.status = Int32(StatusCode.ok.rawValue)
        envelope.metadata = metadata
        envelope.body = body
        send(envelope, waiter, stages: stages)
    }

    private func reply(_ waiter: Waiter, error: any Error) {
        let failure = (error as? CallError) ?? (error as? any StatusError).map { CallError($0) } ?? CallError(.internal, "\(error)")
        var envelope = Glimpse_V1_ResponseEnvelope()
        envelope.requestID = waiter.requestID
        envelope.status = Int32(failure.status.rawValue)
        envelope.message = failure.description
        if failure.status == .internal { logger.error("internal error", metadata: ["error": "\(failure.description)"]) }
        send(envelope, waiter, stages: [])
    }

    private func send(_ envelope: Glimpse_V1_ResponseEnvelope, _ waiter: Waiter, stages: [(ServerStats.Stage, UInt64)]) {
        let frame = Frame.encode(envelope)
        // (A typed-throws closure here crashes Swift 6.3.1's IRGen, hence the Result.)
        let sent: Result<Void, NanomsgError> = frame.withUnsafeBytes { bytes in
            Result { () throws(NanomsgError) in try socket.reply(bytes, to: waiter.route) }
        }
        if case let .failure(error) = sent {
            logger.debug("reply not delivered", metadata: ["error": "\(error)", "request_id": "\(waiter.requestID)"])
        }
        let total = (monotonicNanoseconds() - waiter.received) / 1000
        stats.replied(StatusCode(rawValue: envelope.status) ?? .unknown, stages: [(.total, total)] + stages)
    }

    // MARK: small calls

    private func listModels() -> Glimpse_V1_ListModelsResponse {
        var response = Glimpse_V1_ListModelsResponse()
        response.defaultModel = defaultModel
        response.models = models.map { name in
            let model = loaded[name]!
            var summary = Glimpse_V1_ModelSummary()
            summary.name = name
            summary.version = model.version
            summary.inputSize = UInt32(model.classifier?.inputSize ?? 0)
            summary.parameters = UInt64(model.model.parameterCount)
            return summary
        }
        return response
    }

    private func metadata(_ model: LoadedModel) -> Glimpse_V1_ModelMetadataResponse {
        func spec(_ s: TensorSpec) -> Glimpse_V1_TensorSpec {
            var spec = Glimpse_V1_TensorSpec()
            spec.name = s.name
            spec.datatype = .fp32
            spec.shape = s.shape.map { Int64($0) }
            return spec
        }
        var response = Glimpse_V1_ModelMetadataResponse()
        response.name = model.name
        response.version = model.version
        response.inputs = model.model.inputs.map(spec)
        response.outputs = model.model.outputs.map(spec)
        response.parameters = UInt64(model.model.parameterCount)
        response.kernelVariant = model.model.kernelVariant
        if let info = model.classifier {
            response.inputSize = UInt32(info.inputSize)
            response.resizeRatio = Float(info.resizeRatio)
            response.mean = info.mean
            response.std = info.std
            response.labelCount = UInt32(info.labels.count)
        }
        return response
    }

    private func statistics() -> Glimpse_V1_StatsResponse {
        var response = Glimpse_V1_StatsResponse()
        stats.snapshot(into: &response)
        let cacheState = cache.snapshot()
        response.cacheHits = UInt64(cacheState.counters.hits)
        response.cacheMisses = UInt64(cacheState.counters.misses)
        response.cacheEvictions = UInt64(cacheState.counters.evictions)
        response.coalesced = UInt64(cacheState.counters.coalesced)
        response.cacheEntries = UInt64(cacheState.entries)
        response.cacheBytes = UInt64(cacheState.bytes)
        response.queueDepth = UInt32(queue.depth)
        stopping.lock()
        response.inFlight = UInt32(executing + queue.depth)
        stopping.unlock()
        response.workers = UInt32(configuration.workers)
        return response
    }
}

import SwiftProtobuf
