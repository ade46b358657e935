// Every kind of bad input gets an error reply with the right status, and the server keeps serving.
import Foundation
import GlimpseClient
import GlimpseCore
import GlimpseNanomsg
import GlimpseProtocol
import GlimpseServer
import Testing

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

    @Test func requestIDsAreEchoed() throws {
        let running = try RunningServer()
        defer { running.stop() }
        let reply = try rawCall(running.url, requestFrame(Method.health.rawValue, id: 0xDEAD_BEEF_1234))
        #expect(reply.requestID == 0xDEAD_BEEF_1234 && reply.status == 0)
    }

    @Test func floodBeyondTheQueueIsRefusedAtOnceAndEveryoneIsAnswered() async throws {
        let running = try RunningServer(workers: 1, queue: 2)
        defer { running.stop() }
        let client = running.client()
        let jpeg = try image("cat.jpg")
        let statuses = await withTaskGroup(of: StatusCode.self) { group in
            for _ in 0..<24 {
                group.addTask {
                    do { _ = try await client.classify(jpeg: jpeg, cache: false); return .ok } catch { return (error as? ClientError)?.status ?? .unknown }
                }
            }
            return await group.reduce(into: [StatusCode]()) { $0.append($1) }
        }
        #expect(statuses.count == 24)
        #expect(statuses.allSatisfy { $0 == .ok || $0 == .resourceExhausted }, "\(statuses)")
        #expect(statuses.contains(.resourceExhausted), "24 at once into 1 worker + 2 queue slots were all accepted")
        #expect(statuses.contains(.ok))
        let after = try await client.classify(jpeg: jpeg, cache: false)
        #expect((281...285).contains(Int(after.classes[0].index)))
    }

    @Test func deadlinePassedInTheQueueIsNotRun() async throws {
        let running = try RunningServer(workers: 1)
        defer { running.stop() }
        let client = running.client()
        let jpeg = try image("cat_large.jpg")
        // Keep the one worker busy, then queue calls that can only wait 1 ms.
        async let busy = client.classify(jpeg: jpeg, cache: false)
        let short = await withTaskGroup(of: StatusCode.self) { group in
            for _ in 0..<4 {
                group.addTask {
                    do { _ = try await client.classify(jpeg: jpeg, timeout: .milliseconds(1), cache: false); return .ok } catch { return (error as? ClientError)?.status ?? .unknown }
                }
            }
            return await group.reduce(into: [StatusCode]()) { $0.append($1) }
        }
        _ = try await busy
        #expect(short.allSatisfy { $0 == .deadlineExceeded }, "\(short)")
        let stats = try await client.stats()
        #expect((stats.repliesByStatus["DEADLINE_EXCEEDED"] ?? 0) >= 1, "the server answered none of them DEADLINE_EXCEEDED itself")
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
