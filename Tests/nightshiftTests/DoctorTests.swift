import Foundation
import NightshiftTesting
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `nightshift doctor` and the watchdog's preflight as a user runs them: the real binary on a
/// config of its own, real executables, a real read-only directory and a real closed port.
@Suite("doctor", .serialized)
struct DoctorTests {
    /// A config in a fresh directory whose executors are scripts written there.
    final class Fixture: @unchecked Sendable {
        let dir: TemporaryDirectory
        let state: String

        init() throws {
            dir = try TemporaryDirectory()
            state = dir.path("state")
        }

        /// An executable shell script in the fixture's directory.
        func script(_ name: String, _ body: String) throws -> String { try dir.script(name, body) }

        func config(_ yaml: String) throws -> String {
            try dir.write(
                """
                project_manager: { backlog: "" }
                \(yaml)
                """, to: "nightshift.yaml")
        }

        func doctor(_ config: String, _ extra: [String] = []) throws -> (status: Int32, out: String, err: String) {
            try NightshiftBinary.run(["doctor", "--config", config, "--state-dir", state] + extra, cwd: dir.path(""))
        }
    }

    /// The line of the check named `name`.
    static func line(_ out: String, _ name: String) -> String? {
        out.split(separator: "\n").map(String.init).first { $0.dropFirst(6).hasPrefix(name + " ") }
    }

