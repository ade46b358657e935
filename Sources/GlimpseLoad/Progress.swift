// The live progress line on standard error: rewritten in place on a terminal, plain lines otherwise.
import Foundation

/// Counts the load threads bump as replies come in, read by the progress line.
final class LiveCounts: @unchecked Sendable {
    private let countsLock = NSLock()
    private var ok = 0
    private var failed = 0

    func add(ok isOK: Bool) {
        countsLock.lock(); defer { countsLock.unlock() }
        if isOK { ok += 1 } else { failed += 1 }
    }

    var snapshot: (ok: Int, failed: Int) {
        countsLock.lock(); defer { countsLock.unlock() }
        return (ok, failed)
    }
}

/// Reports a run as it goes. On a terminal one line is redrawn (\r) four times a second; when standard
/// error is a file or a pipe, a plain line every few seconds and one per finished step, so logs stay readable.
public final class ProgressLine: @unchecked Sendable {
    private let write: @Sendable (String) -> Void
    private let isTTY: Bool
    private let tickerLock = NSLock() // guards `running`
    private var running = false
    private let tickerDone = DispatchSemaphore(value: 0)

    public init(isTTY: Bool = isatty(STDERR_FILENO) != 0,
                write: @escaping @Sendable (String) -> Void = { FileHandle.standardError.write(Data($0.utf8)) }) {
        self.isTTY = isTTY
        self.write = write
    }

    public func note(_ message: String) {
        write("glimpse load: \(message)\n")
    }

    /// Starts redrawing `describe()`'s line until `end`.
    func begin(_ describe: @escaping @Sendable () -> String) {
        tickerLock.lock()
        running = true
        tickerLock.unlock()
        let interval = isTTY ? 0.25 : 5.0
        let thread = Thread { [self] in
            var last = monotonicNow()
            while isRunning {
                Thread.sleep(forTimeInterval: 0.05)
                let now = monotonicNow()
                guard Double(now - last) / 1e9 >= interval, isRunning else { continue }
                last = now
                write(isTTY ? "\r\u{1B}[K" + describe() : describe() + "\n")
            }
            tickerDone.signal()
        }
        thread.name = "glimpse-load-progress"
        thread.start()
    }

    /// Stops the redrawing and leaves `summary` as a finished line.
    func end(_ summary: String) {
        tickerLock.lock()
        running = false
        tickerLock.unlock()
        tickerDone.wait()
        write((isTTY ? "\r\u{1B}[K" : "") + summary + "\n")
    }

    /// Stops the redrawing without a line (a warm-up phase).
    func endQuietly() {
        tickerLock.lock()
        running = false
        tickerLock.unlock()
        tickerDone.wait()
        if isTTY { write("\r\u{1B}[K") }
    }

    private var isRunning: Bool {
        tickerLock.lock(); defer { tickerLock.unlock() }
        return running
    }
}
