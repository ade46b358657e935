// One REQ socket to the server: one call in flight at a time, blocking, so the caller's clock brackets it exactly.
import Foundation
import GlimpseCore
import GlimpseNanomsg
import GlimpseProtocol
import SwiftProtobuf

/// How one call ended.
enum Outcome {
    /// The server replied (OK or an error status).
    case reply(Glimpse_V1_ResponseEnvelope)
    /// No reply: our timeout passed, or the frame could not be sent. `name` is what the step's error
    /// table shows; it is marked as ours so it is not mistaken for a status the server sent.
    case local(name: String, message: String)

    var statusName: String {
        switch self {
        case let .reply(envelope): envelope.status == 0 ? "OK" : (StatusCode(rawValue: envelope.status)?.name ?? "STATUS_\(envelope.status)")
        case let .local(name, _): name
        }
    }
}

/// A REQ socket with a fixed timeout. Not for sharing: each load thread owns one.
final class Connection: @unchecked Sendable {
    private let socket: Socket
    let timeoutMs: Int

    init(url: String, timeoutMs: Int) throws(LoadError) {
        self.timeoutMs = timeoutMs
        do {
            socket = try Socket(.request)
            // No timed resends: a resend would be a second request the server counts and we do not.
            try socket.setResendInterval(milliseconds: Int(Int32.max))
            try socket.setSendTimeout(milliseconds: timeoutMs)
            try socket.setReceiveTimeout(milliseconds: timeoutMs)
            try socket.connect(url)
        } catch {
            throw LoadError(.unavailable, "cannot open a connection to \(url): \(error)")
        }
    }

    /// Sends one frame and waits for its reply (nanomsg's REQ socket drops replies to earlier,
    /// timed-out requests, so the reply is this request's).
    func exchange(_ frame: [UInt8]) -> Outcome {
        // (The Result form, as in the server: a typed-throws closure here trips Swift 6.3.1's IRGen.)
        let sent: Result<Void, NanomsgError> = frame.withUnsafeBytes { bytes in
            Result { () throws(NanomsgError) in try socket.send(bytes) }
        }
        if case let .failure(error) = sent {
            return .local(name: error.isTimeout ? "UNAVAILABLE (not sent)" : "UNAVAILABLE (send failed)", message: "\(error)")
        }
        do {
            let reply = try socket.receive()
            return .reply(try reply.withUnsafeBytes { bytes throws(FrameError) in try Frame.decodeResponse(bytes) })
        } catch let error as NanomsgError {
            return .local(name: error.isTimeout ? "DEADLINE_EXCEEDED (no reply)" : "UNAVAILABLE (receive failed)", message: "\(error)")
        } catch {
            return .local(name: "INTERNAL (malformed reply)", message: "\(error)")
        }
    }

    /// A whole call with a typed response, for the setup calls (Health, ListModels, Stats).
    func call<Response: SwiftProtobuf.Message>(_ method: GlimpseProtocol.Method, _ request: some SwiftProtobuf.Message,
                                               as: Response.Type = Response.self) throws(LoadError) -> Response {
        var envelope = Glimpse_V1_RequestEnvelope()
        envelope.method = method.rawValue
        envelope.timeoutMs = UInt32(clamping: timeoutMs)
        envelope.body = (try? request.serializedData()) ?? Data()
        switch exchange(Frame.encode(envelope)) {
        case let .local(name, message):
            throw LoadError(.unavailable, "\(method.rawValue): \(name): \(message)")
        case let .reply(reply):
            guard reply.status == 0 else {
                throw LoadError(StatusCode(rawValue: reply.status) ?? .unknown, "\(method.rawValue): \(reply.message)")
            }
            do { return try Response(serializedBytes: reply.body) } catch {
                throw LoadError(.internal, "\(method.rawValue): reply body is not a \(Response.protoMessageName)")
            }
        }
    }

    func stats() throws(LoadError) -> Glimpse_V1_StatsResponse {
        try call(.stats, Glimpse_V1_StatsRequest())
    }
}

/// The frame of Classify request `id` carrying `jpeg`.
func classifyFrame(jpeg: [UInt8], model: String, topK: Int, id: UInt64, timeoutMs: Int, bypassCache: Bool) -> [UInt8] {
    var request = Glimpse_V1_ClassifyRequest()
    request.model = model
    request.jpeg = Data(jpeg)
    request.topK = UInt32(topK)
    var envelope = Glimpse_V1_RequestEnvelope()
    envelope.method = GlimpseProtocol.Method.classify.rawValue
    envelope.requestID = id
    envelope.timeoutMs = UInt32(clamping: timeoutMs)
    if bypassCache { envelope.metadata = [MetadataKey.cache: "no"] }
    envelope.body = (try? request.serializedData()) ?? Data()
    return Frame.encode(envelope)
}
