import Foundation

#if canImport(Glibc)
    import Glibc
    private let streamSocket = Int32(SOCK_STREAM.rawValue)
    private func closeSocket(_ fd: Int32) { _ = Glibc.close(fd) }
    private func connectSocket(_ fd: Int32, _ a: UnsafePointer<sockaddr>, _ n: socklen_t) -> Int32 { Glibc.connect(fd, a, n) }
    private let noSignal = Int32(MSG_NOSIGNAL)
#elseif canImport(Darwin)
    import Darwin
    private let streamSocket = SOCK_STREAM
    private func closeSocket(_ fd: Int32) { _ = Darwin.close(fd) }
    private func connectSocket(_ fd: Int32, _ a: UnsafePointer<sockaddr>, _ n: socklen_t) -> Int32 { Darwin.connect(fd, a, n) }
    private let noSignal: Int32 = 0
#endif

/// A raw HTTP/1.1 connection to a loopback port, for reading a response that never ends (SSE)
/// piece by piece. HummingbirdTesting's live client waits for the end of a response, so it
/// cannot read an event stream. Reads wait on `poll(2)` with a deadline; nothing sleeps.
public final class LoopbackStream: @unchecked Sendable {  // used by one task at a time
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    private var fd: Int32 = -1
    /// Raw bytes read so far.
    private var raw: [UInt8] = []
    /// The response head (status line and headers), once complete.
    public private(set) var head: String?
    /// The body read so far, de-chunked when the response is chunked.
    public private(set) var body = ""
    private var bodyStart = 0

    /// Connects to `port` on 127.0.0.1, or on ::1 when the server listens there only.
    public init(port: Int) throws {
        if let fd = Self.connect4(port) ?? Self.connect6(port) {
            self.fd = fd
        } else {
            throw Failure(description: "cannot connect to loopback port \(port): errno \(errno)")
        }
    }

    deinit { close() }

    public func close() {
        if fd >= 0 {
            closeSocket(fd)
            fd = -1
        }
    }

    /// Sends a GET request for `path`.
    public func sendGET(_ path: String, headers: [String: String] = [:]) throws {
        var text = "GET \(path) HTTP/1.1\r\nHost: localhost\r\n"
        for (k, v) in headers { text += "\(k): \(v)\r\n" }
        text += "\r\n"
        let bytes = Array(text.utf8)
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, noSignal) }
            guard n > 0 else { throw Failure(description: "send failed: errno \(errno)") }
            sent += n
        }
    }

    /// Reads until the head is complete and `done(body)` holds; throws when `deadline` passes
    /// or the peer closes first.
    @discardableResult
    public func read(until deadline: ContinuousClock.Instant, _ done: (String) -> Bool) async throws -> String {
        while head == nil || !done(body) {
            let remaining = deadline - .now
            guard remaining > .zero else {
                throw Failure(description: "timed out; head: \(head ?? "<none>"), body so far:\n\(body)")
            }
            let ms = remaining.components.seconds * 1000 + remaining.components.attoseconds / 1_000_000_000_000_000
            let chunk = try await readChunk(timeoutMS: Int32(max(1, min(ms, 250))))
            guard let chunk else { continue }
            if chunk.isEmpty { throw Failure(description: "the server closed the connection; body:\n\(body)") }
            raw += chunk
            parse()
        }
        return body
    }

    /// Splits off the head, then decodes as much of the body as has arrived.
    private func parse() {
        if head == nil {
            guard let end = Self.find([13, 10, 13, 10], in: raw, from: 0) else { return }
            head = String(decoding: raw[..<end], as: UTF8.self)
            bodyStart = end + 4
        }
        guard let head else { return }
        if !head.lowercased().contains("transfer-encoding: chunked") {
            body = String(decoding: raw[bodyStart...], as: UTF8.self)
            return
        }
        var text = ""
        var i = bodyStart
        while let lineEnd = Self.find([13, 10], in: raw, from: i),
            let size = Int(String(decoding: raw[i..<lineEnd], as: UTF8.self).split(separator: ";").first ?? "", radix: 16),
            lineEnd + 2 + size + 2 <= raw.count
        {
            text += String(decoding: raw[(lineEnd + 2)..<(lineEnd + 2 + size)], as: UTF8.self)
            i = lineEnd + 2 + size + 2
            if size == 0 { break }
        }
        body = text
    }

    private static func find(_ needle: [UInt8], in bytes: [UInt8], from start: Int) -> Int? {
        guard bytes.count >= needle.count, start <= bytes.count - needle.count else { return nil }
        for i in start...(bytes.count - needle.count) where bytes[i..<(i + needle.count)].elementsEqual(needle) { return i }
        return nil
    }

    /// One `poll` + `recv`: nil on timeout, empty on end of stream.
    private func readChunk(timeoutMS: Int32) async throws -> [UInt8]? {
        let fd = self.fd
        return try await withCheckedThrowingContinuation { (c: CheckedContinuation<[UInt8]?, Error>) in
            Thread.detachNewThread {
                var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                let ready = poll(&p, 1, timeoutMS)
                if ready < 0 {
                    c.resume(throwing: Failure(description: "poll failed: errno \(errno)"))
                    return
                }
                if ready == 0 {
                    c.resume(returning: nil)
                    return
                }
                var buffer = [UInt8](repeating: 0, count: 64 * 1024)
                let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if n < 0 {
                    c.resume(throwing: Failure(description: "recv failed: errno \(errno)"))
                } else {
                    c.resume(returning: Array(buffer.prefix(n)))
                }
            }
        }
    }

    private static func connect4(_ port: Int) -> Int32? {
        let fd = socket(AF_INET, streamSocket, 0)
        guard fd >= 0 else { return nil }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr = in_addr(s_addr: UInt32(0x7F00_0001).bigEndian)
        let ok = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connectSocket(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        if ok == 0 { return fd }
        closeSocket(fd)
        return nil
    }

    private static func connect6(_ port: Int) -> Int32? {
        let fd = socket(AF_INET6, streamSocket, 0)
        guard fd >= 0 else { return nil }
        var addr = sockaddr_in6()
        addr.sin6_family = sa_family_t(AF_INET6)
        addr.sin6_port = in_port_t(UInt16(port).bigEndian)
        addr.sin6_addr = in6addr_loopback
        let ok = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connectSocket(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size))
            }
        }
        if ok == 0 { return fd }
        closeSocket(fd)
        return nil
    }
}
