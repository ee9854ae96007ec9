import Foundation
import NightshiftTesting
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `nightshift gate` against a real temporary git repository and a real daemon.
@Suite("start gate", .serialized)
struct GateTests {
    /// A committed git repository, a daemon on it, and the paths the gate needs.
    final class Fixture: @unchecked Sendable {
        let dir: TemporaryDirectory
        let repo: String
        let state: String
        let config: String
        let waivers: String
        var daemon: DaemonProcess?

        init(config extra: String = "", startDaemon: Bool = true) async throws {
            dir = try TemporaryDirectory()
            repo = dir.path("repo")
            state = dir.path("state")
            waivers = dir.path("waivers.json")
            try FileManager.default.createDirectory(atPath: repo, withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
            try Data(#"{"waivers": []}"#.utf8).write(to: URL(fileURLWithPath: waivers))
            try Self.git(["init", "-q"], in: repo)
            try Self.git(["config", "user.email", "gate@test"], in: repo)
            try Self.git(["config", "user.name", "gate test"], in: repo)
            try Data("hello\n".utf8).write(to: URL(fileURLWithPath: repo + "/README.md"))
            try Self.git(["add", "README.md"], in: repo)
            try Self.git(["commit", "-q", "-m", "first"], in: repo)
            let backlog = try dir.write("", to: "backlog.md")
            config = try dir.write(
                """
                project_manager: { backlog: "\(backlog)" }
                \(extra)
                """, to: "nightshift.yaml")
            if startDaemon {
                let d = try DaemonProcess(stateDir: state, arguments: ["--config", config])
                guard await d.waitUntilReady() else { throw CLIError("the daemon did not start: \(d.stderr)") }
                daemon = d
            }
        }

        struct CLIError: Error {
            var message: String
            init(_ m: String) { message = m }
        }

        @discardableResult
        static func git(_ args: [String], in dir: String) throws -> String {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            p.arguments = ["git", "-C", dir] + args
            let out = Pipe()
            p.standardOutput = out
            p.standardError = FileHandle.nullDevice
            try p.runSerialized()
            let data = out.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            guard p.terminationStatus == 0 else { throw CLIError("git \(args.joined(separator: " ")) failed") }
            return String(decoding: data, as: UTF8.self)
        }

        /// Runs the gate; `url` defaults to the daemon's (or a port nobody listens on); with
        /// `discover` no URL is given and the gate finds the daemon through the state dir.
        func gate(
            json: Bool = false, url: String? = nil, discover: Bool = false, extra: [String] = []
        ) throws -> (status: Int32, out: String, err: String) {
            let target = url ?? daemon?.url ?? "http://127.0.0.1:9"
            return try NightshiftBinary.run(
                ["gate", "--repo", repo, "--config", config, "--state-dir", state, "--waivers", waivers]
                    + (discover ? [] : ["--url", target])
                    + (json ? ["--json"] : []) + extra)
        }

        /// The gate's JSON report.
        func report(
            discover: Bool = false
        ) throws -> (status: Int32, passed: Bool, checks: [String: [String: Any]], problems: [[String: Any]]) {
            let r = try gate(json: true, discover: discover)
            let o = try #require(
                try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any], "not JSON: \(r.out) \(r.err)")
            var checks: [String: [String: Any]] = [:]
            for c in o["checks"] as? [[String: Any]] ?? [] { checks[c["name"] as? String ?? ""] = c }
            return (r.status, o["passed"] as? Bool ?? false, checks, o["waiver_problems"] as? [[String: Any]] ?? [])
        }

        func stop() async {
            daemon?.signal(SIGTERM)
            _ = await daemon?.waitForExit()
        }

        func writeWaivers(_ json: String) throws { try Data(json.utf8).write(to: URL(fileURLWithPath: waivers)) }
        func stateFile(_ name: String) -> String { (state as NSString).appendingPathComponent(name) }
    }

