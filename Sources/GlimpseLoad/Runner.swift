// The load run: checks the server, then per sweep step warms up, snapshots Stats, drives load, snapshots again.
import Foundation
import GlimpseCore
import GlimpseProtocol
import Histogram

public struct LoadConfiguration: Sendable {
    public enum Mode: Sendable, Equatable {
        /// `concurrency[i]` requests in flight for step i, one per connection, each sent when the last returned.
        case closed(concurrency: [Int])
        /// Poisson arrivals at `rates[i]` per second for step i, over at most `maxOutstanding` connections.
        case open(rates: [Double], maxOutstanding: Int)
    }

    public enum Length: Sendable, Equatable {
        case seconds(Double)
        case requests(Int)
    }

    public var url: String
    public var model = "lite0"
    public var mode = Mode.closed(concurrency: [1, 2, 4, 8, 16])
    public var length = Length.seconds(10)
    /// Unrecorded load before each step's window, with the step's own settings.
    public var warmupSeconds = 1.0
    /// Per request: sent to the server as timeout_ms, and how long we wait for a reply.
    public var timeoutSeconds = 10.0
    public var topK = 5
    /// Fraction of requests that repeat an image the server has already answered.
    public var hitRatio = 0.0
    /// Ask the server to skip its cache for every request ("glimpse-cache: no").
    public var bypassCache = false
    public var seed: UInt64 = .random(in: 0...UInt64.max)

    public init(url: String) { self.url = url }

    public func validate() throws(LoadError) {
        _ = try Endpoint.checkLocal(url)
        func invalid(_ message: String) -> LoadError { LoadError(.invalidArgument, message) }
        switch mode {
        case let .closed(levels):
            guard !levels.isEmpty, levels.allSatisfy({ (1...1024).contains($0) }) else { throw invalid("each concurrency must be 1...1024") }
        case let .open(rates, outstanding):
            guard !rates.isEmpty, rates.allSatisfy({ $0 > 0 && $0 <= 1_000_000 }) else { throw invalid("each request rate must be above 0 and at most 1000000/s") }
            guard (1...1024).contains(outstanding) else { throw invalid("--max-outstanding must be 1...1024") }
        }
        switch length {
        case let .seconds(s): guard s > 0 && s <= 3600 else { throw invalid("--duration must be above 0 and at most 1 h") }
        case let .requests(n): guard n >= 1 && n <= 10_000_000 else { throw invalid("--requests must be 1...10000000") }
        }
        guard warmupSeconds >= 0 && warmupSeconds <= 600 else { throw invalid("--warmup must be 0...600 s") }
        guard timeoutSeconds >= 0.001 && timeoutSeconds <= 600 else { throw invalid("--timeout must be 1 ms...600 s") }
        guard (0...1).contains(hitRatio) else { throw invalid("--cache-hit-ratio must be between 0 and 1") }
        guard !(bypassCache && hitRatio > 0) else { throw invalid("--no-cache bypasses the server's cache, so there can be no cache hits: drop --cache-hit-ratio") }
        guard topK >= 1 else { throw invalid("--top must be at least 1") }
    }

    var timeoutMs: Int { Int((timeoutSeconds * 1000).rounded(.up)) }
}

public final class LoadRunner {
    public let configuration: LoadConfiguration
    private var images: ImageSet
    private let progress: ProgressLine?
    private var notes: [String] = []
    private var pool: [Connection] = []
    /// The next request's index: it names the request's payload, so it runs on across phases and
    /// steps and no two requests of a run share a unique image.
    private var nextIndex = 0

    public init(_ configuration: LoadConfiguration, images: ImageSet, progress: ProgressLine? = nil) {
        self.configuration = configuration
        self.images = images
        self.progress = progress
    }

