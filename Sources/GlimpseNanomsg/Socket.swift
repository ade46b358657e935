// A thin Swift layer over libnanomsg: sockets, raw REP receive/reply, REQ send/receive, errors as values.
import CNanomsg
import Foundation
import GlimpseCore

public struct NanomsgError: StatusError, Equatable {
    public var errno: Int32
    public var operation: String

    public init(_ operation: String, errno: Int32 = nn_errno()) {
        self.operation = operation
        self.errno = errno
    }

    public var isTimeout: Bool { errno == EAGAIN || errno == ETIMEDOUT }
    public var isTerminating: Bool { errno == ETERM || errno == EBADF }

    /// A timed-out call is DEADLINE_EXCEEDED; every other transport failure is UNAVAILABLE.
    public var status: StatusCode { isTimeout ? .deadlineExceeded : .unavailable }

    public var description: String { "\(operation): \(String(cString: nn_strerror(errno)))" }
}

/// A message received on a raw REP socket: its bytes and the route back to its sender.
public struct Incoming: ~Copyable {
    public let bytes: UnsafeRawBufferPointer
    public let route: Route

    deinit { nn_freemsg(UnsafeMutableRawPointer(mutating: bytes.baseAddress)) }
}

/// The backtrace a raw REP socket needs to send a reply to the right requester. Owned:
/// sending a reply consumes it; dropping it frees it (the request then goes unanswered).
public final class Route: @unchecked Sendable {
    fileprivate var control: UnsafeMutableRawPointer?

    fileprivate init(control: UnsafeMutableRawPointer?) { self.control = control }

    deinit { if let control { nn_freemsg(control) } }
}

public final class Socket: @unchecked Sendable {
    public enum Kind {
        /// A REQ socket: one request at a time, replies matched by nanomsg.
        case request
        /// A raw REP socket: many requests in flight, each reply carries its own route.
        case rawReply
    }

    private let fd: Int32
    private let closeOnce = NSLock()
    private var closed = false

    public init(_ kind: Kind) throws(NanomsgError) {
        let fd = switch kind {
        case .request: nn_socket(AF_SP, glimpse_nn_req())
        case .rawReply: nn_socket(AF_SP_RAW, glimpse_nn_rep())
        }
        guard fd >= 0 else { throw NanomsgError("nn_socket") }
        self.fd = fd
    }

    deinit { close() }

    /// Closes the socket (an ipc:// endpoint's file goes with it); later calls fail. Idempotent.
    public func close() {
        closeOnce.lock()
        defer { closeOnce.unlock() }
        guard !closed else { return }
        closed = true
        nn_close(fd)
    }

    public func bind(_ url: String) throws(NanomsgError) {
        guard nn_bind(fd, url) >= 0 else { throw NanomsgError("bind \(url)") }
    }

    public func connect(_ url: String) throws(NanomsgError) {
        guard nn_connect(fd, url) >= 0 else { throw NanomsgError("connect \(url)") }
    }

    private func set(_ level: Int32, _ option: Int32, _ value: Int32, _ name: String) throws(NanomsgError) {
        var value = value
        guard nn_setsockopt(fd, level, option, &value, MemoryLayout<Int32>.size) >= 0 else {
            throw NanomsgError("setsockopt \(name)")
        }
    }

    /// Messages larger than this are dropped by nanomsg, which closes the connection that sent them; -1 = no limit.
    public func setReceiveMaxSize(_ bytes: Int) throws(NanomsgError) {
        try set(NN_SOL_SOCKET, NN_RCVMAXSIZE, Int32(clamping: bytes), "NN_RCVMAXSIZE")
    }

    /// Milliseconds a receive waits before failing with a timeout; -1 = forever.
    public func setReceiveTimeout(milliseconds: Int) throws(NanomsgError) {
        try set(NN_SOL_SOCKET, NN_RCVTIMEO, Int32(clamping: milliseconds), "NN_RCVTIMEO")
    }

    public func setSendTimeout(milliseconds: Int) throws(NanomsgError) {
        try set(NN_SOL_SOCKET, NN_SNDTIMEO, Int32(clamping: milliseconds), "NN_SNDTIMEO")
    }

    /// How long a REQ socket waits before resending an unanswered request (nanomsg's default is 60 s).
    public func setResendInterval(milliseconds: Int) throws(NanomsgError) {
        try set(glimpse_nn_req(), NN_REQ_RESEND_IVL, Int32(clamping: milliseconds), "NN_REQ_RESEND_IVL")
    }

    /// Sends a whole message (REQ socket).
    public func send(_ bytes: UnsafeRawBufferPointer) throws(NanomsgError) {
        guard nn_send(fd, bytes.baseAddress, bytes.count, 0) >= 0 else { throw NanomsgError("send") }
    }

    /// Receives a whole message (REQ socket).
    public func receive() throws(NanomsgError) -> [UInt8] {
        var buffer: UnsafeMutableRawPointer?
        let size = withUnsafeMutablePointer(to: &buffer) { nn_recv(fd, $0, glimpse_nn_msg(), 0) }
        guard size >= 0, let buffer else { throw NanomsgError("receive") }
        defer { nn_freemsg(buffer) }
        return [UInt8](UnsafeRawBufferPointer(start: buffer, count: Int(size)))
    }

    /// Receives one request with its route (raw REP socket).
    public func receiveWithRoute() throws(NanomsgError) -> Incoming {
        var body: UnsafeMutableRawPointer?
        var control: UnsafeMutableRawPointer?
        let size = withUnsafeMutablePointer(to: &body) { bodyPointer in
            withUnsafeMutablePointer(to: &control) { controlPointer in
                var vector = nn_iovec(iov_base: UnsafeMutableRawPointer(bodyPointer), iov_len: glimpse_nn_msg())
                return withUnsafeMutablePointer(to: &vector) { vectorPointer in
                    var header = nn_msghdr(msg_iov: vectorPointer, msg_iovlen: 1,
                                           msg_control: UnsafeMutableRawPointer(controlPointer), msg_controllen: glimpse_nn_msg())
                    return nn_recvmsg(fd, &header, 0)
                }
            }
        }
        guard size >= 0, let body else {
            if let control { nn_freemsg(control) }
            throw NanomsgError("receive")
        }
        return Incoming(bytes: UnsafeRawBufferPointer(start: body, count: Int(size)), route: Route(control: control))
    }

    /// Sends `bytes` back along `route` (raw REP socket). The route is spent either way.
    public func reply(_ bytes: UnsafeRawBufferPointer, to route: Route) throws(NanomsgError) {
        guard var control = route.control else { throw NanomsgError("reply", errno: EINVAL) }
        route.control = nil
        let sent = withUnsafeMutablePointer(to: &control) { controlPointer in
            var vector = nn_iovec(iov_base: UnsafeMutableRawPointer(mutating: bytes.baseAddress), iov_len: bytes.count)
            return withUnsafeMutablePointer(to: &vector) { vectorPointer in
                var header = nn_msghdr(msg_iov: vectorPointer, msg_iovlen: 1,
                                       msg_control: UnsafeMutableRawPointer(controlPointer), msg_controllen: glimpse_nn_msg())
                return nn_sendmsg(fd, &header, 0)
            }
        }
        guard sent >= 0 else {
            let error = NanomsgError("reply")
            nn_freemsg(control) // not consumed on failure
            throw error
        }
    }
}
