// Prometheus metrics: swift-metrics handles on a registry of this server's own, scraped by the admin port.
import CoreMetrics
import Foundation
import GlimpseCore
import GlimpseProtocol
import Prometheus

/// Which method and model a reply is counted under: small indices, so the hot path hashes two
/// integers instead of building label strings. Set on the front as the request is understood.
struct MetricLabels: Hashable, Sendable {
    /// Index into `Method.allCases`; `unknownMethod` for an unknown method or an unreadable frame.
    var method: UInt8 = MetricLabels.unknownMethod
    /// Index into the server's models; `noModel` when the call names none or an unknown one.
    var model: UInt16 = MetricLabels.noModel

    static let unknownMethod = UInt8.max
    static let noModel = UInt16.max
}

/// The server's metrics. Every handle is made with this server's own factory, never the
/// process-global `MetricsSystem`, so several servers in one process (the tests) count apart
/// and nothing needs `MetricsSystem.bootstrap`, which may only run once per process.
public final class ServerMetrics: @unchecked Sendable {
    /// Everything this server exports; `exposition()` renders it.
    public let registry: PrometheusCollectorRegistry
    private let factory: PrometheusMetricsFactory
    private let modelNames: [String]

    /// Latency buckets from 100 µs (a cache hit on loopback) to 10 s (a large model on a busy box).
    static let latencyBuckets: [Duration] = [
        .microseconds(100), .microseconds(250), .microseconds(500),
        .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
        .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
        .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10),
    ]

    private struct RequestKey: Hashable {
        var labels: MetricLabels
        var status: Int32
    }

    private struct LatencyKey: Hashable {
        var labels: MetricLabels
        var stage: ServerStats.Stage
    }

    /// Handles made on first use and kept: a reply costs one integer-keyed lookup per metric,
    /// not a registry search with label strings.
    private let handlesLock = NSLock()
    private var requests: [RequestKey: CoreMetrics.Counter] = [:]
    private var latencies: [LatencyKey: CoreMetrics.Timer] = [:]

    /// Refreshed at each scrape from the sources of truth the Stats call also reads.
    private let scrapeLock = NSLock()
    private let cacheHits, cacheMisses, cacheEvictions, coalesced: CoreMetrics.Counter
    private let cacheBytes, cacheEntries, queueDepth, inFlight: CoreMetrics.Gauge
    private var lastCacheCounts = (hits: 0, misses: 0, evictions: 0, coalesced: 0)

    init(models: [String]) {
        registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.durationHistogramBuckets = ["glimpse_request_duration_seconds": Self.latencyBuckets]
        self.factory = factory
        modelNames = models
        cacheHits = CoreMetrics.Counter(label: "glimpse_cache_hits_total", factory: factory)
        cacheMisses = CoreMetrics.Counter(label: "glimpse_cache_misses_total", factory: factory)
        cacheEvictions = CoreMetrics.Counter(label: "glimpse_cache_evictions_total", factory: factory)
        coalesced = CoreMetrics.Counter(label: "glimpse_coalesced_total", factory: factory)
        cacheBytes = CoreMetrics.Gauge(label: "glimpse_cache_bytes", factory: factory)
        cacheEntries = CoreMetrics.Gauge(label: "glimpse_cache_entries", factory: factory)
        queueDepth = CoreMetrics.Gauge(label: "glimpse_queue_depth", factory: factory)
        inFlight = CoreMetrics.Gauge(label: "glimpse_in_flight", factory: factory)
    }

    /// Set once at start: what this binary is and how it runs.
    func started(version: String, kernels: String, workers: Int) {
        CoreMetrics.Gauge(label: "glimpse_build_info", dimensions: [("version", version), ("kernels", kernels)], factory: factory).record(1)
        CoreMetrics.Gauge(label: "glimpse_workers", factory: factory).record(workers)
    }

    func modelLoaded(_ name: String, seconds: Double) {
        CoreMetrics.Gauge(label: "glimpse_model_load_seconds", dimensions: [("model", name)], factory: factory).record(seconds)
    }

    /// Counts one reply and the time of each stage it has.
    func replied(_ labels: MetricLabels, status: Int32, times: StageTimes) {
        requestCounter(labels, status).increment()
        times.forEach { stage, micros in timer(labels, stage).recordMicroseconds(micros) }
    }

    /// Brings the scrape-time metrics up to date, then renders everything in the Prometheus text format.
    func exposition(cache: (hits: Int, misses: Int, evictions: Int, coalesced: Int), cacheBytes bytes: Int,
                    cacheEntries entries: Int, queueDepth depth: Int, inFlight flying: Int) -> [UInt8] {
        scrapeLock.lock()
        // The cache keeps its own counters (the Stats call reports them); the Prometheus counters
        // follow them by difference, so both always agree and the hot path pays nothing twice.
        cacheHits.increment(by: cache.hits - lastCacheCounts.hits)
        cacheMisses.increment(by: cache.misses - lastCacheCounts.misses)
        cacheEvictions.increment(by: cache.evictions - lastCacheCounts.evictions)
        coalesced.increment(by: cache.coalesced - lastCacheCounts.coalesced)
        lastCacheCounts = cache
        cacheBytes.record(bytes)
        cacheEntries.record(entries)
        queueDepth.record(depth)
        inFlight.record(flying)
        scrapeLock.unlock()
        return registry.emitToBuffer()
    }

    // MARK: handles

    private func requestCounter(_ labels: MetricLabels, _ status: Int32) -> CoreMetrics.Counter {
        let key = RequestKey(labels: labels, status: status)
        handlesLock.lock()
        defer { handlesLock.unlock() }
        if let counter = requests[key] { return counter }
        let name = StatusCode(rawValue: status)?.name ?? "\(status)"
        let counter = CoreMetrics.Counter(label: "glimpse_requests_total", dimensions: dimensions(labels) + [("status", name)], factory: factory)
        requests[key] = counter
        return counter
    }

    private func timer(_ labels: MetricLabels, _ stage: ServerStats.Stage) -> CoreMetrics.Timer {
        let key = LatencyKey(labels: labels, stage: stage)
        handlesLock.lock()
        defer { handlesLock.unlock() }
        if let timer = latencies[key] { return timer }
        let timer = CoreMetrics.Timer(label: "glimpse_request_duration_seconds", dimensions: dimensions(labels) + [("stage", stage.rawValue)],
                                      factory: factory)
        latencies[key] = timer
        return timer
    }

    private func dimensions(_ labels: MetricLabels) -> [(String, String)] {
        let method = Int(labels.method) < Method.allCases.count ? Method.allCases[Int(labels.method)].shortName : "unknown"
        let model = Int(labels.model) < modelNames.count ? modelNames[Int(labels.model)] : ""
        return [("method", method), ("model", model)]
    }
}

extension Method {
    /// "Classify" for "/glimpse.v1.Glimpse/Classify": the metrics label.
    var shortName: String { String(rawValue.split(separator: "/").last ?? "") }
}