    public func run() throws(LoadError) -> LoadReport {
        let config = configuration
        try config.validate()
        let started = Date()
        let control = try Connection(url: config.url, timeoutMs: config.timeoutMs)
        try checkServer(control)
        try probeImages(control)
        var tagBits = SystemRandomNumberGenerator()
        let mix = PayloadMix(images: images, hitRatio: config.hitRatio, seed: config.seed,
                             runTag: String(tagBits.next(), radix: 16))
        let workers = try control.stats().workers

        let steps: [(label: String, connections: Int, rate: Double?)] = switch config.mode {
        case let .closed(levels): levels.map { ("c=\($0)", $0, nil) }
        case let .open(rates, outstanding): rates.map { ("\(format($0, $0 == $0.rounded() ? 0 : 1))/s", outstanding, $0) }
        }
        var results: [StepResult] = []
        for (number, step) in steps.enumerated() {
            let connections = try connect(step.connections)
            if config.hitRatio > 0 { try prime(control, mix) }
            let arrivalSeed = config.seed &+ UInt64(number) &* 2
            if config.warmupSeconds > 0 {
                _ = runPhase(connections, mix: mix, rate: step.rate, length: .seconds(config.warmupSeconds), seed: arrivalSeed &+ 1,
                             describe: "[\(number + 1)/\(steps.count)] \(step.label) warm-up", quiet: true)
            }
            let before = try settledStats(control).stats
            let phase = runPhase(connections, mix: mix, rate: step.rate, length: config.length, seed: arrivalSeed,
                                 describe: "[\(number + 1)/\(steps.count)] \(step.label)", quiet: false)
            let (after, polls) = try settledStats(control)
            var result = phase.result(label: step.label, connections: step.connections, rate: step.rate)
            do { result.server = try ServerWindow(before: before, after: after, statsCallsBetween: polls - 1) } catch {
                note("\(step.label): \(error.description)")
            }
            results.append(result)
        }
        let length: (Double?, Int?) = switch config.length {
        case let .seconds(s): (s, nil)
        case let .requests(n): (nil, n)
        }
        return LoadReport(
            server: config.url, model: config.model, images: images.source, imageCount: images.count,
            mode: { if case .open = config.mode { "open" } else { "closed" } }(),
            durationSeconds: length.0, requestsPerStep: length.1, warmupSeconds: config.warmupSeconds,
            timeoutSeconds: config.timeoutSeconds, requestedHitRatio: config.hitRatio, cacheBypassed: config.bypassCache,
            seed: config.seed, serverWorkers: Int(workers), started: ISO8601DateFormatter().string(from: started),
            notes: notes, steps: results)
    }

    // MARK: setup

    /// The server answers, is SERVING, and has the model.
    private func checkServer(_ control: Connection) throws(LoadError) {
        let health: Glimpse_V1_HealthResponse
        do { health = try control.call(.health, Glimpse_V1_HealthRequest()) } catch {
            throw LoadError(.unavailable, "no Glimpse server answered at \(configuration.url) within \(format(configuration.timeoutSeconds, 1)) s (\(error.description))")
        }
        guard health.status == .serving else { throw LoadError(.unavailable, "the server at \(configuration.url) is \(health.status), not SERVING") }
        let models: Glimpse_V1_ListModelsResponse = try control.call(.listModels, Glimpse_V1_ListModelsRequest())
        guard models.models.contains(where: { $0.name == configuration.model }) else {
            throw LoadError(.notFound, "model '\(configuration.model)' not found on the server; loaded: \(models.models.map(\.name).joined(separator: ", "))")
        }
    }

