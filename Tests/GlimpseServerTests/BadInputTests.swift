// Every kind of bad input gets an error reply with the right status, and the server keeps serving.
import Foundation
import GlimpseTestSupport
import GlimpseClient
import GlimpseCore
import GlimpseNanomsg
import GlimpseProtocol
import GlimpseServer
import Testing

/// `count` REQ sockets connected to `url`, with time for the connections to come up.
func connected(_ url: String, _ count: Int) throws -> [Socket] {
    let sockets = try (0..<count).map { _ in
        let socket = try Socket(.request)
        try socket.setResendInterval(milliseconds: Int(Int32.max))
        try socket.setReceiveTimeout(milliseconds: 30_000)
        try socket.connect(url)
        return socket
    }
    Thread.sleep(forTimeInterval: 0.2)
    return sockets
}

/// Sends every frame on its own socket at (nearly) the same moment, then collects the replies.
func burst(_ sockets: [Socket], _ frames: [[UInt8]]) throws -> [Glimpse_V1_ResponseEnvelope] {
    for (socket, frame) in zip(sockets, frames) { try frame.withUnsafeBytes { try socket.send($0) } }
    return try sockets.map { socket in try socket.receive().withUnsafeBytes { try Frame.decodeResponse($0) } }
}

@Suite(.serialized) struct BadInputTests {
    /// Each case: what is sent, the status expected; after each, a good call must still be answered.
    static func cases() throws -> [(name: String, frame: [UInt8], status: StatusCode)] {
        let jpeg = try image("cat.jpg")
        var wrongVersion = Frame.encode(Glimpse_V1_RequestEnvelope())
        wrongVersion[4] = 9
        var wrongKind = Frame.encode(Glimpse_V1_RequestEnvelope())
        wrongKind[5] = 2
        func tensorBody(shape: [Int64], bytes: Int, datatype: Glimpse_V1_DataType = .fp32) throws -> Data {
            var request = Glimpse_V1_ClassifyRequest()
            request.tensor.datatype = datatype
            request.tensor.shape = shape
            request.tensor.rawContents = Data(count: bytes)
            return try request.serializedData()
        }
        let classify = Method.classify.rawValue
        return [
            ("random bytes", (0..<300).map { _ in UInt8.random(in: 0...255) }, .invalidArgument),
            ("empty frame", [], .invalidArgument),
            ("wrong magic", Array("HTTP/1.1 GET /\r\n".utf8), .invalidArgument),
            ("wrong version", wrongVersion, .invalidArgument),
            ("response kind", wrongKind, .invalidArgument),
            ("envelope not protobuf", Frame.header(.request) + [0xFF, 0xFF, 0xFF], .invalidArgument),
            ("unknown method", requestFrame("/glimpse.v1.Glimpse/Train"), .unimplemented),
            ("body not protobuf", requestFrame(classify, body: Data([0x0A, 0xFF])), .invalidArgument),
            ("no input", requestFrame(classify, body: Data()), .invalidArgument),
            ("unknown model", requestFrame(classify, body: try classifyBody(jpeg, model: "lite9")), .notFound),
            ("truncated JPEG", requestFrame(classify, body: try classifyBody(jpeg.prefix(jpeg.count / 3))), .invalidArgument),
            ("not a JPEG", requestFrame(classify, body: try classifyBody(Data("GIF89a........".utf8))), .invalidArgument),
            ("tensor wrong shape", requestFrame(classify, body: try tensorBody(shape: [1, 3, 200, 200], bytes: 480_000)), .invalidArgument),
            ("tensor wrong dtype", requestFrame(classify, body: try tensorBody(shape: [1, 3, 224, 224], bytes: 602_112, datatype: .unspecified)), .invalidArgument),
            ("tensor wrong byte count", requestFrame(classify, body: try tensorBody(shape: [1, 3, 224, 224], bytes: 1000)), .invalidArgument),
            ("payload over the limit", requestFrame(classify, body: try classifyBody(Data(count: 3 << 20))), .resourceExhausted),
            ("deadline already expired", requestFrame(classify, body: try classifyBody(jpeg), deadlineUnixMs: 1_000), .deadlineExceeded),
            ("unknown health service", requestFrame(Method.health.rawValue, body: { var r = Glimpse_V1_HealthRequest(); r.service = "x"; return try! r.serializedData() }()), .notFound),
        ]
    }

    @Test func everyBadInputGetsItsStatusAndTheServerKeepsServing() async throws {
        let running = try RunningServer()
        defer { running.stop() }
        let client = running.client()
        var table: [String] = []
        for (name, frame, status) in try Self.cases() {
            let reply = try rawCall(running.url, frame)
            #expect(reply.status == status.rawValue, "\(name): got \(reply.status) \(reply.message)")
            #expect(!reply.message.isEmpty, "\(name): an error reply must say what was wrong")
            let good = try await client.classify(jpeg: image("cat.jpg"), topK: 1)
            #expect((281...285).contains(Int(good.classes[0].index)), "\(name): the next good call was not answered right")
            table.append("  \(name) → \(StatusCode(rawValue: reply.status)?.name ?? "?") \"\(reply.message.prefix(90))\" → still serving")
        }
        print("bad input table:\n" + table.joined(separator: "\n"))
    }

