import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Polls `condition` every 20 ms until it holds; false when `timeout` seconds pass first.
/// Tests use it to wait for something to happen without sleeping a guessed amount.
public func waitFor(timeout: Double = 30, _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return try await condition()
}

/// The built `nightshift` executable next to the test bundle, run as a real process.
public enum NightshiftBinary {
    public static var path: String {
        let dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for candidate in [
            dir.appendingPathComponent("nightshift"), dir.deletingLastPathComponent().appendingPathComponent("nightshift"),
        ]
        where FileManager.default.isExecutableFile(atPath: candidate.path) {
            return candidate.path
        }
        return packageRoot.appendingPathComponent(".build/debug/nightshift").path
    }

    /// The package root (for config/, scripts/ and api/).
    public static var packageRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    /// Runs a client command to completion: exit status, stdout, stderr.
    public static func run(
        _ arguments: [String], environment: [String: String] = [:], cwd: String? = nil
    ) throws -> (status: Int32, out: String, err: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        p.environment = env
        if let cwd { p.currentDirectoryURL = URL(fileURLWithPath: cwd) }
        let out = Pipe()
        let err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.runSerialized()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }
}

/// A `nightshift serve` process on a free port with its own state dir.
public final class DaemonProcess: @unchecked Sendable {
    public let process = Process()
    public let stateDir: String
    public private(set) var url = ""
    private let stderrFile: String

    /// Starts the daemon; `arguments` are added after `serve --state-dir DIR --port 0`.
    public init(stateDir: String, arguments: [String] = [], environment: [String: String] = [:], cwd: String? = nil) throws {
        self.stateDir = stateDir
        stderrFile = stateDir + ".stderr"
        try? FileManager.default.removeItem(atPath: (stateDir as NSString).appendingPathComponent("daemon.json"))
        process.executableURL = URL(fileURLWithPath: NightshiftBinary.path)
        process.arguments = ["serve", "--state-dir", stateDir, "--port", "0"] + arguments
        var env = ProcessInfo.processInfo.environment
        env["NIGHTSHIFT_LOG_STDERR"] = "0"
        for (k, v) in environment { env[k] = v }
        process.environment = env
        process.currentDirectoryURL = URL(fileURLWithPath: cwd ?? NightshiftBinary.packageRoot.path)
        _ = FileManager.default.createFile(atPath: stderrFile, contents: nil)
        process.standardError = FileHandle(forWritingAtPath: stderrFile)
        process.standardOutput = FileHandle.nullDevice
        try process.runSerialized()
    }

    public var pid: Int32 { process.processIdentifier }
    public var stderr: String { (try? String(contentsOfFile: stderrFile, encoding: .utf8)) ?? "" }

    /// Waits until the daemon listens (it writes daemon.json) and answers /api/ready.
    public func waitUntilReady(timeout: Double = 60) async -> Bool {
        let file = (stateDir as NSString).appendingPathComponent("daemon.json")
        let found = await waitFor(timeout: timeout) {
            guard process.isRunning, let data = FileManager.default.contents(atPath: file),
                let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any], let u = obj["url"] as? String,
                (obj["pid"] as? Int).map(Int32.init) == pid
            else { return false }
            url = u
            return await HTTP.get(u + "/api/ready")?.status == 200
        }
        return found
    }

    public func signal(_ sig: Int32) { kill(pid, sig) }

    /// Waits for the process to exit; nil if it is still running after `timeout`.
    public func waitForExit(timeout: Double = 30) async -> Int32? {
        guard await waitFor(timeout: timeout, { !process.isRunning }) else { return nil }
        return process.terminationStatus
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        try? FileManager.default.removeItem(atPath: stderrFile)
    }
}

/// Minimal HTTP over loopback for tests (URLSession).
public enum HTTP {
    public struct Reply: Sendable {
        public var status: Int
        public var body: Data
        public var json: [String: Any]? { try? JSONSerialization.jsonObject(with: body) as? [String: Any] }
        public var text: String { String(decoding: body, as: UTF8.self) }
    }

    public static func get(_ url: String) async -> Reply? { await send("GET", url) }

    public static func send(_ method: String, _ url: String, json: String? = nil, headers: [String: String] = [:]) async -> Reply?
    {
        guard let u = URL(string: url) else { return nil }
        var r = URLRequest(url: u, timeoutInterval: 10)
        r.httpMethod = method
        if let json {
            r.httpBody = Data(json.utf8)
            r.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        for (k, v) in headers { r.setValue(v, forHTTPHeaderField: k) }
        guard let (data, response) = try? await URLSession.shared.data(for: r) else { return nil }
        return Reply(status: (response as? HTTPURLResponse)?.statusCode ?? 0, body: data)
    }
}

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

extension DaemonProcess {
    /// Writes the `daemon.json` a killed daemon leaves behind: it names `url` and a pid that no
    /// longer runs (a process started and reaped for the purpose). Returns that pid.
    @discardableResult
    public static func writeStaleAnnouncement(inStateDir stateDir: String, url: String) throws -> Int32 {
        let gone = Process()
        gone.executableURL = URL(fileURLWithPath: "/bin/true")
        try gone.runSerialized()
        gone.waitUntilExit()
        let port = URL(string: url)?.port ?? 0
        let json =
            #"{"pid": \#(gone.processIdentifier), "url": "\#(url)", "port": \#(port), "started_at": "2030-01-01T00:00:00.000Z", "state_dir": "\#(stateDir)"}"#
        try Data(json.utf8).write(to: URL(fileURLWithPath: (stateDir as NSString).appendingPathComponent("daemon.json")))
        return gone.processIdentifier
    }
}