    /// Sends every image once (cache bypassed, so it leaves nothing behind) and drops the ones the
    /// server refuses as bad input (a test set may hold deliberately broken or tiny files).
    private func probeImages(_ control: Connection) throws(LoadError) {
        var refused: Set<Int> = []
        for (index, jpeg) in images.jpegs.enumerated() {
            let outcome = control.exchange(classifyFrame(jpeg: jpeg, model: configuration.model, topK: configuration.topK,
                                                         id: 0, timeoutMs: configuration.timeoutMs, bypassCache: true))
            switch outcome {
            case let .reply(reply) where reply.status == StatusCode.ok.rawValue:
                continue
            case let .reply(reply) where reply.status == StatusCode.invalidArgument.rawValue:
                refused.insert(index)
                note("skipping \(images.names[index]): the server refuses it: \(reply.message)")
            case let .reply(reply):
                throw LoadError(StatusCode(rawValue: reply.status) ?? .unknown, "\(images.names[index]) was answered \(outcome.statusName): \(reply.message)")
            case let .local(name, message):
                throw LoadError(.unavailable, "\(images.names[index]): \(name): \(message)")
            }
        }
        guard refused.count < images.count else { throw LoadError(.invalidArgument, "the server refuses every image in \(images.source)") }
        images = images.removing(refused)
    }

    /// A Stats snapshot taken once the server has recorded a reply for every request it has received
    /// but this one, and how many Stats calls that took.
    ///
    /// The server sends a reply before it records it in its stats, so a snapshot taken the moment our
    /// last reply arrives can miss it. Polling until replies + 1 = requests closes that gap; if other
    /// clients keep the server busy it never holds, so after half a second the snapshot is taken anyway.
    private func settledStats(_ control: Connection) throws(LoadError) -> (stats: Glimpse_V1_StatsResponse, polls: Int) {
        let giveUp = monotonicNow() + 500_000_000
        var polls = 0
        while true {
            let stats = try control.stats()
            polls += 1
            let replied = stats.repliesByStatus.values.reduce(0, +)
            if replied + 1 >= stats.requests || monotonicNow() > giveUp { return (stats, polls) }
            usleep(1000)
        }
    }

    /// Sends the hot set and waits for each answer, so repeats in the window are cache hits.
    private func prime(_ control: Connection, _ mix: PayloadMix) throws(LoadError) {
        for jpeg in mix.hot {
            let outcome = control.exchange(classifyFrame(jpeg: jpeg, model: configuration.model, topK: configuration.topK,
                                                         id: 0, timeoutMs: configuration.timeoutMs, bypassCache: false))
            guard case let .reply(reply) = outcome, reply.status == 0 else {
                throw LoadError(.unavailable, "priming the cache failed: \(outcome.statusName)")
            }
        }
    }

    /// `count` connections, each checked with a Health call (so the first timed request does not
    /// pay for connecting); kept across steps.
    private func connect(_ count: Int) throws(LoadError) -> [Connection] {
        while pool.count < count {
            let connection = try Connection(url: configuration.url, timeoutMs: configuration.timeoutMs)
            let _: Glimpse_V1_HealthResponse = try connection.call(.health, Glimpse_V1_HealthRequest())
            pool.append(connection)
        }
        return Array(pool.prefix(count))
    }

    private func note(_ message: String) {
        notes.append(message)
        progress?.note(message)
    }

    // MARK: load

