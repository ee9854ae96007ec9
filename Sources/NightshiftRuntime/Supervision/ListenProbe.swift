import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Finds out before anything starts whether the daemon can listen where it is configured to:
/// a taken port must stop `serve` at once with one line naming the address, not after the
/// backlog was imported and the services were started (and then cancelled, with errors).
public enum ListenProbe {
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public var host: String
        public var port: Int
        public var reason: String
        public init(host: String, port: Int, reason: String) {
            self.host = host
            self.port = port
            self.reason = reason
        }
        public var description: String {
            let address = host.contains(":") ? "[\(host)]" : host
            return "cannot listen on \(address):\(port): \(reason) (server.host / server.port, or --host / --port)"
        }
    }

    /// Binds a socket to `host:port` (with SO_REUSEADDR, as the server does) and closes it.
    /// Port 0 always works. Throws when the address is taken or cannot be used.
    public static func check(host: String, port: Int) throws(Failure) {
        guard port != 0 else { return }
        var hints = addrinfo()
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, String(port), &hints, &list)
        guard rc == 0, let first = list else {
            throw Failure(host: host, port: port, reason: "cannot resolve the address (\(String(cString: gai_strerror(rc))))")
        }
        defer { freeaddrinfo(list) }
        let fd = socket(first.pointee.ai_family, first.pointee.ai_socktype, first.pointee.ai_protocol)
        guard fd >= 0 else { throw Failure(host: host, port: port, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var one: Int32 = 1
        _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        guard bind(fd, first.pointee.ai_addr, first.pointee.ai_addrlen) == 0 else {
            let e = errno
            let reason =
                e == EADDRINUSE
                ? "the address is already in use (another daemon, or another program?)" : String(cString: strerror(e))
            throw Failure(host: host, port: port, reason: reason)
        }
        // A bound socket that does not listen does not hold the port against the real server.
        guard listen(fd, 1) == 0 else {
            let e = errno
            throw Failure(
                host: host, port: port, reason: e == EADDRINUSE ? "the address is already in use" : String(cString: strerror(e)))
        }
    }

    /// Whether `error` (from the HTTP server's start) says the address is taken.
    public static func isAddressInUse(_ error: Error) -> Bool {
        let text = "\(error)"
        return text.contains("Address already in use") || text.contains("errno: \(EADDRINUSE)")
    }
}
