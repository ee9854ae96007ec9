import Foundation
import NightshiftCore
import NightshiftTesting
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `nightshift watchdog` as a real process supervising a real `serve`: crash, restart request,
/// hang, crash loop and shutdown.
@Suite("watchdog", .serialized)
struct WatchdogTests {
    /// A `nightshift watchdog` process on a free port with its own state dir.
    final class WatchdogProcess: @unchecked Sendable {
        let process = Process()
        let stateDir: String
        let stderrFile: String

        init(stateDir: String, config: String, arguments: [String] = []) throws {
            self.stateDir = stateDir
            stderrFile = stateDir + ".watchdog.stderr"
            process.executableURL = URL(fileURLWithPath: NightshiftBinary.path)
            process.arguments = ["watchdog", "--config", config, "--state-dir", stateDir, "--port", "0"] + arguments
            var env = ProcessInfo.processInfo.environment
            env["NIGHTSHIFT_LOG_STDERR"] = "0"
            process.environment = env
            process.currentDirectoryURL = NightshiftBinary.packageRoot
            _ = FileManager.default.createFile(atPath: stderrFile, contents: nil)
            process.standardError = FileHandle(forWritingAtPath: stderrFile)
            process.standardOutput = FileHandle.nullDevice
            try process.runSerialized()
        }

        var pid: Int32 { process.processIdentifier }
        var stderr: String { (try? String(contentsOfFile: stderrFile, encoding: .utf8)) ?? "" }
        var log: String { (try? String(contentsOfFile: file("watchdog.log"), encoding: .utf8)) ?? "" }
        func file(_ name: String) -> String { (stateDir as NSString).appendingPathComponent(name) }

        /// The daemon that announced itself in daemon.json, when it is not `excluded`, is alive and
        /// answers /api/ready 200.
        func readyDaemon(excluding excluded: Int32 = 0) async -> (pid: Int32, url: String)? {
            guard let data = FileManager.default.contents(atPath: file("daemon.json")),
                let o = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                let pid = (o["pid"] as? NSNumber)?.int32Value, pid != excluded, let url = o["url"] as? String,
                WatchdogTests.isAlive(pid), await HTTP.get(url + "/api/ready")?.status == 200
            else { return nil }
            return (pid, url)
        }

        /// Waits for a ready daemon other than `excluded`.
        func waitForDaemon(excluding excluded: Int32 = 0, timeout: Double = 60) async -> (pid: Int32, url: String)? {
            var found: (pid: Int32, url: String)?
            _ = await waitFor(timeout: timeout) {
                found = await readyDaemon(excluding: excluded)
                return found != nil
            }
            return found
        }

        func waitForExit(timeout: Double = 60) async -> Int32? {
            guard await waitFor(timeout: timeout, { !process.isRunning }) else { return nil }
            return process.terminationStatus
        }

        deinit {
            if process.isRunning {
                kill(process.processIdentifier, SIGTERM)
                process.waitUntilExit()
            }
            try? FileManager.default.removeItem(atPath: stderrFile)
        }
    }

    /// A quiet config: an empty backlog, no restart requests from the monitor, fast probes, and
    /// a daemon that has not answered 10 s after its start is replaced (so a start that stalls on
    /// a loaded machine is retried well within the tests' 60 s deadlines).
    static func writeConfig(_ dir: TemporaryDirectory, watchdog: String = "", extra: String = "") throws -> String {
        let backlog = try dir.write("", to: "backlog.md")
        return try dir.write(
            """
            project_manager: { backlog: "\(backlog)" }
            monitor: { auto_recover: false }
            watchdog: { health_interval: 200ms, startup_timeout: 10s\(watchdog.isEmpty ? "" : ", " + watchdog) }
            \(extra)
            """, to: "nightshift.yaml")
    }

