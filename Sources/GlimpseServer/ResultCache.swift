// The result cache and the calls in flight: repeats are answered from memory, identical
// concurrent calls are computed once.
import Foundation

/// What makes two calls the same: method, the model they resolve to and its version, the
/// parameters that change the answer, and the payload bytes. Built from the validated call, not
/// the raw request, so a call naming the default model and one naming none share an entry.
/// Hashing uses the standard library's per-process seeded hasher, so nobody can aim collisions
/// at it, and equality compares every byte, so a collision can never hand one image's answer to another.
struct CallKey: Hashable, Sendable {
    var method: String
    var model: String
    var version: String
    var parameters: String
    var payload: [Data]

    /// Memory the key holds, for the cache's byte budget.
    var bytes: Int {
        payload.reduce(0) { $0 + $1.count } + method.utf8.count + model.utf8.count + version.utf8.count + parameters.utf8.count
    }
}

/// An LRU map bounded by entries and bytes, plus the table of calls being computed.
/// One lock guards both, so "not cached, not in flight → start it" is a single step.
final class ResultCache<Waiter>: @unchecked Sendable {
    struct Limits {
        var bytes: Int
        var entries: Int
    }

    enum Lookup {
        /// Cached: the serialized response body.
        case hit(Data)
        /// Someone is already computing this call; the waiter was added to it.
        case joined
        /// Nobody is: the caller must compute it and then call `complete`.
        case first
    }

    struct Counters {
        var hits = 0, misses = 0, evictions = 0, coalesced = 0
    }

    private struct Entry {
        var key: CallKey
        var value: Data
        var bytes: Int
        var newer: Int?
        var older: Int?
    }

    /// Per-entry bookkeeping counted against the byte budget on top of key and value.
    static var entryOverhead: Int { 128 }

    let limits: Limits
    private let lock = NSLock()
    private var index: [CallKey: Int] = [:]
    private var entries: [Entry] = []
    private var freeSlots: [Int] = []
    private var newest: Int?
    private var oldest: Int?
    private var usedBytes = 0
    private var inFlight: [CallKey: [Waiter]] = [:]
    private var counters = Counters()

    init(limits: Limits) { self.limits = limits }

    var enabled: Bool { limits.bytes > 0 && limits.entries > 0 }

    /// Looks `key` up; on a miss, joins the call in flight or registers the caller as its first waiter.
    func lookup(_ key: CallKey, waiter: Waiter) -> Lookup {
        lock.lock()
        defer { lock.unlock() }
        if let slot = index[key] {
            counters.hits += 1
            touch(slot)
            return .hit(entries[slot].value)
        }
        if inFlight[key] != nil {
            inFlight[key]!.append(waiter)
            counters.coalesced += 1
            return .joined
        }
        counters.misses += 1
        inFlight[key] = [waiter]
        return .first
    }

    /// The waiters of a call in flight, as they are now.
    func waiters(of key: CallKey) -> [Waiter] {
        lock.lock()
        defer { lock.unlock() }
        return inFlight[key] ?? []
    }

    /// Forgets a call that never started (the queue was full); returns its waiters.
    func abandon(_ key: CallKey) -> [Waiter] {
        lock.lock()
        defer { lock.unlock() }
        return inFlight.removeValue(forKey: key) ?? []
    }

    /// Ends a call: stores `value` when given (successful results only) and returns every waiter.
    func complete(_ key: CallKey, value: Data?) -> [Waiter] {
        lock.lock()
        defer { lock.unlock() }
        if let value { insert(key, value) }
        return inFlight.removeValue(forKey: key) ?? []
    }

    func snapshot() -> (counters: Counters, entries: Int, bytes: Int, inFlight: Int) {
        lock.lock()
        defer { lock.unlock() }
        return (counters, index.count, usedBytes, inFlight.count)
    }

    // MARK: the LRU list (indices into `entries`, newest first)

    private func unlink(_ slot: Int) {
        let (newer, older) = (entries[slot].newer, entries[slot].older)
        if let newer { entries[newer].older = older } else { newest = older }
        if let older { entries[older].newer = newer } else { oldest = newer }
        entries[slot].newer = nil
        entries[slot].older = nil
    }

    private func pushNewest(_ slot: Int) {
        entries[slot].older = newest
        if let newest { entries[newest].newer = slot }
        newest = slot
        if oldest == nil { oldest = slot }
    }

    private func touch(_ slot: Int) {
        guard newest != slot else { return }
        unlink(slot)
        pushNewest(slot)
    }

    private func insert(_ key: CallKey, _ value: Data) {
        let bytes = key.bytes + value.count + Self.entryOverhead
        guard enabled, bytes <= limits.bytes, index[key] == nil else { return }
        while usedBytes + bytes > limits.bytes || index.count >= limits.entries, let victim = oldest {
            unlink(victim)
            index[entries[victim].key] = nil
            usedBytes -= entries[victim].bytes
            entries[victim].value = Data()
            entries[victim].key.payload = []
            freeSlots.append(victim)
            counters.evictions += 1
        }
        let entry = Entry(key: key, value: value, bytes: bytes)
        let slot: Int
        if let free = freeSlots.popLast() {
            entries[free] = entry
            slot = free
        } else {
            entries.append(entry)
            slot = entries.count - 1
        }
        index[key] = slot
        usedBytes += bytes
        pushNewest(slot)
    }
}