    static func iso(_ offset: TimeInterval) -> String {
        Date().addingTimeInterval(offset).formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: false, timeZone: .gmt))
    }

    @Test("passes on a clean repository with a ready daemon")
    func passes() async throws {
        let f = try await Fixture()
        let r = try f.report()
        #expect(r.status == 0)
        #expect(r.passed)
        #expect(
            r.checks.keys.sorted() == [
                "ci_status", "daemon_ready", "no_critical_monitor_issues", "no_fatal_issues", "worktree_clean",
            ])
        for name in ["worktree_clean", "daemon_ready", "no_fatal_issues", "no_critical_monitor_issues"] {
            #expect(r.checks[name]?["status"] as? String == "pass", "\(name): \(r.checks[name] ?? [:])")
        }
        #expect(r.checks["ci_status"]?["status"] as? String == "skipped")
        let text = try f.gate()
        #expect(text.status == 0)
        #expect(text.out.hasPrefix("start gate: PASS"))
        await f.stop()
    }

    @Test("fails naming a dirty file, with a remedy")
    func dirtyFile() async throws {
        let f = try await Fixture()
        try Data("scratch".utf8).write(to: URL(fileURLWithPath: f.repo + "/stray-notes.txt"))
        try Data("changed\n".utf8).write(to: URL(fileURLWithPath: f.repo + "/README.md"))
        let r = try f.gate()
        #expect(r.status == 1)
        #expect(r.out.contains("start gate: FAIL (1 check(s) failing)"))
        #expect(r.out.contains("FAIL  worktree_clean"))
        #expect(r.out.contains("stray-notes.txt"))
        #expect(r.out.contains("README.md"))
        #expect(r.out.contains("remedy: commit or stash"))
        await f.stop()
    }

    @Test("fails on a fatal issue, from the API and from the state dir when the daemon is down")
    func fatalIssue() async throws {
        let f = try await Fixture(config: "gate: { require_daemon: false }")
        try Data(
            """
            {"issues": [{"id": "fatal_crash_loop", "condition": "crash_loop", "reason": "crash_loop", "detail": "started 5 times in 1m",
                         "source": "watchdog", "at": "2030-01-01T00:00:00.000Z", "last_seen": "2030-01-01T00:00:00.000Z", "count": 1, "context": {}}]}
            """.utf8
        ).write(to: URL(fileURLWithPath: f.stateFile("fatal_issues.json")))
        let live = try f.report()
        #expect(live.status == 1 && !live.passed)
        let check = try #require(live.checks["no_fatal_issues"])
        #expect(check["status"] as? String == "fail")
        #expect((check["detail"] as? String)?.contains("crash_loop: started 5 times in 1m") == true)
        #expect((check["detail"] as? String)?.contains(f.daemon!.url) == true)
        #expect((check["remedy"] as? String)?.isEmpty == false)

        await f.stop()
        let down = try f.report()
        #expect(down.status == 1)
        #expect(down.checks["daemon_ready"]?["status"] as? String == "pass")
        let fromFile = try #require(down.checks["no_fatal_issues"])
        #expect(fromFile["status"] as? String == "fail")
        #expect((fromFile["detail"] as? String)?.contains(f.stateFile("fatal_issues.json")) == true)
    }

    @Test("fails on an open critical monitor issue in the state dir's monitor_issues.json")
    func criticalMonitorIssueFile() async throws {
        let f = try await Fixture(config: "gate: { require_daemon: false }", startDaemon: false)
        try Data(
            #"{"issues":[{"id":"x","condition":"c","subject":"s","severity":"critical","message":"m","resolved_at":null}]}"#.utf8
        ).write(to: URL(fileURLWithPath: f.stateFile("monitor_issues.json")))
        let r = try f.gate()
        #expect(r.status == 1)
        #expect(r.out.contains("FAIL  no_critical_monitor_issues"))
        #expect(r.out.contains("x [critical] c/s: m"))
        // Resolved, or only medium: passes.
        try Data(
            #"{"issues":[{"id":"x","condition":"c","subject":"s","severity":"critical","message":"m","resolved_at":"2030-01-01T00:00:00Z"},{"id":"y","condition":"c","subject":"s","severity":"medium","message":"m","resolved_at":null}]}"#
                .utf8
        ).write(to: URL(fileURLWithPath: f.stateFile("monitor_issues.json")))
        #expect(try f.gate().status == 0)
    }

    @Test("fails on an open high monitor issue raised by the running daemon's monitor")
    func highMonitorIssueLive() async throws {
        // Any free space is below this threshold: the monitor opens disk_low (high).
        let f = try await Fixture(
            config: "monitor: { interval: 200ms, auto_recover: false, thresholds: { disk_min_free: 1000000GiB } }")
        let url = try #require(f.daemon?.url)
        #expect(
            await waitFor(timeout: 30) {
                let issues = await HTTP.get(url + "/api/agent/monitor-issues")?.json?["issues"] as? [[String: Any]] ?? []
                return issues.contains { $0["condition"] as? String == "disk_low" }
            })
        let r = try f.report()
        #expect(r.status == 1)
        let check = try #require(r.checks["no_critical_monitor_issues"])
        #expect(check["status"] as? String == "fail")
        #expect((check["detail"] as? String)?.contains("[high] disk_low/state_dir") == true)
        await f.stop()
    }

    @Test("a live waiver turns a failure into a warning until it expires; expired and incomplete ones are reported and ignored")
    func waivers() async throws {
        let f = try await Fixture()
        try Data("scratch".utf8).write(to: URL(fileURLWithPath: f.repo + "/stray.txt"))
        try f.writeWaivers(
            """
            {"waivers": [{"check": "worktree_clean", "owner": "alice", "reason": "scratch file, removed tomorrow",
                          "expires_at": "\(Self.iso(3600))", "match": "stray.txt"}]}
            """)
        let waived = try f.gate()
        #expect(waived.status == 0)
        #expect(waived.out.contains("start gate: PASS with 1 waived check(s)"))
        #expect(waived.out.contains("WARN  worktree_clean"))
        #expect(waived.out.contains("waived by alice until"))

        try f.writeWaivers(
            """
            {"waivers": [{"check": "worktree_clean", "owner": "alice", "reason": "old", "expires_at": "\(Self.iso(-60))"},
                         {"check": "worktree_clean", "owner": "bob", "expires_at": "\(Self.iso(3600))"},
                         {"check": "worktree_clean", "owner": "carol", "reason": "other file", "expires_at": "\(Self.iso(3600))", "match": "other.txt"}]}
            """)
        let r = try f.report()
        #expect(r.status == 1 && !r.passed)
        #expect(r.checks["worktree_clean"]?["status"] as? String == "fail")
        #expect(r.problems.count == 2)
        #expect(
            r.problems.contains { ($0["owner"] as? String) == "alice" && ($0["problem"] as? String)?.contains("expired") == true }
        )
        #expect(
            r.problems.contains {
                ($0["owner"] as? String) == "bob" && ($0["problem"] as? String)?.contains("missing reason") == true
            })
        let text = try f.gate()
        #expect(text.out.contains("waivers ignored:"))
        await f.stop()
    }

    @Test("daemon_ready fails when the daemon is down and gate.require_daemon; ci_status runs gate.ci_command")
    func daemonDownAndCI() async throws {
        let f = try await Fixture(
            config: "gate: { ci_command: \"echo 2 tests failed; exit 3\", require_daemon: true }", startDaemon: false)
        let r = try f.report()
        #expect(r.status == 1)
        #expect(r.checks["daemon_ready"]?["status"] as? String == "fail")
        #expect(
            (r.checks["daemon_ready"]?["detail"] as? String)?.contains("cannot reach the daemon at http://127.0.0.1:9") == true)
        #expect(r.checks["ci_status"]?["status"] as? String == "fail")
        #expect((r.checks["ci_status"]?["detail"] as? String)?.contains("2 tests failed") == true)
        // With nothing written yet, the state dir has no issues.
        #expect(r.checks["no_fatal_issues"]?["status"] as? String == "pass")
    }

    @Test("passes on a clean repository with no daemon running, after the backlog file was edited as the RUNBOOK says")
    func noDaemonBacklogEdited() async throws {
        let f = try await Fixture(startDaemon: false)
        try FileManager.default.createDirectory(atPath: f.repo + "/config", withIntermediateDirectories: true)
        try Data("1. First item\n".utf8).write(to: URL(fileURLWithPath: f.repo + "/config/backlog.md"))
        try Fixture.git(["add", "config/backlog.md"], in: f.repo)
        try Fixture.git(["commit", "-q", "-m", "backlog"], in: f.repo)
        let config = try f.dir.write("project_manager: { backlog: \"\(f.repo)/config/backlog.md\" }\n", to: "inrepo.yaml")
        try Data("1. First item\n2. Appended tonight\n".utf8).write(to: URL(fileURLWithPath: f.repo + "/config/backlog.md"))
        let r = try NightshiftBinary.run([
            "gate", "--repo", f.repo, "--config", config, "--state-dir", f.state, "--waivers", f.waivers,
        ])
        #expect(r.status == 0, "\(r.out) \(r.err)")
        #expect(r.out.hasPrefix("start gate: PASS"))
        #expect(r.out.contains("no daemon running"))
        // Anything else still counts.
        try Data("x".utf8).write(to: URL(fileURLWithPath: f.repo + "/stray.txt"))
        let dirty = try NightshiftBinary.run([
            "gate", "--repo", f.repo, "--config", config, "--state-dir", f.state, "--waivers", f.waivers,
        ])
        #expect(dirty.status == 1 && dirty.out.contains("stray.txt") && !dirty.out.contains("config/backlog.md"))
    }

    @Test("finds a running daemon through the state dir's daemon.json, and fails on one left by a dead daemon")
    func daemonThroughStateDir() async throws {
        let f = try await Fixture()
        let live = try f.report(discover: true)
        #expect(live.status == 0, "\(live.checks)")
        #expect((live.checks["daemon_ready"]?["detail"] as? String)?.contains(f.daemon!.url) == true)
        await f.stop()
        #expect(!FileManager.default.fileExists(atPath: f.stateFile("daemon.json")))
        // A daemon that was killed leaves its daemon.json behind, naming a pid that is gone.
        let gone = try DaemonProcess.writeStaleAnnouncement(inStateDir: f.state, url: "http://127.0.0.1:9")
        let dead = try f.report(discover: true)
        #expect(dead.status == 1)
        let detail = dead.checks["daemon_ready"]?["detail"] as? String ?? ""
        #expect(dead.checks["daemon_ready"]?["status"] as? String == "fail")
        #expect(detail.contains(f.stateFile("daemon.json")) && detail.contains("pid \(gone)"), "\(detail)")
    }

    @Test("a fatal_issues.json that cannot be parsed fails the gate, naming the file, with the daemon up or down")
    func malformedFatalIssues() async throws {
        let f = try await Fixture()
        try Data("{\"issues\": [ {\"id\": ".utf8).write(to: URL(fileURLWithPath: f.stateFile("fatal_issues.json")))
        let up = try f.report()
        #expect(up.status == 1)
        #expect(up.checks["no_fatal_issues"]?["status"] as? String == "fail")
        #expect((up.checks["no_fatal_issues"]?["detail"] as? String)?.contains("fatal_issues.json") == true, "\(up.checks)")
        await f.stop()
        let down = try f.report()
        #expect(down.status == 1)
        let detail = down.checks["no_fatal_issues"]?["detail"] as? String ?? ""
        #expect(detail.contains("state_file_unreadable") && detail.contains(f.stateFile("fatal_issues.json")), "\(detail)")
        // The same for the monitor's file.
        try FileManager.default.removeItem(atPath: f.stateFile("fatal_issues.json"))
        try Data("not json".utf8).write(to: URL(fileURLWithPath: f.stateFile("monitor_issues.json")))
        let monitor = try f.report()
        #expect(monitor.status == 1)
        #expect((monitor.checks["no_critical_monitor_issues"]?["detail"] as? String)?.contains("monitor_issues.json") == true)
    }

    @Test("a --waivers file that does not exist is an error (exit 2), not silently no waivers")
    func missingWaivers() async throws {
        let f = try await Fixture(startDaemon: false)
        try FileManager.default.removeItem(atPath: f.waivers)
        let r = try f.gate()
        #expect(r.status == 2)
        #expect(r.err.contains("no waiver file \(f.waivers)"))
        #expect(r.out.isEmpty)
    }
}
