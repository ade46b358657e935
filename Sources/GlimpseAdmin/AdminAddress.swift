// Where the admin port listens: HOST:PORT, and whether that is loopback only.
import Foundation

/// An `--admin` address: `127.0.0.1:8080`, `[::1]:8080`, `localhost:0` (0: the OS picks a port).
public struct AdminAddress: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses HOST:PORT; an IPv6 host goes in brackets.
    public init(parsing text: String) throws(AdminError) {
        let host: Substring, port: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else {
                throw .badAddress(text, reason: "has an unclosed '[' or no ':PORT' after ']'")
            }
            host = text[text.index(after: text.startIndex)..<close]
            port = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":") else { throw .badAddress(text, reason: "has no ':PORT'") }
            host = text[..<colon]
            port = text[text.index(after: colon)...]
            guard !host.contains(":") else { throw .badAddress(text, reason: "is an IPv6 address without brackets") }
        }
        guard !host.isEmpty else { throw .badAddress(text, reason: "has no host") }
        guard let number = Int(port), (0...65535).contains(number) else {
            throw .badAddress(text, reason: "has port '\(port)', not a number from 0 to 65535")
        }
        self.host = String(host)
        self.port = number
    }

    /// True for 127.0.0.0/8, ::1 and `localhost`: reachable from this machine only.
    public var isLoopback: Bool {
        if host == "localhost" { return true }
        var v4 = in_addr()
        if inet_pton(AF_INET, host, &v4) == 1 { return UInt32(bigEndian: v4.s_addr) >> 24 == 127 }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, host, &v6) == 1 {
            return withUnsafeBytes(of: &v6) { $0.elementsEqual([UInt8](repeating: 0, count: 15) + [1]) }
        }
        return false
    }

    /// The host as it goes in a URL (IPv6 in brackets).
    public var urlHost: String { host.contains(":") ? "[\(host)]" : host }

    public var description: String { "\(urlHost):\(port)" }
}
