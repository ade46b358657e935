// The Swift client: typed async calls to a Glimpse server over nanomsg REQ sockets.
import Dispatch
import Foundation
import GlimpseCore
import GlimpseNanomsg
import GlimpseProtocol
import SwiftProtobuf

/// A failed call: the server's status and message, or a local transport failure
/// (DEADLINE_EXCEEDED on timeout, UNAVAILABLE when nothing could be sent, INTERNAL for a malformed reply).
public struct ClientError: StatusError, Equatable {
    public var status: StatusCode
    public var message: String

    public init(_ status: StatusCode, _ message: String) {
        self.status = status
        self.message = message
    }

    public var description: String { "\(status.name): \(message)" }
}

/// A connection to one server. Calls may run concurrently: each takes a REQ socket from a
/// small pool (a REQ socket has one request in flight at a time) and gives it back after.
public final class GlimpseClient: @unchecked Sendable {
    public let url: String
    public let timeout: Duration
    private let lock = NSLock()
    private var idle: [Socket] = []
    private var nextID: UInt64 = 1

    public init(url: String, timeout: Duration = .seconds(10)) {
        self.url = url
        self.timeout = timeout
    }

    // MARK: calls

    public func classify(jpeg: Data, model: String = "", topK: Int = 5, timeout: Duration? = nil,
                         cache: Bool = true) async throws(ClientError) -> Glimpse_V1_ClassifyResponse {
        var request = Glimpse_V1_ClassifyRequest()
        request.model = model
        request.jpeg = jpeg
        request.topK = UInt32(topK)
        return try await call(.classify, request, timeout: timeout, metadata: cache ? [:] : [MetadataKey.cache: "no"])
    }

    public func infer(_ request: Glimpse_V1_InferRequest, timeout: Duration? = nil) async throws(ClientError) -> Glimpse_V1_InferResponse {
        try await call(.infer, request, timeout: timeout)
    }

    public func listModels() async throws(ClientError) -> Glimpse_V1_ListModelsResponse {
        try await call(.listModels, Glimpse_V1_ListModelsRequest())
    }

    public func modelMetadata(_ model: String) async throws(ClientError) -> Glimpse_V1_ModelMetadataResponse {
        var request = Glimpse_V1_ModelMetadataRequest()
        request.model = model
        return try await call(.modelMetadata, request)
    }

    public func health() async throws(ClientError) -> Glimpse_V1_HealthResponse {
        try await call(.health, Glimpse_V1_HealthRequest())
    }

    public func stats() async throws(ClientError) -> Glimpse_V1_StatsResponse {
        try await call(.stats, Glimpse_V1_StatsRequest())
    }

    /// Any call: the request is framed, sent, and the reply checked against its request id.
    public func call<Response: SwiftProtobuf.Message>(
        _ method: Method, _ request: some SwiftProtobuf.Message, timeout: Duration? = nil, metadata: [String: String] = [:]
    ) async throws(ClientError) -> Response {
        var envelope = Glimpse_V1_RequestEnvelope()
        envelope.method = method.rawValue
        envelope.requestID = takeID()
        let limit = timeout ?? self.timeout
        envelope.timeoutMs = UInt32(clamping: limit.components.seconds * 1000 + limit.components.attoseconds / 1_000_000_000_000_000)
        envelope.metadata = metadata
        do { envelope.body = try request.serializedData() } catch {
            throw ClientError(.internal, "cannot encode \(type(of: request)): \(error)")
        }
        let reply = try await exchange(Frame.encode(envelope), timeoutMs: Int(envelope.timeoutMs))
        let response: Glimpse_V1_ResponseEnvelope
        do { response = try reply.withUnsafeBytes { bytes throws(FrameError) in try Frame.decodeResponse(bytes) } } catch {
            throw ClientError(.internal, "malformed reply: \(error)")
        }
        guard response.requestID == envelope.requestID else {
            throw ClientError(.internal, "reply is for request \(response.requestID), not \(envelope.requestID)")
        }
        guard response.status == 0 else {
            throw ClientError(StatusCode(rawValue: response.status) ?? .unknown, response.message)
        }
        do { return try Response(serializedBytes: response.body) } catch {
            throw ClientError(.internal, "reply body is not a \(Response.protoMessageName): \(error)")
        }
    }

    // MARK: transport

    private func takeID() -> UInt64 {
        lock.lock(); defer { lock.unlock() }
        defer { nextID += 1 }
        return nextID
    }

    private func checkOut() throws(ClientError) -> Socket {
        lock.lock()
        let socket = idle.popLast()
        lock.unlock()
        if let socket { return socket }
        do {
            let socket = try Socket(.request)
            // No timed resends: the caller's timeout is the only clock. (libnanomsg still resends
            // at once when a connection drops and comes back, and has no option to stop that; the
            // server's coalescing and cache make such a repeat cheap.)
            try socket.setResendInterval(milliseconds: Int(Int32.max))
            try socket.connect(url)
            return socket
        } catch {
            throw ClientError(.unavailable, "\(error)")
        }
    }

    private func checkIn(_ socket: Socket) {
        lock.lock(); defer { lock.unlock() }
        idle.append(socket)
    }

    /// Sends a frame and waits for the reply on a pooled socket, off the caller's thread.
    private func exchange(_ frame: [UInt8], timeoutMs: Int) async throws(ClientError) -> [UInt8] {
        let socket = try checkOut()
        let result: Result<[UInt8], ClientError> = await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                do {
                    try socket.setSendTimeout(milliseconds: timeoutMs)
                    try socket.setReceiveTimeout(milliseconds: timeoutMs)
                    try frame.withUnsafeBytes { try socket.send($0) }
                    continuation.resume(returning: .success(try socket.receive()))
                } catch let error as NanomsgError {
                    continuation.resume(returning: .failure(ClientError(error.status, error.isTimeout
                        ? "no reply within \(timeoutMs) ms" : error.description)))
                } catch {
                    continuation.resume(returning: .failure(ClientError(.unavailable, "\(error)")))
                }
            }
        }
        // A socket that timed out still has a request outstanding; its next send cancels it, so it can be reused.
        checkIn(socket)
        return try result.get()
    }
}
