// The bounded queue between the front and the workers.
import DequeModule
import Foundation

final class JobQueue<Job>: @unchecked Sendable {
    let capacity: Int
    private let condition = NSCondition()
    private var jobs = Deque<Job>()
    private var closed = false

    init(capacity: Int) { self.capacity = capacity }

    /// Adds a job unless the queue is full (the caller answers RESOURCE_EXHAUSTED) or closed.
    func offer(_ job: Job) -> Bool {
        condition.lock(); defer { condition.unlock() }
        guard !closed, jobs.count < capacity else { return false }
        jobs.append(job)
        condition.signal()
        return true
    }

    /// The next job; nil once the queue is closed and empty (the worker then exits).
    func take() -> Job? {
        condition.lock(); defer { condition.unlock() }
        while jobs.isEmpty && !closed { condition.wait() }
        return jobs.popFirst()
    }

    /// Lets workers drain what is queued, then stop.
    func close() {
        condition.lock(); defer { condition.unlock() }
        closed = true
        condition.broadcast()
    }

    var depth: Int {
        condition.lock(); defer { condition.unlock() }
        return jobs.count
    }
}