    /// A port on loopback nobody listens on (bound, then closed).
    static func closedPort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        return Int(UInt16(bigEndian: addr.sin_port))
    }

    @Test("the example config with the demo agent passes, one line a check")
    func defaults() throws {
        let f = try Fixture()
        let r = try NightshiftBinary.run(
            ["doctor", "--state-dir", f.state], cwd: NightshiftBinary.packageRoot.path)
        #expect(r.status == 0, "\(r.out)\(r.err)")
        let executor = try #require(Self.line(r.out, "executor default"))
        #expect(executor.hasPrefix("PASS"))
        #expect(executor.contains("scripts/demo_agent.sh"))
        #expect(executor.contains("GNU bash"))
        #expect(Self.line(r.out, "backlog")?.hasPrefix("PASS") == true)
        #expect(Self.line(r.out, "state_dir")?.hasPrefix("PASS") == true)
        #expect(r.out.hasSuffix("preflight: PASS\n") || r.out.contains("preflight: PASS with"))
    }

    @Test("a missing executor binary is one FAIL line naming it, exit 2")
    func missingBinary() throws {
        let f = try Fixture()
        let config = try f.config(#"runner: { executors: { default: { command: "no-such-agent-7f3 -p {direction}" } } }"#)
        let r = try f.doctor(config)
        #expect(r.status == 2)
        let fails = r.out.split(separator: "\n").filter { $0.hasPrefix("FAIL") }
        #expect(fails.count == 1, "\(r.out)")
        #expect(fails.first?.contains("executor default") == true)
        #expect(fails.first?.contains("no-such-agent-7f3 is not on PATH") == true)
        #expect(fails.first?.contains("fix: install no-such-agent-7f3") == true)
        #expect(r.out.contains("preflight: FAIL (1 check(s) failing)"))
    }

    @Test("a script the executor hands its interpreter must exist")
    func missingScript() throws {
        let f = try Fixture()
        let config = try f.config(#"runner: { executors: { default: { command: "bash agents/gone.sh {direction}" } } }"#)
        let r = try f.doctor(config)
        #expect(r.status == 2)
        #expect(Self.line(r.out, "executor default")?.contains("its script agents/gone.sh does not exist") == true, "\(r.out)")
    }

    @Test("a smoke command that fails authentication is a FAIL naming it; a rate limit only warns")
    func smokeAuthentication() throws {
        let f = try Fixture()
        let agent = try f.script("agent.sh", "echo working; exit 0")
        let denied = try f.script(
            "denied.sh",
            #"echo 'API Error: 401 {"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}'; exit 1"#
        )
        let limited = try f.script("limited.sh", #"echo 'API Error: 429 rate_limit_error'; exit 1"#)
        let config = try f.config(
            """
            runner:
              executors:
                default: { command: "\(agent) {direction}", smoke_command: "\(denied) {direction}" }
            """)
        let r = try f.doctor(config)
        #expect(r.status == 2)
        let smoke = try #require(Self.line(r.out, "smoke default"), "\(r.out)")
        #expect(smoke.hasPrefix("FAIL"))
        #expect(smoke.contains("authentication"))
        #expect(smoke.contains("invalid x-api-key"))
        #expect(smoke.contains("fix: authentication failed (401/403)"))
        // The smoke run's whole output is kept.
        let log = try String(contentsOfFile: f.state + "/doctor/default-smoke.log", encoding: .utf8)
        #expect(log.contains("authentication_error"))

        let json = try f.doctor(config, ["--json"])
        #expect(json.status == 2)
        let report = try #require(try JSONSerialization.jsonObject(with: Data(json.out.utf8)) as? [String: Any])
        let checks = try #require(report["checks"] as? [[String: Any]])
        let smokeJSON = try #require(checks.first { $0["name"] as? String == "smoke default" })
        #expect(smokeJSON["status"] as? String == "FAIL")
        #expect(smokeJSON["provider_failure"] as? String == "authentication")
        #expect(report["passed"] as? Bool == false)

        let rateConfig = try f.config(
            """
            runner:
              executors:
                default: { command: "\(agent) {direction}", smoke_command: "\(limited)" }
            """)
        let rate = try f.doctor(rateConfig)
        #expect(rate.status == 0, "\(rate.out)")
        let rateLine = try #require(Self.line(rate.out, "smoke default"))
        #expect(rateLine.hasPrefix("WARN"))
        #expect(rateLine.contains("rate_limit"))
        #expect(rateLine.contains("429"))
        // --no-smoke runs none.
        let skipped = try f.doctor(config, ["--no-smoke"])
        #expect(skipped.status == 0, "\(skipped.out)")
        #expect(Self.line(skipped.out, "smoke default") == nil)
    }

    @Test("a read-only state dir is one FAIL line naming it, exit 2")
    func readOnlyStateDir() throws {
        let f = try Fixture()
        try FileManager.default.createDirectory(atPath: f.state, withIntermediateDirectories: true)
        chmod(f.state, 0o555)
        // Root writes through modes: make the directory immutable as well.
        if geteuid() == 0 { try Command.run(["chattr", "+i", f.state]) }
        defer {
            if geteuid() == 0 { _ = try? Command.run(["chattr", "-i", f.state]) }
            chmod(f.state, 0o755)
        }
        let probe = f.state + "/probe"
        #expect(
            !FileManager.default.createFile(atPath: probe, contents: Data()), "the test could not make the directory read-only")
        let agent = try f.script("agent.sh", "exit 0")
        let r = try f.doctor(try f.config(#"runner: { executors: { default: { command: "\#(agent)" } } }"#))
        #expect(r.status == 2)
        let fails = r.out.split(separator: "\n").filter { $0.hasPrefix("FAIL") }
        #expect(fails.count == 1, "\(r.out)")
        #expect(fails.first?.contains("state_dir") == true)
        #expect(fails.first?.contains("is not writable") == true)
    }

    @Test("an unreachable webhook is one FAIL line naming it, exit 2")
    func unreachableWebhook() throws {
        let f = try Fixture()
        let port = try Self.closedPort()
        let agent = try f.script("agent.sh", "exit 0")
        let config = try f.config(
            """
            runner: { executors: { default: { command: "\(agent)" } } }
            notify: { webhooks: ["http://127.0.0.1:\(port)/hook"] }
            """)
        let r = try f.doctor(config)
        #expect(r.status == 2)
        let fails = r.out.split(separator: "\n").filter { $0.hasPrefix("FAIL") }
        #expect(fails.count == 1, "\(r.out)")
        #expect(fails.first?.contains("webhook http://127.0.0.1:\(port)/hook") == true)
        #expect(fails.first?.contains("unreachable") == true)
    }

    @Test("the prod profile without a budget fails; bad usage and a bad config exit 2 in one line")
    func budgetAndUsage() throws {
        let f = try Fixture()
        let agent = try f.script("agent.sh", "exit 0")
        let config = try f.config(#"runner: { executors: { default: { command: "\#(agent)" } } }"#)
        let prod = try f.doctor(config, ["--profile", "prod"])
        #expect(prod.status == 2)
        #expect(Self.line(prod.out, "budget")?.hasPrefix("FAIL") == true)
        #expect(try f.doctor(config, ["--profile", "prod", "--budget", "0.5"]).status == 0)
        let badProfile = try f.doctor(config, ["--profile", "live"])
        #expect(badProfile.status == 2)
        #expect(badProfile.err.contains("--profile must be one of dev, stage, prod"))
        let badConfig = try f.doctor(try f.dir.write("runner: { workers: -1 }", to: "bad.yaml"))
        #expect(badConfig.status == 2)
        #expect(badConfig.out.hasPrefix("FAIL  config"))
        #expect(badConfig.out.contains("runner.workers"))
    }

    @Test("the watchdog runs the preflight first: a FAIL starts no daemon and no task, exit 2")
    func watchdogStopsBeforeStart() throws {
        let f = try Fixture()
        let backlog = try f.dir.write("1. an item that must not start\n", to: "backlog.md")
        let config = try f.dir.write(
            """
            project_manager: { backlog: "\(backlog)" }
            runner: { executors: { default: { command: "no-such-agent-7f3 {direction}" } } }
            """, to: "nightshift.yaml")
        let r = try NightshiftBinary.run(
            ["watchdog", "--config", config, "--state-dir", f.state, "--port", "0"], cwd: f.dir.path(""))
        #expect(r.status == 2)
        #expect(r.err.contains("preflight FAIL executor default: no-such-agent-7f3 is not on PATH"), "\(r.err)")
        #expect(r.err.contains("preflight failed: 1 check(s) FAIL"))
        let state = (try? FileManager.default.contentsOfDirectory(atPath: f.state)) ?? []
        #expect(!state.contains("nightshift.sqlite"), "no daemon may have opened the store: \(state)")
        #expect(!state.contains("daemon.json"))
        #expect(!state.contains("pipeline_version.json"))
    }
}
