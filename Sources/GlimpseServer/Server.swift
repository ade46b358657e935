// The server: a front thread on a raw REP socket, a bounded queue, worker threads, the cache.
import Foundation
import GlimpseCore
import GlimpseEngine
import GlimpseNanomsg
import GlimpseProtocol
import Logging

public final class Server: @unchecked Sendable {
    /// Where a reply goes: back along a nanomsg request's route, or to an in-process caller.
    enum Sink: Sendable {
        case route(Route)
        case local(CheckedContinuation<LocalReply, Never>)
    }

    /// Someone waiting for a call's result: where to send it and under which request id.
    struct Waiter: Sendable {
        var sink: Sink
        var requestID: UInt64
        /// Monotonic nanoseconds; .max for none.
        var deadline: UInt64
        var received: UInt64
        var labels = MetricLabels()
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
    /// Prometheus metrics, on a registry of this server's own.
    public let metrics: ServerMetrics
    private let logger = Logger(label: "glimpse.server")
    private let stopping = NSCondition()
    private var stopRequested = false
    private var workersUp = false
    private var executing = 0
    private var stopHooks: [@Sendable () -> Void] = []
    private let workersDone = DispatchGroup()

    /// Loads the models and binds every listen URL; `run()` then serves.
    public init(_ configuration: ServerConfiguration) throws {
        self.configuration = configuration
        let repository = ModelRepository(directory: configuration.modelsDirectory)
        let names = configuration.models ?? repository.names()
        guard !names.isEmpty else {
            throw CallError(.failedPrecondition, "no models in \(configuration.modelsDirectory.path): run scripts/setup")
        }
        let metrics = ServerMetrics(models: names)
        var loaded: [String: LoadedModel] = [:]
        for (index, name) in names.enumerated() {
            let start = monotonicNanoseconds()
            var options = LoadOptions()
            options.kernels = configuration.kernels
            loaded[name] = LoadedModel(name: name, model: try repository.load(name, options: options), index: index, logger: logger)
            let nanoseconds = monotonicNanoseconds() - start
            metrics.modelLoaded(name, seconds: Double(nanoseconds) / 1e9)
            logger.info("loaded model", metadata: ["model": "\(name)", "ms": "\(nanoseconds / 1_000_000)",
                                                   "arena_mb": "\(loaded[name]!.model.arenaBytes >> 20)"])
        }
        let defaultModel = configuration.defaultModel ?? names[0]
        guard loaded[defaultModel] != nil else { throw EngineError.modelNotFound(defaultModel, available: names) }
        metrics.started(version: glimpseVersion, kernels: loaded[defaultModel]!.model.kernelVariant, workers: configuration.workers)
        self.metrics = metrics
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
        stopping.lock()
        workersUp = true
        stopping.unlock()
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
        stopping.lock()
        let hooks = stopHooks
        stopHooks = []
        stopping.unlock()
        for hook in hooks { hook() }
        logger.info("stopped", metadata: ["requests": "\(stats.requestCount)"])
    }

    /// Asks `run()` to finish; safe from any thread (a signal handler's queue, say).
    public func stop() {
        stopping.lock()
        stopRequested = true
        stopping.unlock()
    }

    /// Runs `hook` at the end of `run()`, once everything queued and in flight has been answered:
    /// where companions such as the admin HTTP port stop, so `run()` returning means all is down.
    public func onStop(_ hook: @escaping @Sendable () -> Void) {
        stopping.lock()
        stopHooks.append(hook)
        stopping.unlock()
    }

    public enum Readiness: Sendable {
        /// Models loaded, `run()` not yet started the workers.
        case starting
        /// Workers up: requests are served.
        case ready
        /// `stop()` was called: finishing what is in flight.
        case stopping
    }

    /// Whether requests are served now (`/readyz`).
    public var readiness: Readiness {
        stopping.lock(); defer { stopping.unlock() }
        return stopRequested ? .stopping : workersUp ? .ready : .starting
    }

    private var isStopping: Bool {
        stopping.lock(); defer { stopping.unlock() }
        return stopRequested
    }

    // MARK: front