    /// Drives one phase to its end on `connections` threads and returns what they measured.
    private func runPhase(_ connections: [Connection], mix: PayloadMix, rate: Double?, length: LoadConfiguration.Length,
                          seed: UInt64, describe label: String, quiet: Bool) -> PhaseTotals {
        let config = configuration
        let dispatcher = Dispatcher(firstIndex: nextIndex, rate: rate, seed: seed, length: length,
                                    expireAfterNs: UInt64(config.timeoutSeconds * 1e9))
        let tallies = connections.map { _ in Tally() }
        let live = LiveCounts()
        progress?.begin { [dispatcher] in
            let (ok, failed) = live.snapshot
            let elapsed = Double(monotonicNow() - dispatcher.start) / 1e9
            let planned = switch length {
            case let .seconds(s): "/\(format(s, s == s.rounded() ? 0 : 1)) s"
            case let .requests(n): " s, \(ok + failed)/\(n) requests"
            }
            return "\(label): \(format(elapsed, 1))\(planned), \(format(Double(ok) / max(elapsed, 1e-9), 1)) ok/s, \(failed) errors"
        }
        let group = DispatchGroup()
        for (number, (connection, tally)) in zip(connections, tallies).enumerated() {
            group.enter()
            let thread = Thread {
                drive(connection, tally, dispatcher, mix, config, live)
                group.leave()
            }
            thread.name = "glimpse-load-\(number)"
            thread.start()
        }
        group.wait()
        nextIndex = dispatcher.issuedThrough
        let totals = PhaseTotals(tallies, dispatcher)
        if quiet {
            progress?.endQuietly()
        } else {
            let l = LatencySummary(totals.latency)
            progress?.end("\(label): \(totals.sent) sent in \(format(totals.seconds, 1)) s, \(format(Double(totals.ok) / totals.seconds, 1)) ok/s, "
                          + "p50 \(format(Double(l.p50) / 1000, 2)) ms, p99 \(format(Double(l.p99) / 1000, 2)) ms, "
                          + "\(totals.errors.values.reduce(0, +)) errors")
        }
        return totals
    }
}

/// One load thread: take a ticket, build its frame, wait for its intended time (open loop), send,
/// wait for the reply, record; until the dispatcher has no more.
private func drive(_ connection: Connection, _ tally: Tally, _ dispatcher: Dispatcher, _ mix: PayloadMix,
                   _ config: LoadConfiguration, _ live: LiveCounts) {
    while let ticket = dispatcher.claim() {
        let (jpeg, repeated) = mix.jpeg(for: ticket.index)
        let frame = classifyFrame(jpeg: jpeg, model: config.model, topK: config.topK, id: UInt64(ticket.index) + 1,
                                  timeoutMs: config.timeoutMs, bypassCache: config.bypassCache)
        if let intended = ticket.intended, intended > monotonicNow() { sleepUntil(intended) }
        let sent = monotonicNow()
        let outcome = connection.exchange(frame)
        let done = monotonicNow()
        // Open loop: from the intended time, so waiting for a free connection is part of the latency.
        let from = ticket.intended ?? sent
        tally.sent += 1
        if repeated { tally.repeats += 1 }
        tally.lastReply = max(tally.lastReply, done)
        if let intended = ticket.intended { _ = tally.lag.record(min((sent - min(sent, intended)) / 1000, 600_000_000)) }
        if case let .reply(reply) = outcome, reply.status == 0 {
            tally.ok += 1
            _ = tally.latency.record(min(max(1, (done - from) / 1000), 600_000_000))
            live.add(ok: true)
        } else {
            let name = outcome.statusName
            tally.errors[name, default: 0] += 1
            if tally.examples[name] == nil {
                tally.examples[name] = switch outcome {
                case let .reply(reply): reply.message
                case let .local(_, message): message
                }
            }
            live.add(ok: false)
        }
    }
}

/// What one load thread measured; written only by its thread, read after the phase's threads are joined.
private final class Tally: @unchecked Sendable {
    var latency = LatencySummary.histogram()
    var lag = LatencySummary.histogram()
    var errors: [String: Int] = [:]
    var examples: [String: String] = [:]
    var ok = 0, sent = 0, repeats = 0
    var lastReply: UInt64 = 0
}

/// A ticket for one request: its index and, in open loop, when it should leave (monotonic ns).
@_spi(Testing) public struct Ticket: Sendable {
    public var index: Int
    public var intended: UInt64?
}