    /// Alive and not a zombie.
    static func isAlive(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")")
        else { return false }
        let state = stat[stat.index(after: close)...].split(separator: " ").first
        return state != "Z" && state != "X"
    }

    /// Live processes whose process group is `pgid`.
    static func groupMembers(_ pgid: Int32) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap(Int32.init).filter { pid in
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { return false }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.count > 2 && Int32(fields[2]) == pgid && fields[0] != "Z" && fields[0] != "X"
        }
    }

    /// Live processes started under watchdog `pid` (the daemon passes NIGHTSHIFT_WATCHDOG_PID on).
    static func descendants(ofWatchdog pid: Int32) -> [Int32] {
        let needle = Array("NIGHTSHIFT_WATCHDOG_PID=\(pid)".utf8)
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap(Int32.init).filter { p in
            guard isAlive(p), let env = FileManager.default.contents(atPath: "/proc/\(p)/environ") else { return false }
            return env.split(separator: 0).contains { Array($0) == needle }
        }
    }

    static func readJSON(_ path: String) -> [String: Any]? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return try? JSONSerialization.jsonObject(with: data) as? [String: Any]
    }

    @Test("a daemon killed with SIGKILL comes back: a new pid answers /api/ready, pipeline_version.json names it")
    func killedDaemonComesBack() async throws {
        let dir = try TemporaryDirectory()
        let watchdog = try WatchdogProcess(stateDir: dir.path("state"), config: try Self.writeConfig(dir))
        let first = try #require(
            await watchdog.waitForDaemon(), "no daemon; watchdog stderr: \(watchdog.stderr) log: \(watchdog.log)")
        let version = try #require(Self.readJSON(watchdog.file("pipeline_version.json")))
        #expect((version["pid"] as? NSNumber)?.int32Value == first.pid)
        #expect((version["watchdog_pid"] as? NSNumber)?.int32Value == watchdog.pid)
        #expect(version["git_sha"] is String && version["version"] is String && version["started_at"] is String)
        // The monitor compares the recorded binary mtime with the current one at millisecond
        // precision: an unchanged binary must compare equal (no false stale_version).
        let binary = try #require(version["binary"] as? String)
        let recorded = try #require((version["binary_modified_at"] as? String).flatMap(Timestamp.parse))
        let mtime = try #require(try FileManager.default.attributesOfItem(atPath: binary)[.modificationDate] as? Date)
        #expect(Timestamp.format(recorded) == Timestamp.format(mtime))

        kill(first.pid, SIGKILL)
        let second = try #require(await watchdog.waitForDaemon(excluding: first.pid), "no new daemon; log: \(watchdog.log)")
        #expect(second.pid != first.pid)
        #expect(await HTTP.get(second.url + "/api/ready")?.status == 200)
        #expect(Self.groupMembers(first.pid).isEmpty)
        let again = try #require(Self.readJSON(watchdog.file("pipeline_version.json")))
        #expect((again["pid"] as? NSNumber)?.int32Value == second.pid)
        #expect(watchdog.log.contains("(pid \(first.pid)) ended unexpectedly: killed by signal 9"))
        #expect(watchdog.log.contains("starting the daemon (restart after the daemon ended unexpectedly (killed by signal 9))"))

        kill(watchdog.pid, SIGTERM)
        #expect(await watchdog.waitForExit() == 0)
    }

    @Test("restart_requested.json is consumed (deleted) and a new daemon is started")
    func restartRequest() async throws {
        let dir = try TemporaryDirectory()
        let watchdog = try WatchdogProcess(stateDir: dir.path("state"), config: try Self.writeConfig(dir))
        let first = try #require(
            await watchdog.waitForDaemon(), "no daemon; watchdog stderr: \(watchdog.stderr) log: \(watchdog.log)")
        let request = watchdog.file("restart_requested.json")
        // Written the way the monitor writes it: a temp file renamed into place.
        let tmp = watchdog.file(".restart.tmp")
        try Data(#"{"reason":"stale_version: test","at":"2030-01-01T00:00:00Z","requested_by":"test"}"#.utf8).write(
            to: URL(fileURLWithPath: tmp))
        #expect(rename(tmp, request) == 0)

        #expect(await waitFor(timeout: 5) { !FileManager.default.fileExists(atPath: request) })
        let second = try #require(await watchdog.waitForDaemon(excluding: first.pid), "no new daemon; log: \(watchdog.log)")
        #expect(second.pid != first.pid)
        #expect(await waitFor(timeout: 5) { !Self.isAlive(first.pid) })
        #expect(watchdog.log.contains("restart requested by test: stale_version: test"))
        #expect(watchdog.log.contains("starting the daemon (restart requested: stale_version: test)"))
        let version = try #require(Self.readJSON(watchdog.file("pipeline_version.json")))
        #expect((version["pid"] as? NSNumber)?.int32Value == second.pid)
        // The old daemon stopped gracefully (exit 0), not killed.
        #expect(watchdog.log.contains("(pid \(first.pid)) stopped: exit status 0"))

        // An operator's plain `touch` counts too.
        _ = FileManager.default.createFile(atPath: request, contents: nil)
        let third = try #require(await watchdog.waitForDaemon(excluding: second.pid), "no third daemon; log: \(watchdog.log)")
        #expect(third.pid != second.pid)
        #expect(!FileManager.default.fileExists(atPath: request))

        kill(watchdog.pid, SIGTERM)
        #expect(await watchdog.waitForExit() == 0)
    }

    @Test("a hung daemon (SIGSTOP) fails its health probes and is replaced")
    func hungDaemon() async throws {
        let dir = try TemporaryDirectory()
        let config = try Self.writeConfig(dir, watchdog: "health_timeout: 300ms, health_failures: 2, stop_timeout: 500ms")
        let watchdog = try WatchdogProcess(stateDir: dir.path("state"), config: config)
        let first = try #require(
            await watchdog.waitForDaemon(), "no daemon; watchdog stderr: \(watchdog.stderr) log: \(watchdog.log)")
        // Hung detection starts once the watchdog has seen the daemon answer.
        #expect(await waitFor(timeout: 10) { watchdog.log.contains("(pid \(first.pid)) answers /api/health") })
        kill(first.pid, SIGSTOP)
        let second = try #require(await watchdog.waitForDaemon(excluding: first.pid), "no new daemon; log: \(watchdog.log)")
        #expect(second.pid != first.pid)
        #expect(Self.groupMembers(first.pid).isEmpty)
        #expect(watchdog.log.contains("2 health probes in a row failed"))
        kill(watchdog.pid, SIGTERM)
        #expect(await watchdog.waitForExit() == 0)
    }

    @Test("a daemon that cannot start ends in a crash_loop fatal issue and exit 3 after the start limit")
    func crashLoop() async throws {
        let dir = try TemporaryDirectory()
        // A database that is not one: every daemon fails at startup (exit 1), so it loops.
        // (A taken port is exit 2, which the watchdog does not retry: see OperatorFixesTests.)
        let state = dir.path("state")
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
        try Data(String(repeating: "not a database ", count: 100).utf8).write(
            to: URL(fileURLWithPath: state + "/nightshift.sqlite"))
        let config = try Self.writeConfig(dir)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: NightshiftBinary.path)
        process.arguments = [
            "watchdog", "--config", config, "--state-dir", state, "--port", "0", "--start-limit", "3", "--start-window", "60s",
        ]
        var env = ProcessInfo.processInfo.environment
        env["NIGHTSHIFT_LOG_STDERR"] = "0"
        process.environment = env
        process.currentDirectoryURL = NightshiftBinary.packageRoot
        let err = Pipe()
        process.standardError = err
        process.standardOutput = FileHandle.nullDevice
        try process.runSerialized()
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(await waitFor(timeout: 60) { !process.isRunning })
        #expect(process.terminationStatus == 3)
        #expect(stderr.contains("crash loop"))
        #expect(stderr.split(separator: "\n").count == 1)

        let fatal = try #require(Self.readJSON((state as NSString).appendingPathComponent("fatal_issues.json")))
        let issues = try #require(fatal["issues"] as? [[String: Any]])
        let issue = try #require(issues.first { $0["condition"] as? String == "crash_loop" })
        #expect(issue["reason"] as? String == "crash_loop")
        #expect(issue["source"] as? String == "watchdog")
        #expect(issue["at"] is String)
        let context = try #require(issue["context"] as? [String: Any])
        #expect(context["exit_status"] as? String == "exit status 1")
        #expect((context["starts"] as? NSNumber)?.intValue == 3)
        #expect((context["output_tail"] as? String)?.contains("cannot open database") == true)
        // Its own log has the daemon's output too, and nothing of ours is left running.
        let log = try String(contentsOfFile: (state as NSString).appendingPathComponent("watchdog.log"), encoding: .utf8)
        #expect(log.contains("cannot open database"))
        #expect(Self.descendants(ofWatchdog: process.processIdentifier).isEmpty)
    }

    @Test("SIGTERM stops the daemon gracefully and exits 0, leaving no process of ours")
    func sigtermLeavesNothing() async throws {
        let dir = try TemporaryDirectory()
        let watchdog = try WatchdogProcess(stateDir: dir.path("state"), config: try Self.writeConfig(dir))
        let daemon = try #require(
            await watchdog.waitForDaemon(), "no daemon; watchdog stderr: \(watchdog.stderr) log: \(watchdog.log)")
        #expect(Self.groupMembers(daemon.pid).contains(daemon.pid))  // the daemon leads its own group
        #expect(Self.descendants(ofWatchdog: watchdog.pid).contains(daemon.pid))

        kill(watchdog.pid, SIGTERM)
        #expect(await watchdog.waitForExit() == 0)
        #expect(await waitFor(timeout: 5) { !Self.isAlive(daemon.pid) })
        #expect(Self.groupMembers(daemon.pid).isEmpty)
        #expect(Self.descendants(ofWatchdog: watchdog.pid).isEmpty)
        #expect(!FileManager.default.fileExists(atPath: watchdog.file("daemon.json")))
        #expect(watchdog.log.contains("(pid \(daemon.pid)) stopped: exit status 0"))
        #expect(watchdog.log.contains("[watchdog] stopped"))
    }

    @Test("a second watchdog on the same state dir, or one over an unsupervised daemon, refuses to start")
    func refusesToShare() async throws {
        let dir = try TemporaryDirectory()
        let config = try Self.writeConfig(dir)
        let watchdog = try WatchdogProcess(stateDir: dir.path("state"), config: config)
        _ = try #require(await watchdog.waitForDaemon(), "no daemon; watchdog stderr: \(watchdog.stderr) log: \(watchdog.log)")
        let second = try NightshiftBinary.run(["watchdog", "--config", config, "--state-dir", dir.path("state"), "--port", "0"])
        #expect(second.status == 1)
        #expect(second.err.contains("another watchdog"))
        kill(watchdog.pid, SIGTERM)
        #expect(await watchdog.waitForExit() == 0)

        let daemon = try DaemonProcess(stateDir: dir.path("plain"), arguments: ["--config", config])
        #expect(await daemon.waitUntilReady())
        let over = try NightshiftBinary.run(["watchdog", "--config", config, "--state-dir", dir.path("plain"), "--port", "0"])
        #expect(over.status == 1)
        #expect(over.err.contains("already runs on"))
        daemon.signal(SIGTERM)
        #expect(await daemon.waitForExit() == 0)
    }
}
