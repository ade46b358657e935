// Which servers `glimpse load` may drive: only ones on this machine (loopback TCP or ipc://).
import GlimpseCore

/// What stops a load run before it starts: a bad target, option or input; each with its status.
public struct LoadError: StatusError, Equatable {
    public var status: StatusCode
    public var description: String

    public init(_ status: StatusCode, _ message: String) {
        self.status = status
        description = message
    }
}

public enum Endpoint {
    /// Returns `url` if it names a server on this machine, else throws a LoadError saying why not.
    ///
    /// A load generator aimed at someone else's machine is a denial-of-service tool, so anything
    /// that is not provably local is refused: `ipc://PATH`, or `tcp://` to 127.0.0.0/8, `localhost`
    /// or `[::1]`. nanomsg's `tcp://INTERFACE;HOST:PORT` form is refused too (the interface could
    /// route anywhere), as are hostnames other than `localhost` (they could resolve anywhere).
    public static func checkLocal(_ url: String) throws(LoadError) -> String {
        let refusal = LoadError(.invalidArgument, """
            refusing to load '\(url)': glimpse load only drives a server on this machine \
            (tcp://127.0.0.1:PORT, tcp://localhost:PORT, tcp://[::1]:PORT or ipc:///PATH)
            """)
        if url.hasPrefix("ipc://") {
            guard url.count > "ipc://".count else { throw LoadError(.invalidArgument, "'\(url)' names no ipc path") }
            return url
        }
        guard url.hasPrefix("tcp://") else { throw refusal }
        let address = url.dropFirst("tcp://".count)
        guard !address.contains(";") else { throw refusal }
        let host: Substring, port: Substring
        if address.hasPrefix("[") {
            guard let close = address.firstIndex(of: "]"), address[address.index(after: close)...].hasPrefix(":") else { throw refusal }
            host = address[address.index(after: address.startIndex)..<close]
            port = address[address.index(close, offsetBy: 2)...]
        } else {
            guard let colon = address.lastIndex(of: ":") else { throw refusal }
            host = address[..<colon]
            port = address[address.index(after: colon)...]
        }
        guard let number = Int(port), (1...65535).contains(number) else {
            throw LoadError(.invalidArgument, "'\(url)' has no valid port (1-65535)")
        }
        guard isLoopback(host) else { throw refusal }
        return url
    }

    static func isLoopback(_ host: Substring) -> Bool {
        if host.lowercased() == "localhost" || host == "::1" { return true }
        let octets = host.split(separator: ".", omittingEmptySubsequences: false)
        guard octets.count == 4 else { return false }
        let values = octets.map { $0.count <= 3 && $0.allSatisfy(\.isASCII) ? Int($0) : nil }
        guard values.allSatisfy({ $0 != nil && (0...255).contains($0!) }) else { return false }
        return values[0] == 127
    }
}
