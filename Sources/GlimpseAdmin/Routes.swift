// The admin port's routes: health, metrics, and the REST face of ListModels and Classify.
import Foundation
import GlimpseCore
import GlimpseProtocol
import GlimpseServer
import Hummingbird
import NIOCore

struct AdminRoutes: Sendable {
    let server: Server

    func router() -> Router<BasicRequestContext> {
        let router = Router()
        // First, so it also wraps the not-found responder: every error leaves as {status, message}.
        router.add(middleware: ErrorBodyMiddleware())
        router.get("/") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-cache"],
                     body: .init(byteBuffer: ByteBuffer(string: DemoPage.html)))
        }
        router.get("/healthz") { _, _ in json(.ok, ["status": "alive"]) }
        router.get("/readyz") { _, _ in readiness() }
        router.get("/metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                     body: .init(byteBuffer: ByteBuffer(bytes: server.metricsExposition())))
        }
        router.get("/v1/models") { _, _ in try await models() }
        router.post("/v1/models/:name/classify") { request, context in
            try await classify(request, model: context.parameters.get("name") ?? "")
        }
        return router
    }

    // MARK: health

    private func readiness() -> Response {
        switch server.readiness {
        case .ready:
            struct Ready: Encodable { var status = "ready", models: [String], workers: Int }
            return json(.ok, Ready(models: server.models, workers: server.configuration.workers))
        case .starting:
            return json(.serviceUnavailable, ["status": "not ready", "reason": "the workers are starting"])
        case .stopping:
            return json(.serviceUnavailable, ["status": "not ready", "reason": "the server is shutting down"])
        }
    }

    // MARK: calls into the server

    /// Sends `body` as `method` through the server's own dispatch; a non-OK status becomes an error response.
    private func call(_ method: GlimpseProtocol.Method, _ body: some SwiftProtobuf.Message, timeoutMs: UInt32 = 0,
                      metadata: [String: String] = [:]) async throws -> LocalReply {
        var envelope = Glimpse_V1_RequestEnvelope()
        envelope.method = method.rawValue
        envelope.body = try body.serializedData()
        envelope.timeoutMs = timeoutMs
        envelope.metadata = metadata
        let reply = await server.call(envelope)
        guard reply.envelope.status == StatusCode.ok.rawValue else {
            throw GlimpseHTTPError(StatusCode(rawValue: reply.envelope.status) ?? .unknown, reply.envelope.message)
        }
        return reply
    }

    private func models() async throws -> Response {
        let reply = try await call(.listModels, Glimpse_V1_ListModelsRequest())
        let list = try Glimpse_V1_ListModelsResponse(serializedBytes: reply.envelope.body)
        // input_size is the side of a square input (0 otherwise), as in ListModels; input_height,
        // input_width and layout ("NCHW", "NHWC"; "" for a model that is not an image classifier) always say.
        struct Model: Encodable {
            var name: String, version: String, input_size: UInt32, input_height: UInt32, input_width: UInt32, layout: String
            var parameters: UInt64, `default`: Bool
        }
        struct Models: Encodable { var models: [Model], default_model: String }
        return json(.ok, Models(models: list.models.map {
            Model(name: $0.name, version: $0.version, input_size: $0.inputSize, input_height: $0.inputHeight,
                  input_width: $0.inputWidth, layout: Self.layoutName($0.layout), parameters: $0.parameters,
                  default: $0.name == list.defaultModel)
        }, default_model: list.defaultModel))
    }

    private func classify(_ request: Request, model: String) async throws -> Response {
        let query = request.uri.queryParameters
        var classify = Glimpse_V1_ClassifyRequest()
        classify.model = model
        classify.topK = try Self.number(query, "top_k", in: 1...1000) ?? 0
        let timeoutMs: UInt32 = try Self.number(query, "timeout_ms", in: 1...86_400_000) ?? 0
        let bypassCache = query.get("cache").map { ["no", "false", "0"].contains($0.lowercased()) } ?? false
        classify.jpeg = try await Self.body(of: request, limit: server.configuration.maxPayloadBytes)
        let reply = try await call(.classify, classify, timeoutMs: timeoutMs, metadata: bypassCache ? [MetadataKey.cache: "no"] : [:])
        let response = try Glimpse_V1_ClassifyResponse(serializedBytes: reply.envelope.body)
        let cache = reply.envelope.metadata[MetadataKey.cache] ?? "miss"
        // A hit computed nothing now: its body still carries the first computation's times.
        let computed = cache != "hit"
        return json(.ok, ClassifyJSON(
            model: response.model, version: response.modelVersion,
            classes: response.classes.map { ClassifyJSON.Class(index: $0.index, label: $0.label, probability: $0.probability) },
            timing: .init(queue_us: reply.queueMicros, preprocess_us: computed ? response.timing.preprocessUs : 0,
                          inference_us: computed ? response.timing.inferenceUs : 0, total_us: reply.totalMicros),
            cache: cache))
    }

    static func layoutName(_ layout: Glimpse_V1_Layout) -> String {
        switch layout {
        case .nchw: "NCHW"
        case .nhwc: "NHWC"
        default: ""
        }
    }

    struct ClassifyJSON: Encodable {
        struct Class: Encodable { var index: Int32, label: String, probability: Float }
        struct Timing: Encodable { var queue_us, preprocess_us, inference_us, total_us: UInt64 }
        var model: String, version: String, classes: [Class], timing: Timing, cache: String
    }

    /// The request body, refused with 413 past `limit` (the server's --max-payload-mb): by its
    /// Content-Length before reading, or as soon as the bytes read pass the limit.
    static func body(of request: Request, limit: Int) async throws -> Data {
        func tooLarge(_ declared: Int?) -> GlimpseHTTPError {
            GlimpseHTTPError(.resourceExhausted, "body \(declared.map { "of \($0) bytes " } ?? "")is over this server's limit of \(limit) bytes (--max-payload-mb)",
                             http: .contentTooLarge)
        }
        if let declared = request.headers[.contentLength].flatMap(Int.init), declared > limit { throw tooLarge(declared) }
        var data = Data()
        for try await chunk in request.body {
            guard data.count + chunk.readableBytes <= limit else { throw tooLarge(nil) }
            data.append(contentsOf: chunk.readableBytesView)
        }
        return data
    }

    /// An optional integer query parameter in `range`; anything else is a 400 naming it.
    static func number<N: FixedWidthInteger>(_ query: Parameters, _ name: String, in range: ClosedRange<Int>) throws -> N? {
        guard let text = query.get(name) else { return nil }
        guard let value = Int(text), range.contains(value) else {
            throw GlimpseHTTPError(.invalidArgument, "query parameter \(name)=\(text) must be an integer from \(range.lowerBound) to \(range.upperBound)")
        }
        return N(value)
    }
}

