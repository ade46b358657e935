// The admin port against a real server: health, models, REST classify, bad uploads, metrics, shutdown.
import Foundation
import GlimpseAdmin
import GlimpseClient
import GlimpseCore
import GlimpseServer
import GlimpseTestSupport
import Testing

private let cats = 281...285  // ImageNet: tabby, tiger cat, Persian, Siamese, Egyptian cat

@Suite(.serialized) struct AdminTests {
    @Test func healthAndReadinessAnswerWhileServing() async throws {
        try await withRunningAdmin { running in
            let health = try await running.get("/healthz")
            #expect(health.status == 200)
            #expect(try health.json()["status"] as? String == "alive")
            let ready = try await running.get("/readyz")
            #expect(ready.status == 200, "\(ready.text)")
            #expect(try ready.json()["status"] as? String == "ready")
            #expect(ready.headers["content-type"]?.hasPrefix("application/json") == true)
        }
    }

    @Test func readyzIs503UntilTheWorkersRun() async throws {
        try await withRunningAdmin(run: false) { running in
            let ready = try await running.get("/readyz")
            #expect(ready.status == 503)
            #expect(try ready.json()["status"] as? String == "not ready")
            #expect(try await running.get("/healthz").status == 200, "alive even when not ready")
        }
    }

    @Test func listsTheModels() async throws {
        try await withRunningAdmin { running in
            let reply = try await running.get("/v1/models")
            #expect(reply.status == 200)
            let models = try #require(try reply.json()["models"] as? [[String: Any]])
            #expect(models.count == 1)
            #expect(models[0]["name"] as? String == "lite0")
            #expect(models[0]["input_size"] as? Int == 224)
            #expect(models[0]["input_height"] as? Int == 224 && models[0]["input_width"] as? Int == 224)
            #expect(models[0]["layout"] as? String == "NCHW")
            #expect((models[0]["parameters"] as? Int ?? 0) > 4_000_000)
            #expect(models[0]["default"] as? Bool == true)
            #expect((models[0]["version"] as? String)?.isEmpty == false)
        }
    }

    @Test func listsAndClassifiesWithNHWCAndNonSquareModelsWithoutMetadata() async throws {
        let folder = try TinyClassifier.folder([
            "keras_export_nhwc": TinyClassifier.onnx(height: 224, width: 224, layout: .nhwc),
            "wide_240x320": TinyClassifier.onnx(height: 240, width: 320, layout: .nchw),
        ])
        defer { try? FileManager.default.removeItem(at: folder) }
        try await withRunningAdmin(models: ["keras_export_nhwc", "wide_240x320"], modelsDirectory: folder) { running in
            let list = try await running.get("/v1/models")
            let models = try #require(try list.json()["models"] as? [[String: Any]])
            #expect(models.map { $0["name"] as? String } == ["keras_export_nhwc", "wide_240x320"])
            #expect(models[0]["layout"] as? String == "NHWC" && models[0]["input_size"] as? Int == 224)
            #expect(models[1]["layout"] as? String == "NCHW" && models[1]["input_size"] as? Int == 0)
            #expect(models[1]["input_height"] as? Int == 240 && models[1]["input_width"] as? Int == 320)
            for name in ["keras_export_nhwc", "wide_240x320"] {
                let reply = try await running.post("/v1/models/\(name)/classify", try image("cat.jpg"), headers: ["Content-Type": "image/jpeg"])
                #expect(reply.status == 200, "\(name): \(reply.text)")
                let classes = try #require(try reply.json()["classes"] as? [[String: Any]])
                // Three outputs, no labels: the index is all a class has.
                #expect(classes.count == 3 && classes.allSatisfy { ($0["label"] as? String) == "" }, "\(name): \(classes)")
            }
        }
    }