    @Test(arguments: [UInt64.max, 1 << 63, 1_000_000_000_000_000])
    func deadlinesTooFarAheadMeanNoDeadline(unixMs: UInt64) async throws {
        let running = try RunningServer()
        defer { running.stop() }
        let reply = try rawCall(running.url, requestFrame(Method.health.rawValue, deadlineUnixMs: unixMs))
        #expect(reply.status == 0, "\(reply.message)")
        let good = try await running.client().classify(jpeg: image("cat.jpg"), topK: 1)
        #expect((281...285).contains(Int(good.classes[0].index)))
    }

    @Test func requestIDsAreEchoed() throws {
        let running = try RunningServer()
        defer { running.stop() }
        let reply = try rawCall(running.url, requestFrame(Method.health.rawValue, id: 0xDEAD_BEEF_1234))
        #expect(reply.requestID == 0xDEAD_BEEF_1234 && reply.status == 0)
    }

    @Test func floodBeyondTheQueueIsRefusedAtOnceAndEveryoneIsAnswered() async throws {
        let running = try RunningServer(workers: 1, queue: 2)
        defer { running.stop() }
        let frame = requestFrame(Method.classify.rawValue, body: try classifyBody(image("cat_large.jpg")),
                                 metadata: [MetadataKey.cache: "no"])
        let replies = try burst(connected(running.url, 24), Array(repeating: frame, count: 24))
        let statuses = replies.map { StatusCode(rawValue: $0.status) }
        #expect(replies.count == 24, "every request is answered")
        #expect(statuses.allSatisfy { $0 == .ok || $0 == .resourceExhausted }, "\(statuses)")
        // One running, two queued: the rest arrived while the queue was full.
        #expect(statuses.filter { $0 == .resourceExhausted }.count >= 20, "\(statuses)")
        #expect(statuses.contains(.ok))
        let after = try await running.client().classify(jpeg: image("cat.jpg"), cache: false)
        #expect((281...285).contains(Int(after.classes[0].index)))
    }

    @Test func deadlinePassedInTheQueueIsNotRun() async throws {
        let running = try RunningServer(workers: 1)
        defer { running.stop() }
        let body = try classifyBody(image("cat_large.jpg"))
        // Sixteen calls keep the one worker busy for ~200 ms (a margin for a test thread that is
        // descheduled on a loaded machine: eight, ~100 ms, once let the worker drain the queue
        // before the short calls arrived); the others arrive with 1 ms to live behind them and
        // can only expire in the queue.
        let busyCount = 16
        let sockets = try connected(running.url, busyCount + 4)
        let busy = Array(sockets.prefix(busyCount))
        for (index, socket) in busy.enumerated() {
            try requestFrame(Method.classify.rawValue, body: body, id: UInt64(index), metadata: [MetadataKey.cache: "no"])
                .withUnsafeBytes { try socket.send($0) }
        }
        let client = running.client()
        while try await client.stats().inFlight < busyCount { try await Task.sleep(for: .microseconds(200)) }
        var frames: [[UInt8]] = []
        for id in 10..<14 {
            var envelope = Glimpse_V1_RequestEnvelope()
            envelope.method = Method.classify.rawValue
            envelope.requestID = UInt64(id)
            envelope.body = body
            envelope.timeoutMs = 1
            envelope.metadata = [MetadataKey.cache: "no"]
            frames.append(Frame.encode(envelope))
        }
        let replies = try burst(Array(sockets.suffix(4)), frames)
        for socket in busy {
            #expect(try socket.receive().withUnsafeBytes { try Frame.decodeResponse($0) }.status == StatusCode.ok.rawValue)
        }
        for reply in replies {
            #expect(reply.status == StatusCode.deadlineExceeded.rawValue, "\(reply.requestID): \(reply.message)")
        }
        let stats = try await running.client().stats()
        // Each short call was answered without running: inference ran only for the busy ones.
        #expect(stats.latencies.first { $0.stage == "inference" }?.count == UInt64(busyCount))
    }

    @Test func oversizedFrameIsDroppedAndTheServerKeepsServing() async throws {
        // NN_RCVMAXSIZE: nanomsg drops a frame over --max-message-mb and closes the connection it came on.
        let running = try RunningServer(maxMessageBytes: 1 << 20, maxPayloadBytes: 512 << 10)
        defer { running.stop() }
        let frame = requestFrame(Method.classify.rawValue, body: try classifyBody(Data(count: 2 << 20)))
        #expect(throws: NanomsgError.self) { try rawCall(running.url, frame, timeoutMs: 1000) }
        let good = try await running.client().classify(jpeg: image("cat.jpg"), topK: 1)
        #expect((281...285).contains(Int(good.classes[0].index)))
    }
}
