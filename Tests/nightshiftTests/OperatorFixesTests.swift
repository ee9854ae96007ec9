import Foundation
import NightshiftTesting
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Issue 9 through the real binary, as an operator meets it: a taken port, the watchdog's
/// traces after it ends, the first status report, a broken backlog edit, and the project
/// manager saying what happens.
@Suite("operator fixes", .serialized, .timeLimit(.minutes(5)))
struct OperatorFixesTests {
    /// A listening socket on a free loopback port, held for the test.
    final class TakenPort {
        let fd: Int32
        let port: Int
        init() throws {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            self.fd = fd
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            addr.sin_port = 0
            var len = socklen_t(MemoryLayout<sockaddr_in>.size)
            let ok = withUnsafeMutablePointer(to: &addr) { p in
                p.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(fd, $0, len) == 0 && listen(fd, 8) == 0 && getsockname(fd, $0, &len) == 0
                }
            }
            guard ok else { throw POSIXError(.EADDRINUSE) }
            port = Int(UInt16(bigEndian: addr.sin_port))
        }
        deinit { close(fd) }
    }

    static func config(_ dir: TemporaryDirectory, backlog: String = "", extra: String = "") throws -> String {
        try dir.write(
            """
            runner:
              kill_grace: 300ms
              executors:
                default: { command: "/bin/sh -c 'echo working on it; exit 0'" }
            project_manager:
              backlog: "\(backlog)"
            monitor:
              interval: 200ms
              thresholds: { disk_min_free: 0 }
            \(extra)
            """, to: "nightshift.yaml")
    }

    static func read(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }

    @Test("a taken port stops serve at once: one line naming the address and port, exit 2, nothing imported")
    func takenPort() throws {
        let dir = try TemporaryDirectory()
        let taken = try TakenPort()
        try Data("1. An item that must not be imported\n".utf8).write(to: URL(fileURLWithPath: dir.path("backlog.md")))
        let config = try Self.config(dir, backlog: dir.path("backlog.md"))
        let r = try NightshiftBinary.run(
            ["serve", "--config", config, "--state-dir", dir.path("state"), "--port", "\(taken.port)"],
            environment: ["NIGHTSHIFT_LOG_STDERR": "1"])
        #expect(r.status == 2)
        let lines = r.err.split(separator: "\n")
        #expect(lines.count == 1, "\(r.err)")
        #expect(r.err.contains("127.0.0.1:\(taken.port)") && r.err.contains("already in use"))
        #expect(!r.err.contains("ERROR"))
        // Stopped before the state dir, the store and the backlog import.
        #expect(!FileManager.default.fileExists(atPath: dir.path("state/nightshift.sqlite")))
    }

    @Test("the watchdog does not restart a daemon that refuses to start: exit 2, one start, a fatal issue, no live-looking pid")
    func watchdogRefusal() throws {
        let dir = try TemporaryDirectory()
        let taken = try TakenPort()
        let config = try Self.config(dir)
        let state = dir.path("state")
        let r = try NightshiftBinary.run(
            ["watchdog", "--config", config, "--state-dir", state, "--port", "\(taken.port)"],
            environment: ["NIGHTSHIFT_LOG_STDERR": "0"])
        #expect(r.status == 2, "\(r.err)")
        #expect(r.err.contains("refused to start") && r.err.contains("\(taken.port)"), "\(r.err)")
        let log = Self.read(state + "/watchdog.log")
        #expect(log.components(separatedBy: "starting the daemon").count - 1 == 1, "\(log)")
        let fatal = Self.read(state + "/fatal_issues.json")
        #expect(fatal.contains("daemon_refused_to_start"))
        let version = try #require(
            try JSONSerialization.jsonObject(with: Data(Self.read(state + "/pipeline_version.json").utf8)) as? [String: Any])
        #expect(version["watchdog_pid"] is NSNull && version["pid"] is NSNull && version["stopped_at"] is String, "\(version)")
    }

    @Test("after a clean watchdog stop pipeline_version.json names no pid, and the first status report calls nothing NOT ALIVE")
    func watchdogStopAndFirstReport() async throws {
        let dir = try TemporaryDirectory()
        let config = try Self.config(dir, extra: "watchdog: { health_interval: 200ms }")
        let state = dir.path("state")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: NightshiftBinary.path)
        p.arguments = ["watchdog", "--config", config, "--state-dir", state, "--port", "0"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.runSerialized()
        defer { if p.isRunning { kill(p.processIdentifier, SIGKILL) } }
        let versionFile = state + "/pipeline_version.json"
        #expect(await waitFor(timeout: 60) { Self.read(versionFile).contains("\"watchdog_pid\" : \(p.processIdentifier)") })
        let report = state + "/pipeline_status_report.txt"
        #expect(await waitFor(timeout: 60) { !Self.read(report).isEmpty })
        #expect(!Self.read(report).contains("NOT ALIVE"), "\(Self.read(report))")
        kill(p.processIdentifier, SIGTERM)
        #expect(await waitFor(timeout: 60) { !p.isRunning })
        #expect(p.terminationStatus == 0)
        let version = try #require(try JSONSerialization.jsonObject(with: Data(Self.read(versionFile).utf8)) as? [String: Any])
        #expect(version["watchdog_pid"] is NSNull && version["pid"] is NSNull, "\(version)")
        #expect(version["stopped_at"] is String)
    }

    @Test(
        "a malformed backlog edit is logged once and raised as one backlog_error issue naming file:line; progress is logged at INFO"
    )
    func backlogErrorOnce() async throws {
        let dir = try TemporaryDirectory()
        let backlog = dir.path("backlog.md")
        try Data("1. Write the greeting\n".utf8).write(to: URL(fileURLWithPath: backlog))
        let config = try Self.config(dir, backlog: backlog)
        let daemon = try DaemonProcess(stateDir: dir.path("state"), arguments: ["--config", config])
        #expect(await daemon.waitUntilReady())
        let pmLog = dir.path("state/project_manager.log")
        // The item goes through its four phases and the backlog finishes, all said at INFO.
        #expect(await waitFor(timeout: 90) { Self.read(pmLog).contains("backlog finished") }, "\(Self.read(pmLog))")
        let log = Self.read(pmLog)
        #expect(log.contains("INFO [project_manager] item 1 \"Write the greeting\" phase spec → impl"))
        #expect(log.contains("phase test → review"))
        #expect(log.contains("INFO [project_manager] item 1 \"Write the greeting\" done"))

        // An edit that breaks line 2 (a number used twice).
        try Data("1. Write the greeting\n1. Second\n".utf8).write(to: URL(fileURLWithPath: backlog))
        #expect(
            await waitFor(timeout: 30) {
                let issues = await HTTP.get(daemon.url + "/api/agent/monitor-issues")?.json?["issues"] as? [[String: Any]] ?? []
                return issues.contains {
                    $0["condition"] as? String == "backlog_error" && ($0["message"] as? String)?.contains("backlog.md:2") == true
                }
            })
        // Three more project-manager passes (each rewrites project_manager_state.json) log nothing new.
        let stateFile = dir.path("state/project_manager_state.json")
        func updatedAt() -> String? {
            (try? JSONSerialization.jsonObject(with: Data(Self.read(stateFile).utf8)) as? [String: Any])?["updated_at"] as? String
        }
        for _ in 0..<3 {
            let before = updatedAt()
            #expect(await waitFor(timeout: 30) { updatedAt() != before })
        }
        let errors = Self.read(pmLog).split(separator: "\n").filter { $0.contains("backlog.md:2") }
        #expect(errors.count == 1, "\(errors)")
        let issues = await HTTP.get(daemon.url + "/api/agent/monitor-issues")?.json?["issues"] as? [[String: Any]] ?? []
        #expect(issues.filter { $0["condition"] as? String == "backlog_error" }.count == 1)
        #expect(!issues.contains { $0["condition"] as? String == "log_errors" })
        daemon.signal(SIGTERM)
        #expect(await daemon.waitForExit() == 0)
    }

    @Test("in the foreground the watchdog shows the project manager's progress, not only its own lines")
    func watchdogForeground() async throws {
        let dir = try TemporaryDirectory()
        let backlog = dir.path("backlog.md")
        try Data("1. Say hello\n".utf8).write(to: URL(fileURLWithPath: backlog))
        let config = try Self.config(dir, backlog: backlog)
        let errFile = dir.path("watchdog.stderr")
        _ = FileManager.default.createFile(atPath: errFile, contents: nil)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: NightshiftBinary.path)
        p.arguments = ["watchdog", "--config", config, "--state-dir", dir.path("state"), "--port", "0"]
        var env = ProcessInfo.processInfo.environment
        env["NIGHTSHIFT_LOG_STDERR"] = nil
        p.environment = env
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle(forWritingAtPath: errFile)
        try p.runSerialized()
        defer { if p.isRunning { kill(p.processIdentifier, SIGKILL) } }
        #expect(await waitFor(timeout: 90) { Self.read(errFile).contains("backlog finished") }, "\(Self.read(errFile))")
        let out = Self.read(errFile)
        #expect(out.contains("[watchdog]"))
        #expect(out.contains("[project_manager] item 1 \"Say hello\" phase spec → impl"))
        #expect(out.contains("[project_manager] item 1 \"Say hello\" done"))
        // Only the project manager is echoed from the daemon, not every component.
        #expect(!out.contains("[agent_runner]"))
        kill(p.processIdentifier, SIGTERM)
        #expect(await waitFor(timeout: 60) { !p.isRunning })
        #expect(p.terminationStatus == 0)
    }
}