    @Test func classifiesTheCatAndSharesTheCacheWithRPC() async throws {
        try await withRunningAdmin { running in
            let jpeg = try image("cat.jpg")
            let reply = try await running.post("/v1/models/lite0/classify?top_k=3", jpeg, headers: ["Content-Type": "image/jpeg"])
            #expect(reply.status == 200, "\(reply.text)")
            let body = try reply.json()
            let classes = try #require(body["classes"] as? [[String: Any]])
            #expect(classes.count == 3)
            #expect(cats.contains(classes[0]["index"] as? Int ?? -1), "\(classes)")
            #expect((classes[0]["label"] as? String)?.isEmpty == false)
            #expect(body["model"] as? String == "lite0")
            #expect(body["cache"] as? String == "miss")
            let timing = try #require(body["timing"] as? [String: Int])
            #expect(timing["inference_us"]! > 0 && timing["total_us"]! >= timing["inference_us"]!)
            // The same call over nanomsg is the same cache entry: one dispatch, one cache.
            let rpc = try await running.client().classify(jpeg: jpeg, topK: 3)
            #expect(rpc.classes.map(\.index) == classes.map { Int32($0["index"] as! Int) })
            let again = try await running.post("/v1/models/lite0/classify?top_k=3", jpeg)
            #expect(try again.json()["cache"] as? String == "hit")
        }
    }

    @Test func badUploadsGetAClear4xx() async throws {
        try await withRunningAdmin(maxPayloadBytes: 1 << 20) { running in
            let jpeg = try image("cat.jpg")
            let cases: [(name: String, path: String, body: Data, http: Int, status: String, mentions: String)] = [
                ("empty body", "/v1/models/lite0/classify", Data(), 400, "INVALID_ARGUMENT", "empty"),
                ("garbage", "/v1/models/lite0/classify", Data("GIF89a, not a JPEG at all".utf8), 400, "INVALID_ARGUMENT", "JPEG"),
                ("truncated JPEG", "/v1/models/lite0/classify", jpeg.prefix(jpeg.count / 3), 400, "INVALID_ARGUMENT", "truncated"),
                ("unknown model", "/v1/models/lite9/classify", jpeg, 404, "NOT_FOUND", "lite9"),
                ("over the payload limit", "/v1/models/lite0/classify", Data(count: (1 << 20) + 1), 413, "RESOURCE_EXHAUSTED", "limit"),
                ("bad top_k", "/v1/models/lite0/classify?top_k=zero", jpeg, 400, "INVALID_ARGUMENT", "top_k"),
                ("no such route", "/v2/nothing", jpeg, 404, "NOT_FOUND", "no route"),
            ]
            for (name, path, body, http, status, mentions) in cases {
                let reply = try await running.post(path, body)
                #expect(reply.status == http, "\(name): \(reply.status) \(reply.text)")
                let json = try reply.json()
                #expect(json["status"] as? String == status, "\(name): \(reply.text)")
                let message = json["message"] as? String ?? ""
                #expect(message.localizedCaseInsensitiveContains(mentions), "\(name): \(message)")
            }
            // Chunked, so no Content-Length to refuse it by: refused once the bytes read pass the limit.
            let big = Data(count: 3 << 19)
            let chunked = Data("\(String(big.count, radix: 16))\r\n".utf8) + big + Data("\r\n0\r\n\r\n".utf8)
            let streamed = try await running.post("/v1/models/lite0/classify", chunked, headers: ["Transfer-Encoding": "chunked"])
            #expect(streamed.status == 413, "\(streamed.text)")
            #expect(try streamed.json()["status"] as? String == "RESOURCE_EXHAUSTED")
            // Still serving.
            let good = try await running.post("/v1/models/lite0/classify?top_k=1", jpeg)
            #expect(good.status == 200)
        }
    }