/// Hands out tickets to the load threads in order, and says when a phase is over.
///
/// Closed loop: a ticket whenever a thread asks, until the phase's time or count is used up.
/// Open loop: tickets carry the Poisson schedule's times; a thread that is free early sleeps until
/// its ticket's time, and when every thread is busy the next ticket simply waits, its latency
/// clock already running. An arrival still unsent after the timeout has missed its deadline:
/// it is counted as expired and skipped, which also bounds how long an overloaded phase drains.
@_spi(Testing) public final class Dispatcher: @unchecked Sendable {
    public let start: UInt64
    private let stateLock = NSLock() // guards everything below
    private var next: Int
    private var issued = 0
    private(set) var expired = 0
    private var arrivals: PoissonArrivals?
    private var nextArrival: UInt64 = 0
    private let length: LoadConfiguration.Length
    private let expireAfterNs: UInt64

    public init(firstIndex: Int, rate: Double?, seed: UInt64, length: LoadConfiguration.Length, expireAfterNs: UInt64,
                start: UInt64 = monotonicNow()) {
        next = firstIndex
        self.length = length
        self.expireAfterNs = expireAfterNs
        self.start = start
        if let rate {
            var arrivals = PoissonArrivals(rate: rate, seed: seed)
            nextArrival = start + arrivals.next()
            self.arrivals = arrivals
        }
    }

    /// The index the next phase starts from.
    public var issuedThrough: Int {
        stateLock.lock(); defer { stateLock.unlock() }
        return next
    }

    public var expiredCount: Int {
        stateLock.lock(); defer { stateLock.unlock() }
        return expired
    }

    public func claim(now: UInt64 = monotonicNow()) -> Ticket? {
        stateLock.lock(); defer { stateLock.unlock() }
        guard arrivals != nil else {
            switch length {
            case let .seconds(s): guard now < start + UInt64(s * 1e9) else { return nil }
            case let .requests(n): guard issued < n else { return nil }
            }
            return take(intended: nil)
        }
        while true {
            switch length {
            case let .seconds(s): guard nextArrival < start + UInt64(s * 1e9) else { return nil }
            case let .requests(n): guard issued + expired < n else { return nil }
            }
            let intended = nextArrival
            nextArrival = start + arrivals!.next()
            if now > intended + expireAfterNs {
                expired += 1
                continue
            }
            return take(intended: intended)
        }
    }

    private func take(intended: UInt64?) -> Ticket {
        defer { next += 1; issued += 1 }
        return Ticket(index: next, intended: intended)
    }
}

/// A phase's tallies merged.
struct PhaseTotals {
    var latency = LatencySummary.histogram()
    var lag = LatencySummary.histogram()
    var errors: [String: Int] = [:]
    var examples: [String: String] = [:]
    var ok = 0, sent = 0, repeats = 0, expired = 0
    var seconds: Double
    var open: Bool

    fileprivate init(_ tallies: [Tally], _ dispatcher: Dispatcher) {
        for tally in tallies {
            latency.add(tally.latency)
            lag.add(tally.lag)
            errors.merge(tally.errors, uniquingKeysWith: +)
            examples.merge(tally.examples) { first, _ in first }
            ok += tally.ok
            sent += tally.sent
            repeats += tally.repeats
        }
        expired = dispatcher.expiredCount
        if expired > 0 { errors["DEADLINE_EXCEEDED (expired unsent)", default: 0] += expired }
        let end = tallies.map(\.lastReply).max() ?? dispatcher.start
        seconds = max(Double(end - min(end, dispatcher.start)) / 1e9, 1e-9)
        open = dispatcher.isOpenLoop
    }

    func result(label: String, connections: Int, rate: Double?) -> StepResult {
        StepResult(label: label, mode: open ? "open" : "closed", connections: connections, targetRate: rate, seconds: seconds,
                   sent: sent, expiredUnsent: expired, ok: ok, errors: errors, errorMessages: examples,
                   throughput: Double(ok) / seconds, sendRate: Double(sent) / seconds, latencyUs: LatencySummary(latency),
                   sendLagUs: open ? LatencySummary(lag) : nil, repeats: repeats, server: nil)
    }
}

extension Dispatcher {
    var isOpenLoop: Bool {
        stateLock.lock(); defer { stateLock.unlock() }
        return arrivals != nil
    }
}