// MARK: JSON and errors

func json(_ status: HTTPResponse.Status, _ value: some Encodable) -> Response {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    let data = (try? encoder.encode(value)) ?? Data("{}".utf8)
    return Response(status: status, headers: [.contentType: "application/json; charset=utf-8"],
                    body: .init(byteBuffer: ByteBuffer(bytes: data)))
}

/// A failure answered as JSON `{"status": "INVALID_ARGUMENT", "message": "..."}` with the HTTP
/// status that gRPC code maps to.
struct GlimpseHTTPError: HTTPResponseError {
    var code: StatusCode
    var message: String
    var status: HTTPResponse.Status

    init(_ code: StatusCode, _ message: String, http: HTTPResponse.Status? = nil) {
        self.code = code
        self.message = message
        status = http ?? Self.httpStatus(code)
    }

    /// gRPC code → HTTP status, as grpc-gateway maps them (RESOURCE_EXHAUSTED → 429: the queue is full, retry).
    static func httpStatus(_ code: StatusCode) -> HTTPResponse.Status {
        switch code {
        case .ok: .ok
        case .invalidArgument, .failedPrecondition, .outOfRange: .badRequest
        case .notFound: .notFound
        case .alreadyExists, .aborted: .conflict
        case .permissionDenied: .forbidden
        case .unauthenticated: .unauthorized
        case .resourceExhausted: .tooManyRequests
        case .deadlineExceeded: .gatewayTimeout
        case .unimplemented: .notImplemented
        case .unavailable: .serviceUnavailable
        case .cancelled: .init(code: 499, reasonPhrase: "Client Closed Request")
        case .unknown, .internal, .dataLoss: .internalServerError
        }
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        var response = json(status, ["status": code.name, "message": message])
        if code == .resourceExhausted, status == .tooManyRequests { response.headers[.retryAfter] = "1" }
        return response
    }
}

/// Gives Hummingbird's own errors (no route, a body it would not read) the same JSON shape.
struct ErrorBodyMiddleware: RouterMiddleware {
    typealias Context = BasicRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError {
            let code: StatusCode = switch error.status.code {
            case 400: .invalidArgument
            case 404: .notFound
            case 405: .unimplemented
            case 413: .resourceExhausted
            case 503: .unavailable
            default: error.status.code < 500 ? .invalidArgument : .internal
            }
            let message = error.body ?? (error.status == .notFound
                ? "no route for \(request.method) \(request.uri.path); try GET /, /healthz, /readyz, /metrics, /v1/models or POST /v1/models/NAME/classify"
                : error.status.reasonPhrase)
            throw GlimpseHTTPError(code, message, http: error.status)
        }
    }
}

import SwiftProtobuf