    @Test func metricsCountWhatWasSent() async throws {
        try await withRunningAdmin { running in
            let client = running.client()
            let jpeg = try image("cat.jpg")
            let rpcCalls = 3, restCalls = 4
            for _ in 0..<rpcCalls { _ = try await client.classify(jpeg: jpeg, topK: 3) }
            for _ in 0..<restCalls { #expect(try await running.post("/v1/models/lite0/classify?top_k=3", jpeg).status == 200) }
            #expect(try await running.post("/v1/models/lite0/classify", Data("nope".utf8)).status == 400)
            #expect(try await running.post("/v1/models/lite9/classify", jpeg).status == 404)
            _ = try await client.health()

            let scrape = try await running.get("/metrics")
            #expect(scrape.status == 200)
            #expect(scrape.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8")
            let metrics = samples(scrape.text)
            let ok = ["method": "Classify", "model": "lite0", "status": "OK"]
            #expect(metrics.value("glimpse_requests_total", ok) == Double(rpcCalls + restCalls), "\(scrape.text)")
            #expect(metrics.value("glimpse_requests_total", ["method": "Classify", "model": "lite0", "status": "INVALID_ARGUMENT"]) == 1)
            #expect(metrics.value("glimpse_requests_total", ["method": "Classify", "model": "", "status": "NOT_FOUND"]) == 1)
            #expect(metrics.value("glimpse_requests_total", ["method": "Health", "status": "OK"]) == 1)
            // One image, seven identical calls: one computed, six answered from the cache (or joined).
            #expect(metrics.value("glimpse_cache_misses_total") == 2, "the cat and the garbage")
            #expect(metrics.value("glimpse_cache_hits_total") + metrics.value("glimpse_coalesced_total") == Double(rpcCalls + restCalls - 1))
            #expect(metrics.value("glimpse_cache_entries") == 1)
            #expect(metrics.value("glimpse_cache_bytes") > Double(jpeg.count))
            // Every reply has a total latency; the computed ones (the cat once, the garbage once) their stages.
            #expect(metrics.value("glimpse_request_duration_seconds_count", ["method": "Classify", "model": "lite0", "stage": "total"])
                == Double(rpcCalls + restCalls + 1))
            #expect(metrics.value("glimpse_request_duration_seconds_count", ["stage": "inference"]) == 1)
            #expect(metrics.value("glimpse_request_duration_seconds_bucket", ["stage": "total", "method": "Classify", "model": "lite0", "le": "+Inf"])
                == Double(rpcCalls + restCalls + 1))
            #expect(metrics.value("glimpse_build_info", ["version": glimpseVersion]) == 1)
            #expect(metrics.value("glimpse_model_load_seconds", ["model": "lite0"]) > 0)
            #expect(metrics.value("glimpse_queue_depth") == 0 && metrics.value("glimpse_in_flight") == 0)
            #expect(metrics.value("glimpse_workers") == 2)
        }
    }

    @Test func twoServersInOneProcessCountApart() async throws {
        try await withRunningAdmin { first in
            try await withRunningAdmin { second in
                _ = try await first.client().health()
                _ = try await first.client().health()
                _ = try await second.client().health()
                let a = samples(try await first.get("/metrics").text), b = samples(try await second.get("/metrics").text)
                #expect(a.value("glimpse_requests_total", ["method": "Health"]) == 2)
                #expect(b.value("glimpse_requests_total", ["method": "Health"]) == 1)
            }
        }
    }

    @Test func stoppingTheServerClosesTheAdminPort() async throws {
        let running = try await RunningAdmin()
        #expect(try await running.get("/healthz").status == 200)
        await running.stop()
        #expect(running.server.readiness == .stopping)
        await #expect(throws: HTTPError.self) { try await running.get("/healthz") }
    }

    @Test func demoPageIsServedWithItsHooks() async throws {
        try await withRunningAdmin { running in
            let page = try await running.get("/")
            #expect(page.status == 200)
            #expect(page.headers["content-type"] == "text/html; charset=utf-8")
            for hook in ["id=\"file\"", "id=\"model\"", "id=\"results\"", "id=\"error\"", "id=\"timing-roundtrip\"", "/v1/models"] {
                #expect(page.text.contains(hook), "\(hook)")
            }
            #expect(!page.text.contains("http://") && !page.text.contains("https://"), "no external assets")
        }
    }
}

@Suite struct AdminAddressTests {
    @Test(arguments: [("127.0.0.1:8080", true), ("127.1.2.3:0", true), ("localhost:9090", true), ("[::1]:8080", true),
                      ("0.0.0.0:8080", false), ("192.168.1.10:80", false), ("[::]:8080", false), ("example.com:80", false)])
    func loopbackIsRecognised(text: String, loopback: Bool) throws {
        #expect(try AdminAddress(parsing: text).isLoopback == loopback)
    }

    @Test(arguments: ["127.0.0.1", "127.0.0.1:http", ":8080", "127.0.0.1:70000", "::1:8080", "[::1:8080"])
    func badAddressesAreRefused(text: String) {
        #expect(throws: AdminError.self) { try AdminAddress(parsing: text) }
    }

    @Test func ipv6IsParsed() throws {
        let address = try AdminAddress(parsing: "[::1]:9000")
        #expect(address.host == "::1" && address.port == 9000 && address.description == "[::1]:9000")
    }
}
