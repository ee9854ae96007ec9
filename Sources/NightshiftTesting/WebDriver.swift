import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// A small W3C WebDriver client for headless Chromium (Debian's `chromium` and
/// `chromium-driver`): it starts `chromedriver` on a loopback port, opens one browser session,
/// and speaks plain HTTP JSON to it. Browser tests use it to drive the dashboard as a person
/// would; `close()` ends the session and the driver.
public final class WebDriver: @unchecked Sendable {
    /// Where the browser and its driver are, if installed.
    public struct Installation: Sendable {
        public var chromium: String
        public var chromedriver: String
    }

    public enum Failure: Error, CustomStringConvertible {
        case notInstalled
        case driverDidNotStart(String)
        case protocolError(String)
        case timeout(String)

        public var description: String {
            switch self {
            case .notInstalled: return "chromium and chromedriver are not installed (apt-get install -y chromium chromium-driver)"
            case .driverDidNotStart(let why): return "chromedriver did not start: \(why)"
            case .protocolError(let why): return "WebDriver: \(why)"
            case .timeout(let what): return "timed out waiting for \(what)"
            }
        }
    }

    /// The installed browser and driver, found on PATH or in Debian's places.
    public static var installation: Installation? {
        func find(_ names: [String]) -> String? {
            let dirs = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":").map(String.init)
            for name in names {
                if name.hasPrefix("/") { if FileManager.default.isExecutableFile(atPath: name) { return name } else { continue } }
                for d in dirs + ["/usr/bin", "/usr/lib/chromium"] {
                    let p = (d as NSString).appendingPathComponent(name)
                    if FileManager.default.isExecutableFile(atPath: p) { return p }
                }
            }
            return nil
        }
        guard let browser = find(["chromium", "chromium-browser", "/usr/lib/chromium/chromium"]),
            let driver = find(["chromedriver", "/usr/lib/chromium/chromedriver"])
        else { return nil }
        return Installation(chromium: browser, chromedriver: driver)
    }

    /// Where screenshots go: `$NIGHTSHIFT_TEST_ARTIFACTS`, else `.build/test-artifacts/`.
    public static var artifactsDir: String {
        let dir =
            ProcessInfo.processInfo.environment["NIGHTSHIFT_TEST_ARTIFACTS"].flatMap { $0.isEmpty ? nil : $0 }
            ?? NightshiftBinary.packageRoot.appendingPathComponent(".build/test-artifacts").path
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    let driver = Process()
    let base: String
    public private(set) var sessionID = ""
    private let logFile: String

    /// Starts chromedriver and a headless browser session with a window of `width`×`height`.
    public init(width: Int = 1280, height: Int = 1400) async throws {
        guard let inst = Self.installation else { throw Failure.notInstalled }
        let port = try Self.freePort()
        base = "http://127.0.0.1:\(port)"
        logFile = NSTemporaryDirectory() + "chromedriver-\(port).log"
        driver.executableURL = URL(fileURLWithPath: inst.chromedriver)
        driver.arguments = ["--port=\(port)", "--log-path=\(logFile)"]
        driver.standardOutput = FileHandle.nullDevice
        driver.standardError = FileHandle.nullDevice
        try driver.runSerialized()
        let up = await waitFor(timeout: 20) {
            guard let s = try? await self.call("GET", "/status") else { return false }
            return (s["value"] as? [String: Any])?["ready"] as? Bool == true
        }
        guard up else {
            driver.terminate()
            throw Failure.driverDidNotStart((try? String(contentsOfFile: logFile, encoding: .utf8)) ?? "no log")
        }
        let args = [
            "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=\(width),\(height)",
            "--no-first-run", "--disable-extensions",
        ]
        let caps: [String: Any] = [
            "capabilities": [
                "alwaysMatch": ["browserName": "chrome", "goog:chromeOptions": ["binary": inst.chromium, "args": args]]
            ]
        ]
        let created: [String: Any]
        do {
            created = try await call("POST", "/session", caps)
        } catch {
            driver.terminate()
            throw error
        }
        guard let value = created["value"] as? [String: Any], let id = value["sessionId"] as? String else {
            driver.terminate()
            throw Failure.protocolError("no session in \(created)")
        }
        sessionID = id
    }

    /// Ends the session (the browser quits) and the driver.
    public func close() async {
        if !sessionID.isEmpty { _ = try? await call("DELETE", "/session/\(sessionID)") }
        sessionID = ""
        if driver.isRunning {
            driver.terminate()
            _ = await waitFor(timeout: 10) { !self.driver.isRunning }
        }
        try? FileManager.default.removeItem(atPath: logFile)
    }

    deinit {
        if driver.isRunning { kill(driver.processIdentifier, SIGKILL) }
    }

    // MARK: - Commands

    public func navigate(_ url: String) async throws {
        _ = try await session("POST", "/url", ["url": url])
    }

    public func currentURL() async throws -> String { try await session("GET", "/url") as? String ?? "" }

    /// The handle of the window commands go to.
    public func window() async throws -> String { try await session("GET", "/window") as? String ?? "" }

    /// Opens a new tab and returns its handle (commands still go to the current one).
    public func newTab() async throws -> String {
        let v = try await session("POST", "/window/new", ["type": "tab"]) as? [String: Any]
        guard let handle = v?["handle"] as? String else { throw Failure.protocolError("no window handle in \(v ?? [:])") }
        return handle
    }

    /// Sends the commands that follow to window `handle`.
    public func switchTo(_ handle: String) async throws {
        _ = try await session("POST", "/window", ["handle": handle])
    }

    /// Runs `script` (a function body; `arguments[0]`... are `args`) and returns its result.
    @discardableResult
    public func execute(_ script: String, _ args: [Any] = []) async throws -> Any? {
        try await session("POST", "/execute/sync", ["script": script, "args": args])
    }

    /// An element by CSS selector (the WebDriver element id).
    public func find(_ css: String) async throws -> String {
        let v = try await session("POST", "/element", ["using": "css selector", "value": css]) as? [String: Any]
        guard let id = v?.values.first as? String else { throw Failure.protocolError("no element \(css)") }
        return id
    }

    public func click(_ css: String) async throws {
        try await onElement(css) { id in _ = try await self.session("POST", "/element/\(id)/click", [:]) }
    }

    /// Types `text` into the element.
    public func type(_ css: String, _ text: String) async throws {
        try await onElement(css) { id in _ = try await self.session("POST", "/element/\(id)/value", ["text": text]) }
    }

    /// The visible text of the element.
    public func text(_ css: String) async throws -> String {
        try await onElement(css) { id in try await self.session("GET", "/element/\(id)/text") as? String ?? "" }
    }

    /// Runs `action` on the element `css` selects. A live page swaps whole parts in, so an
    /// element found a moment ago may be gone ("stale element reference"): it is found again.
    func onElement<T>(_ css: String, _ action: (String) async throws -> T) async throws -> T {
        var attempt = 0
        while true {
            let id = try await find(css)
            do {
                return try await action(id)
            } catch let Failure.protocolError(why) where why.contains("stale element") && attempt < 3 {
                attempt += 1
            }
        }
    }

    /// Whether a JavaScript expression is truthy in the page.
    public func check(_ expression: String) async throws -> Bool {
        try await execute("return !!(\(expression));") as? Bool ?? false
    }

    /// Polls `expression` in the page every 25 ms until it is truthy; throws at the deadline.
    public func waitUntil(_ expression: String, timeout: Double = 20) async throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if (try? await check(expression)) == true { return }
            try await Task.sleep(for: .milliseconds(25))
        }
        if try await check(expression) { return }
        throw Failure.timeout(expression)
    }

    /// Saves a PNG of the window under `artifactsDir` and returns its path.
    @discardableResult
    public func screenshot(_ name: String) async throws -> String {
        guard let b64 = try await session("GET", "/screenshot") as? String, let data = Data(base64Encoded: b64) else {
            throw Failure.protocolError("no screenshot")
        }
        let path = (Self.artifactsDir as NSString).appendingPathComponent(name.hasSuffix(".png") ? name : name + ".png")
        try data.write(to: URL(fileURLWithPath: path))
        return path
    }

    // MARK: - Wire

    func session(_ method: String, _ path: String, _ body: [String: Any]? = nil) async throws -> Any? {
        let reply = try await call(method, "/session/\(sessionID)\(path)", body)
        return reply["value"].flatMap { $0 is NSNull ? nil : $0 }
    }

    /// One request to the driver. chromedriver writes headers without a space after the colon,
    /// which Foundation's URLSession on Linux refuses ("Failed writing header"), so this speaks
    /// HTTP/1.1 itself over a loopback socket, on a thread of its own (the calls block).
    func call(_ method: String, _ path: String, _ body: [String: Any]? = nil) async throws -> [String: Any] {
        let payload = try body.map { try JSONSerialization.data(withJSONObject: $0) } ?? Data()
        let port = Int(base.split(separator: ":").last ?? "0") ?? 0
        let (status, data) = try await withCheckedThrowingContinuation {
            (c: CheckedContinuation<(Int, Data), any Error>) in
            Thread.detachNewThread {
                c.resume(with: Result { try Self.exchange(port: port, method: method, path: path, body: payload) })
            }
        }
        let json = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
        if status >= 400 {
            let v = json["value"] as? [String: Any]
            throw Failure.protocolError("\(method) \(path): \(status) \(v?["error"] ?? "") \(v?["message"] ?? "")")
        }
        return json
    }

    /// Sends one request with `Connection: close` and reads the whole response.
    static func exchange(port: Int, method: String, path: String, body: Data) throws -> (Int, Data) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure.protocolError("no socket") }
        defer { Glibc.close(fd) }
        var tv = timeval(tv_sec: 120, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = UInt16(port).bigEndian
        let connected = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw Failure.protocolError("cannot connect to port \(port): errno \(errno)") }
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n"
        head += "Content-Type: application/json\r\nContent-Length: \(body.count)\r\n\r\n"
        let request = Array(head.utf8) + Array(body)
        var sent = 0
        while sent < request.count {
            let n = request[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw Failure.protocolError("send failed: errno \(errno)") }
            sent += n
        }
        // Reads until the body has its Content-Length (the driver keeps connections open).
        var raw: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        var split: Int?
        var length: Int?
        while true {
            if split == nil, let i = raw.indices.first(where: { i in i + 3 < raw.count && raw[i...i + 3] == [13, 10, 13, 10] }) {
                split = i
                for line in String(decoding: raw[0..<i], as: UTF8.self).split(separator: "\r\n") {
                    let parts = line.split(separator: ":", maxSplits: 1)
                    if parts.count == 2, parts[0].lowercased() == "content-length" {
                        length = Int(parts[1].trimmingCharacters(in: .whitespaces))
                    }
                }
            }
            if let split, let length, raw.count - (split + 4) >= length { break }
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 { throw Failure.protocolError("recv failed: errno \(errno)") }
            if n == 0 { break }
            raw += buffer[0..<n]
        }
        guard let split else { throw Failure.protocolError("no response head from \(method) \(path)") }
        let headText = String(decoding: raw[0..<split], as: UTF8.self)
        let status = Int(headText.split(separator: " ").dropFirst().first ?? "") ?? 0
        let end = length.map { min(raw.count, split + 4 + $0) } ?? raw.count
        return (status, Data(raw[(split + 4)..<end]))
    }

    /// A loopback port nothing listens on now.
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure.driverDidNotStart("no socket") }
        defer { Glibc.close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { throw Failure.driverDidNotStart("bind failed") }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        guard named == 0 else { throw Failure.driverDidNotStart("getsockname failed") }
        return Int(UInt16(bigEndian: addr.sin_port))
    }
}
