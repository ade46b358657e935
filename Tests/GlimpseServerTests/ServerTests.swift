// A real server on an ipc:// path of its own, driven by the real client and by raw frames.
import Foundation
import GlimpseClient
import GlimpseCore
import GlimpseNanomsg
import GlimpseProtocol
import GlimpseServer
import GlimpseTestSupport
import Testing

func image(_ name: String) throws -> Data { try TestData.image(name) }

extension RunningServer {
    func client(timeout: Duration = .seconds(20)) -> GlimpseClient { GlimpseClient(url: url, timeout: timeout) }
}

/// Sends raw bytes on a REQ socket and decodes whatever comes back.
func rawCall(_ url: String, _ frame: [UInt8], timeoutMs: Int = 20_000) throws -> Glimpse_V1_ResponseEnvelope {
    let socket = try Socket(.request)
    try socket.setResendInterval(milliseconds: Int(Int32.max))
    try socket.setReceiveTimeout(milliseconds: timeoutMs)
    try socket.connect(url)
    try frame.withUnsafeBytes { try socket.send($0) }
    let reply = try socket.receive()
    return try reply.withUnsafeBytes { try Frame.decodeResponse($0) }
}

func requestFrame(_ method: String, body: Data = Data(), id: UInt64 = 7, metadata: [String: String] = [:],
                  deadlineUnixMs: UInt64 = 0) -> [UInt8] {
    var envelope = Glimpse_V1_RequestEnvelope()
    envelope.method = method
    envelope.requestID = id
    envelope.body = body
    envelope.metadata = metadata
    envelope.deadlineUnixMs = deadlineUnixMs
    return Frame.encode(envelope)
}

func classifyBody(_ jpeg: Data, model: String = "") throws -> Data {
    var request = Glimpse_V1_ClassifyRequest()
    request.model = model
    request.jpeg = jpeg
    return try request.serializedData()
}

@Suite(.serialized) struct ServerTests {
    @Test func classifiesOverTheWireLikeTheLocalEngine() async throws {
        let running = try RunningServer()
        defer { running.stop() }
        let client = running.client()
        let response = try await client.classify(jpeg: image("cat.jpg"), topK: 3)
        #expect(response.model == "lite0" && response.classes.count == 3)
        #expect((281...285).contains(Int(response.classes[0].index)))
        #expect(response.classes[0].label == "Egyptian cat")
        let health = try await client.health()
        #expect(health.status == .serving)
        let models = try await client.listModels()
        #expect(models.models.map(\.name) == ["lite0"] && models.defaultModel == "lite0")
        let metadata = try await client.modelMetadata("lite0")
        #expect(metadata.inputSize == 224 && metadata.labelCount == 1000 && metadata.inputs[0].shape == [1, 3, 224, 224])
        #expect(metadata.inputHeight == 224 && metadata.inputWidth == 224 && metadata.layout == .nchw)
        #expect(models.models[0].inputHeight == 224 && models.models[0].layout == .nchw)
    }

    @Test func repeatsAreAnsweredFromTheCacheUnlessTheCallerOptsOut() async throws {
        let running = try RunningServer()
        defer { running.stop() }
        let client = running.client()
        let jpeg = try image("coffee.jpg")
        let first = try await client.classify(jpeg: jpeg)
        let second = try await client.classify(jpeg: jpeg)
        #expect(first.classes == second.classes)
        var stats = try await client.stats()
        #expect(stats.cacheHits == 1 && stats.cacheMisses == 1 && stats.cacheEntries == 1)
        _ = try await client.classify(jpeg: jpeg, cache: false)
        stats = try await client.stats()
        #expect(stats.cacheHits == 1, "an opted-out call must not read the cache")
        // Another image, or another top-k, is another call.
        _ = try await client.classify(jpeg: jpeg, topK: 2)
        _ = try await client.classify(jpeg: image("cat.jpg"))
        stats = try await client.stats()
        #expect(stats.cacheHits == 1 && stats.cacheMisses == 3)
    }