    private func handle(_ incoming: consuming Incoming) {
        let received = monotonicNanoseconds()
        let envelope: Glimpse_V1_RequestEnvelope
        do { envelope = try Frame.decodeRequest(incoming.bytes) } catch {
            stats.received()
            return reply(Waiter(sink: .route(incoming.route), requestID: 0, deadline: .max, received: received), error: CallError(error))
        }
        dispatch(envelope, to: .route(incoming.route), received: received)
    }

    /// Calls the server in-process, exactly as a nanomsg request would: same validation, cache,
    /// coalescing, queue, deadlines, status codes and metrics; the reply comes back here instead
    /// of along a route. Never blocks: the caller is suspended until a worker (or the front) answers.
    public func call(_ envelope: Glimpse_V1_RequestEnvelope) async -> LocalReply {
        let received = monotonicNanoseconds()
        return await withCheckedContinuation { continuation in
            dispatch(envelope, to: .local(continuation), received: received)
        }
    }

    /// Answers or queues one request; runs on the front thread, or on an in-process caller's.
    /// Everything it touches is immutable or guarded by its own lock.
    private func dispatch(_ envelope: Glimpse_V1_RequestEnvelope, to sink: Sink, received: UInt64) {
        stats.received()
        let deadline = Self.deadline(received: received, timeoutMs: envelope.timeoutMs, unixMs: envelope.deadlineUnixMs,
                                     nowUnixMs: UInt64(max(0, Date().timeIntervalSince1970 * 1000)))
        let method = Method(rawValue: envelope.method)
        var waiter = Waiter(sink: sink, requestID: envelope.requestID, deadline: deadline, received: received)
        if let method { waiter.labels.method = UInt8(Method.allCases.firstIndex(of: method)!) }
        if deadline <= received {
            return reply(waiter, error: CallError(.deadlineExceeded, "the deadline had passed when the request arrived"))
        }
        do {
            switch method {
            case .classify?:
                let request = try parse(Glimpse_V1_ClassifyRequest.self, envelope.body)
                let model = try resolve(request.model, labelling: &waiter)
                try submit(Call.classify(request, model: model, maxPayload: configuration.maxPayloadBytes), model, envelope, waiter)
            case .infer?:
                let request = try parse(Glimpse_V1_InferRequest.self, envelope.body)
                let model = try resolve(request.model, labelling: &waiter)
                try submit(Call.infer(request, model: model, maxPayload: configuration.maxPayloadBytes), model, envelope, waiter)
            case .listModels?:
                reply(waiter, body: serialized(listModels()))
            case .modelMetadata?:
                let request = try parse(Glimpse_V1_ModelMetadataRequest.self, envelope.body)
                reply(waiter, body: serialized(metadata(try resolve(request.model, labelling: &waiter))))
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

    /// The model a call names (the default when none); labels the waiter's metrics with it.
    private func resolve(_ name: String, labelling waiter: inout Waiter) throws(CallError) -> LoadedModel {
        let name = name.isEmpty ? defaultModel : name
        guard let model = loaded[name] else { throw CallError(EngineError.modelNotFound(name, available: models)) }
        waiter.labels.model = UInt16(model.index)
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
            // A closed queue means the server is stopping (only in-process calls get here then).
            let error = isStopping
                ? CallError(.unavailable, "the server is shutting down")
                : CallError(.resourceExhausted, "server busy: \(queue.capacity) requests already queued for \(configuration.workers) workers")
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
            // Stage latencies are recorded once per computation, with the waiter that started it.
            for (index, waiter) in waiters.enumerated() {
                reply(waiter, body: result.body, metadata: index == 0 ? [:] : [MetadataKey.cache: "coalesced"],
                      computed: (queued, result.preprocess, result.inference), recordStages: index == 0)
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

    /// `computed`: the stage times of the computation that answered (nil for a hit or a small
    /// call); `recordStages`: whether this reply records them (only the one that started it).
    private func reply(_ waiter: Waiter, body: Data, metadata: [String: String] = [:],
                       computed: (queue: UInt64, preprocess: UInt64, inference: UInt64)? = nil, recordStages: Bool = true) {
        var envelope = Glimpse_V1_ResponseEnvelope()
        envelope.requestID = waiter.requestID
        envelope.status = Int32(StatusCode.ok.rawValue)
        envelope.metadata = metadata
        envelope.body = body
        send(envelope, waiter, computed: computed, recordStages: recordStages)
    }

    private func reply(_ waiter: Waiter, error: any Error) {
        let failure = (error as? CallError) ?? (error as? any StatusError).map { CallError($0) } ?? CallError(.internal, "\(error)")
        var envelope = Glimpse_V1_ResponseEnvelope()
        envelope.requestID = waiter.requestID
        envelope.status = Int32(failure.status.rawValue)
        envelope.message = failure.description
        if failure.status == .internal { logger.error("internal error", metadata: ["error": "\(failure.description)"]) }
        send(envelope, waiter, computed: nil, recordStages: false)
    }

    private func send(_ envelope: Glimpse_V1_ResponseEnvelope, _ waiter: Waiter,
                      computed: (queue: UInt64, preprocess: UInt64, inference: UInt64)?, recordStages: Bool) {
        let times = StageTimes(total: (monotonicNanoseconds() - waiter.received) / 1000, computed: recordStages ? computed : nil)
        // Counted before the reply leaves, so a caller that scrapes right after its reply sees it.
        stats.replied(StatusCode(rawValue: envelope.status) ?? .unknown, times: times)
        metrics.replied(waiter.labels, status: envelope.status, times: times)
        switch waiter.sink {
        case let .route(route):
            let frame = Frame.encode(envelope)
            // (A typed-throws closure here crashes Swift 6.3.1's IRGen, hence the Result.)
            let sent: Result<Void, NanomsgError> = frame.withUnsafeBytes { bytes in
                Result { () throws(NanomsgError) in try socket.reply(bytes, to: route) }
            }
            if case let .failure(error) = sent {
                logger.debug("reply not delivered", metadata: ["error": "\(error)", "request_id": "\(waiter.requestID)"])
            }
        case let .local(continuation):
            continuation.resume(returning: LocalReply(envelope: envelope, queueMicros: computed?.queue ?? 0, totalMicros: times.total))
        }
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
            summary.parameters = UInt64(model.model.parameterCount)
            if let info = model.classifier {
                summary.inputSize = info.inputHeight == info.inputWidth ? UInt32(info.inputHeight) : 0
                summary.inputHeight = UInt32(info.inputHeight)
                summary.inputWidth = UInt32(info.inputWidth)
                summary.layout = Glimpse_V1_Layout(info.layout)
            }
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
            response.inputSize = info.inputHeight == info.inputWidth ? UInt32(info.inputHeight) : 0
            response.inputHeight = UInt32(info.inputHeight)
            response.inputWidth = UInt32(info.inputWidth)
            response.layout = Glimpse_V1_Layout(info.layout)
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

    /// Every metric in the Prometheus text format (version 0.0.4), with the gauges read now.
    public func metricsExposition() -> [UInt8] {
        let cacheState = cache.snapshot()
        let counters = cacheState.counters
        stopping.lock()
        let running = executing
        stopping.unlock()
        let depth = queue.depth
        return metrics.exposition(cache: (counters.hits, counters.misses, counters.evictions, counters.coalesced),
                                  cacheBytes: cacheState.bytes, cacheEntries: cacheState.entries,
                                  queueDepth: depth, inFlight: running + depth)
    }
}

/// The answer to an in-process `Server.call`: the envelope a nanomsg caller would get, and the
/// times it would not see.
public struct LocalReply: Sendable {
    public var envelope: Glimpse_V1_ResponseEnvelope
    /// Microseconds the computation waited in the queue; 0 when nothing was computed for this
    /// call (a cache hit, or a call the front answers).
    public var queueMicros: UInt64
    /// Microseconds from the call reaching the server to its reply.
    public var totalMicros: UInt64
}

extension Glimpse_V1_Layout {
    /// The wire's name for an image layout.
    init(_ layout: ImageLayout) {
        switch layout {
        case .nchw: self = .nchw
        case .nhwc: self = .nhwc
        }
    }
}

import SwiftProtobuf