    @Test func theLeastRecentlyUsedResultIsEvictedFirst() async throws {
        // Room for two of these (35, 52 and 72 KB images; keys hold the image bytes), not three.
        let running = try RunningServer(cacheBytes: 150_000)
        defer { running.stop() }
        let client = running.client()
        let (a, b, c) = (try image("cat.jpg"), try image("rocket.jpg"), try image("coffee.jpg"))
        _ = try await client.classify(jpeg: a)
        _ = try await client.classify(jpeg: b)
        _ = try await client.classify(jpeg: a) // a is now the most recent
        _ = try await client.classify(jpeg: c) // evicts b, the least recent
        var stats = try await client.stats()
        #expect(stats.cacheEvictions == 1 && stats.cacheEntries == 2 && stats.cacheBytes <= 150_000)
        _ = try await client.classify(jpeg: a)
        stats = try await client.stats()
        #expect(stats.cacheHits == 2, "a should have stayed")
        _ = try await client.classify(jpeg: b)
        stats = try await client.stats()
        #expect(stats.cacheHits == 2 && stats.cacheMisses == 4, "b should have been evicted")
    }

    @Test func inferReturnsTheRawLogitsOfClassify() async throws {
        let running = try RunningServer()
        defer { running.stop() }
        let client = running.client()
        // A preprocessed tensor: all zeros is a valid (grey) input of the right shape.
        var request = Glimpse_V1_InferRequest()
        var tensor = Glimpse_V1_Tensor()
        tensor.name = "input"
        tensor.datatype = .fp32
        tensor.shape = [1, 3, 224, 224]
        tensor.rawContents = Data(count: 3 * 224 * 224 * 4)
        request.inputs = [tensor]
        let response = try await client.infer(request)
        #expect(response.outputs.count == 1 && response.outputs[0].shape == [1, 1000])
        let logits = response.outputs[0].rawContents.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        var classify = Glimpse_V1_ClassifyRequest()
        classify.tensor = tensor
        classify.topK = 1
        let top: Glimpse_V1_ClassifyResponse = try await client.call(.classify, classify)
        #expect(Int(top.classes[0].index) == logits.indices.max { logits[$0] < logits[$1] })
    }

    @Test func namingTheDefaultModelOrNoneIsTheSameCall() async throws {
        let running = try RunningServer()
        defer { running.stop() }
        let client = running.client()
        let jpeg = try image("rocket.jpg")
        _ = try await client.classify(jpeg: jpeg, model: "")
        _ = try await client.classify(jpeg: jpeg, model: "lite0")
        let stats = try await client.stats()
        #expect(stats.cacheMisses == 1 && stats.cacheHits == 1)
    }

    @Test func identicalConcurrentCallsAreComputedOnce() async throws {
        let running = try RunningServer(workers: 1)
        defer { running.stop() }
        let client = running.client()
        let jpeg = try image("astronaut.jpg")
        let answers = try await withThrowingTaskGroup(of: [Glimpse_V1_Classification].self) { group in
            for _ in 0..<8 { group.addTask { try await client.classify(jpeg: jpeg).classes } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(Set(answers.map { $0.map(\.index) }).count == 1)
        let stats = try await client.stats()
        #expect(stats.cacheMisses == 1, "8 identical calls ran the model \(stats.cacheMisses) times")
        #expect(stats.coalesced + stats.cacheHits == 7)
    }

    @Test func repliesNeverCross() async throws {
        let running = try RunningServer(workers: 2)
        defer { running.stop() }
        let client = running.client()
        let names = ["cat.jpg", "coffee.jpg", "rocket.jpg", "motorcycle.jpg"]
        var expected: [String: Int32] = [:]
        for name in names { expected[name] = try await client.classify(jpeg: image(name), cache: false).classes[0].index }
        try await withThrowingTaskGroup(of: (String, Int32).self) { group in
            for round in 0..<24 {
                let name = names[round % names.count]
                let jpeg = try image(name)
                group.addTask { (name, try await client.classify(jpeg: jpeg, cache: false).classes[0].index) }
            }
            for try await (name, index) in group { #expect(index == expected[name], "\(name) got another image's answer") }
        }
    }

    @Test func stopFinishesWhatIsInFlightAndReturns() async throws {
        let running = try RunningServer(workers: 1)
        let client = running.client()
        let jpeg = try image("cat.jpg")
        async let answer = client.classify(jpeg: jpeg, cache: false)
        // Wait until the front has taken the classify call (the stats call counts itself too).
        while try await client.stats().requests < 2 { try await Task.sleep(for: .milliseconds(1)) }
        running.stop() // returns only once run() has returned
        let classes = try await answer.classes
        #expect((281...285).contains(Int(classes[0].index)))
    }
}
