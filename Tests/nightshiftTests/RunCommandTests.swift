import Foundation
import NightshiftCore
import NightshiftTesting
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `nightshift run` as an operator runs it: the real binary, real fake agents (shell scripts),
/// a real state dir; every exit code forced for real.
@Suite("nightshift run", .serialized)
struct RunCommandTests {
    final class Fixture: @unchecked Sendable {
        let dir: TemporaryDirectory
        let state: String

        init() throws {
            dir = try TemporaryDirectory()
            state = dir.path("state")
        }

        func script(_ name: String, _ body: String) throws -> String { try dir.script(name, body) }

        /// A config whose default executor is `agent`, over `backlog`.
        func config(agent: String, backlog: String = "1. first item\n2. second item\n", extra: String = "") throws -> String {
            let file = try dir.write(backlog, to: "backlog.md")
            return try dir.write(
                """
                project_manager: { backlog: "\(file)" }
                runner: { executors: { default: { command: "\(agent) {direction}" } }, retry_backoff: { base: 0s, max: 0s }, max_attempts: 1 }
                monitor: { interval: 1h, api_probe: false }
                \(extra)
                """, to: "nightshift.yaml")
        }

        func run(_ config: String, _ arguments: [String]) throws -> (status: Int32, out: String, err: String) {
            try NightshiftBinary.run(
                ["run", "--config", config, "--state-dir", state, "--no-api"] + arguments,
                environment: ["NIGHTSHIFT_LOG_STDERR": "0"], cwd: dir.path(""))
        }

        var report: [String: String] {
            SessionReport.parseKeys((try? String(contentsOfFile: state + "/reports/session_report.md", encoding: .utf8)) ?? "")
        }

        func runDir(_ id: String) -> String { state + "/runs/" + id }

        func summary(_ id: String) throws -> RunSummary {
            try JSONDecoder.nightshift().decode(
                RunSummary.self, from: try Data(contentsOf: URL(fileURLWithPath: runDir(id) + "/summary.json")))
        }
    }

    static func sha256(_ path: String) throws -> String { String(try Command.run(["sha256sum", path]).out.prefix(64)) }

    static func tarList(_ path: String) throws -> [String] {
        try Command.run(["tar", "-tzf", path]).out.split(separator: "\n").map(String.init)
    }

    @Test("--smoke runs the backlog as dry runs: exit 0, the report's keys, 80 columns, the archive's hash, one run")
    func smoke() throws {
        let f = try Fixture()
        // The real agent is never run by a smoke run.
        let agent = try f.script("agent.sh", "echo 'the real agent ran' >> \(f.dir.path("ran")); exit 1")
        let config = try f.config(agent: agent)
        let r = try f.run(config, ["--smoke"])
        #expect(r.status == 0, "\(r.out)\(r.err)")
        #expect(!FileManager.default.fileExists(atPath: f.dir.path("ran")))
        let keys = f.report
        let id = try #require(keys["RUN_ID"])
        #expect(RunID.isValid(id))
        #expect(keys["MODE"] == "smoke")
        #expect(keys["DRY_RUN"] == "true")
        #expect(keys["OFFLINE_MODE"] == "false")
        #expect(keys["CASES_TOTAL"] == "8")
        #expect(keys["CASES_PASSED"] == "8")
        #expect(keys["PASS_RATE"] == "100.0")
        #expect(keys["COST_USD"] == "0.0000")
        #expect(keys["RUN_STATE"] == "SUCCESS")
        #expect(keys["RESULT"] == "PASS")
        #expect(keys["ERROR_CLASS"] == "none")
        #expect(keys["DLQ_COUNT"] == "0")
        #expect(keys["SESSION_ID"]?.hasPrefix("session_") == true)
        for key in [
            "TARGET", "PROFILE", "BUDGET_USD", "DURATION_MS", "P50_MS", "P95_MS", "TIMESTAMP", "WARNINGS", "LAST_DLQ_RUN_ID",
        ] {
            #expect(keys[key] != nil, "\(key)")
        }
        #expect(r.out.contains("RESULT: PASS"))

        // Written once, atomically: no temporary file left, one copy in the history.
        let reports = try FileManager.default.contentsOfDirectory(atPath: f.state + "/reports")
        #expect(reports.sorted() == ["history", "session_report.md"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: f.state + "/reports/history").count == 1)

        // The summary: 80 columns, every task, the archive's size and hash.
        let text = try String(contentsOfFile: f.runDir(id) + "/summary.txt", encoding: .utf8)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.allSatisfy { $0.count <= 80 }, "\(lines.filter { $0.count > 80 })")
        #expect(text.contains("Run:          \(id)"))
        #expect(text.contains("ITEM 1 [done] first item"))
        let archive = f.runDir(id) + "/run.tar.gz"
        let digest = try Self.sha256(archive)
        #expect(text.contains("SHA256:       \(digest)"))
        let summary = try f.summary(id)
        #expect(summary.archive?.sha256 == digest)
        #expect(summary.tasks.count == 8)
        #expect(summary.tasks.allSatisfy { $0.status == .completed })
        let members = try Self.tarList(archive)
        #expect(members.contains("run.json"))
        #expect(members.contains("summary.txt"))
        #expect(members.contains("logs/run.log"))
        #expect(members.contains { $0.hasPrefix("logs/1/01-spec-task_") })
        #expect(members.contains { $0.hasPrefix("logs/2/04-review-task_") })

        // run.json, and every component line of the run carries its id.
        let info = try JSONDecoder.nightshift().decode(
            RunInfo.self, from: try Data(contentsOf: URL(fileURLWithPath: f.runDir(id) + "/run.json")))
        #expect(info.id == id)
        #expect(info.mode == .smoke)
        #expect(info.state == .success)
        #expect(info.endedAt != nil)
        #expect(info.starts == 1)
        let runLog = try String(contentsOfFile: f.runDir(id) + "/logs/run.log", encoding: .utf8)
        #expect(runLog.contains("[project_manager]"))
        #expect(runLog.contains("[agent_runner]"))
        #expect(runLog.split(separator: "\n").allSatisfy { $0.contains("run_id=\(id)") })
        // A task's lines name the task, its item and its phase.
        #expect(
            runLog.split(separator: "\n").contains {
                $0.contains("[agent_runner] starting attempt") && $0.contains("item=1") && $0.contains("phase=spec")
                    && $0.contains("task.id=task_")
            })
        // The smoke run used a scratch store: the state dir's own has no tasks.
        #expect(!FileManager.default.fileExists(atPath: f.state + "/nightshift.sqlite"))
        let attemptLog = try #require(members.first { $0.hasPrefix("logs/1/01-spec-task_") })
        let logged = try String(contentsOfFile: f.runDir(id) + "/" + attemptLog, encoding: .utf8)
        #expect(logged.contains("nightshift smoke: dry run of spec task"))
    }

    @Test("three runs: three history folders, and the trends draw sparklines")
    func history() throws {
        let f = try Fixture()
        let config = try f.config(agent: try f.script("agent.sh", "exit 0"), backlog: "1. only item\n")
        for _ in 0..<3 {
            let r = try f.run(config, ["--smoke", "--offline"])
            #expect(r.status == 0, "\(r.err)")
        }
        let history = try FileManager.default.contentsOfDirectory(atPath: f.state + "/reports/history")
        #expect(history.count == 3, "\(history)")
        for dir in history {
            #expect(FileManager.default.fileExists(atPath: f.state + "/reports/history/\(dir)/session_report.md"))
        }
        let report = try String(contentsOfFile: f.state + "/reports/session_report.md", encoding: .utf8)
        #expect(report.contains("## KPI trends (last 3 runs)"))
        let passRate = try #require(report.split(separator: "\n").first { $0.hasPrefix("pass rate") })
        #expect(passRate.contains("▄▄▄"), "\(passRate)")
        #expect(passRate.contains("min 100.0% median 100.0% max 100.0%"))
        #expect(!report.contains("not enough history"))
        #expect(f.report["OFFLINE_MODE"] == "true")
        // The previous run is the table's comparison.
        #expect(report.contains("| cases_total | P0 | >= 1 | 4 | 4 | 0 | PASS |"))
    }

    @Test("a missing executor binary exits 2 before any task (exit 2)")
    func missingExecutor() throws {
        let f = try Fixture()
        let config = try f.config(agent: "no-such-agent-7f3")
        let r = try f.run(config, ["--full", "--budget", "1"])
        #expect(r.status == 2, "\(r.err)")
        #expect(r.err.contains("preflight FAIL executor default: no-such-agent-7f3 is not on PATH"))
        #expect(r.err.contains("no task started"))
        #expect(!FileManager.default.fileExists(atPath: f.state + "/nightshift.sqlite"))
        #expect(!FileManager.default.fileExists(atPath: f.state + "/runs"))
    }

    @Test("a state dir a daemon already holds: exit 2 naming it, no run made")
    func lockedStateDir() async throws {
        let f = try Fixture()
        let config = try f.config(agent: try f.script("agent.sh", "exit 0"))
        let daemon = try DaemonProcess(stateDir: f.state, arguments: ["--config", config])
        #expect(await daemon.waitUntilReady())
        let r = try f.run(config, ["--smoke"])
        #expect(r.status == 2, "\(r.err)")
        #expect(r.err.contains("is locked by another daemon (pid"), "\(r.err)")
        let runs = (try? FileManager.default.contentsOfDirectory(atPath: f.state + "/runs")) ?? []
        #expect(runs.count == 1, "only the daemon's own run: \(runs)")
    }

    @Test("the prod profile without a budget of 0.10 USD and a bad usage exit 2")
    func environmentAndUsage() throws {
        let f = try Fixture()
        let config = try f.config(agent: try f.script("agent.sh", "exit 0"))
        let prod = try f.run(config, ["--full", "--budget", "0.05", "--profile", "prod"])
        #expect(prod.status == 2)
        #expect(prod.err.contains("preflight FAIL budget"))
        #expect(try f.run(config, ["--smoke", "--full"]).status == 2)
        let noBudget = try f.run(config, ["--full"])
        #expect(noBudget.status == 2)
        #expect(noBudget.err.contains("--full needs --budget USD"))
    }

    @Test("a malformed backlog exits 3, an agent's result file that breaks its schema exits 3")
    func validation() throws {
        let f = try Fixture()
        let agent = try f.script("agent.sh", "exit 0")
        let malformed = try f.config(agent: agent, backlog: "1. fine\n- [ ] not a numbered line\n")
        let r = try f.run(malformed, ["--smoke"])
        #expect(r.status == 3, "\(r.err)")
        #expect(r.err.contains("backlog"))

        let g = try Fixture()
        let bad = try g.script("bad.sh", #"printf '{"status": 42}' > "$NIGHTSHIFT_RESULT_FILE"; exit 0"#)
        let badResult = try g.run(try g.config(agent: bad, backlog: "1. one\n"), ["--full", "--budget", "1"])
        #expect(badResult.status == 3, "\(badResult.out)\(badResult.err)")
        #expect(g.report["RESULT"] == "FAIL")
    }

    @Test("a task that fails for good: exit 4, RESULT FAIL, the item named in the errors")
    func failingTask() throws {
        let f = try Fixture()
        let agent = try f.script(
            "agent.sh", #"echo "attempt for $NIGHTSHIFT_TASK_TYPE"; [ "$NIGHTSHIFT_TASK_TYPE" = impl ] && exit 1; exit 0"#)
        let r = try f.run(try f.config(agent: agent, backlog: "1. doomed\n"), ["--full", "--budget", "1"])
        #expect(r.status == 4, "\(r.out)\(r.err)")
        let keys = f.report
        #expect(keys["RESULT"] == "FAIL")
        #expect(keys["RUN_STATE"] == "FAIL")
        #expect(keys["ERROR_CLASS"] == "item_blocked")
        #expect(keys["CASES_TOTAL"] == "2")
        #expect(keys["CASES_PASSED"] == "1")
        #expect(keys["LAST_DLQ_RUN_ID"] == keys["RUN_ID"])
        let summary = try String(contentsOfFile: f.runDir(keys["RUN_ID"]!) + "/summary.txt", encoding: .utf8)
        #expect(summary.contains("item 1 blocked: impl failed"))
    }

    @Test("a run whose spend passes its budget stops: exit 4, ERROR_CLASS budget_exceeded")
    func overBudget() throws {
        let f = try Fixture()
        // A Claude Code result line that reports what the attempt cost (after half a second of work).
        let agent = try f.script(
            "agent.sh",
            #"sleep 0.5; echo '{"type":"result","subtype":"success","is_error":false,"result":"done","total_cost_usd":0.25,"usage":{"input_tokens":100,"output_tokens":50}}'"#
        )
        let r = try f.run(try f.config(agent: agent, backlog: "1. pricey\n2. pricier\n"), ["--full", "--budget", "0.3"])
        #expect(r.status == 4, "\(r.out)\(r.err)")
        let keys = f.report
        #expect(keys["ERROR_CLASS"] == "budget_exceeded")
        #expect(keys["RESULT"] == "FAIL")
        #expect(keys["BUDGET_USD"] == "0.30")
        let cost = try #require(Double(keys["COST_USD"] ?? ""))
        #expect(cost > 0.3)
        // It stopped: not every task of the two items ran.
        #expect(Int(keys["CASES_TOTAL"] ?? "") ?? 99 < 8)
    }

    @Test("SIGINT mid-run: agents torn down, exit 5, RUN_STATE INTERRUPTED, a partial report")
    func interrupted() async throws {
        let f = try Fixture()
        let pidFile = f.dir.path("agent.pid")
        let agent = try f.script("agent.sh", "echo $$ > \(pidFile); echo started; exec sleep 3600")
        let config = try f.config(agent: agent, backlog: "1. long\n")
        let id = "run_20261201_230000_test"
        let p = Process()
        p.executableURL = URL(fileURLWithPath: NightshiftBinary.path)
        p.arguments = ["run", "--config", config, "--state-dir", f.state, "--no-api", "--full", "--budget", "1", "--run-id", id]
        var env = ProcessInfo.processInfo.environment
        env["NIGHTSHIFT_LOG_STDERR"] = "0"
        p.environment = env
        p.currentDirectoryURL = URL(fileURLWithPath: f.dir.path(""))
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.runSerialized()
        try await RuntimeHarness.waitUntil("the agent to start", timeout: 60) {
            (try? String(contentsOfFile: pidFile, encoding: .utf8)).flatMap {
                Int32($0.trimmingCharacters(in: .whitespacesAndNewlines))
            } != nil
        }
        let agentPID = Int32(
            (try String(contentsOfFile: pidFile, encoding: .utf8)).trimmingCharacters(in: .whitespacesAndNewlines))!
        kill(p.processIdentifier, SIGINT)
        try await RuntimeHarness.waitUntil("nightshift run to exit", timeout: 60) { !p.isRunning }
        #expect(p.terminationStatus == 5)
        #expect(RuntimeHarness.isDead(agentPID), "the agent was left behind")
        let keys = f.report
        #expect(keys["RUN_ID"] == id)
        #expect(keys["RUN_STATE"] == "INTERRUPTED")
        let info = try JSONDecoder.nightshift().decode(
            RunInfo.self, from: try Data(contentsOf: URL(fileURLWithPath: f.runDir(id) + "/run.json")))
        #expect(info.state == .interrupted)
        #expect(FileManager.default.fileExists(atPath: f.runDir(id) + "/summary.txt"))
    }

    /// Validates `file` against the JSON Schema 2020-12 `schema` with Python's jsonschema.
    static func validate(_ file: String, schema: String) throws -> (ok: Bool, message: String) {
        let r = try Command.run([
            "python3", "-c",
            """
            import json, sys
            from jsonschema import Draft202012Validator, FormatChecker
            schema = json.load(open(sys.argv[1])); Draft202012Validator.check_schema(schema)
            errors = list(Draft202012Validator(schema, format_checker=FormatChecker()).iter_errors(json.load(open(sys.argv[2]))))
            print("; ".join(f"{list(e.path)}: {e.message}" for e in errors) or "valid"); sys.exit(1 if errors else 0)
            """, schema, file,
        ])
        return (r.status == 0, r.out + r.err)
    }

    @Test("--export csv,json and --handoff: exports that meet their schema, an index whose links all resolve")
    func exportsAndHandoff() throws {
        let f = try Fixture()
        let config = try f.config(agent: try f.script("agent.sh", "exit 0"))
        let r = try f.run(config, ["--smoke", "--export", "csv,json", "--handoff"])
        #expect(r.status == 0, "\(r.err)")
        let id = try #require(f.report["RUN_ID"])
        let export = f.state + "/reports/export"
        let json = export + "/\(id).json"
        let schema = NightshiftBinary.packageRoot.appendingPathComponent("api/task_export.schema.json").path
        let check = try Self.validate(json, schema: schema)
        #expect(check.ok, "\(check.message)")
        #expect(
            try Data(contentsOf: URL(fileURLWithPath: json)) == Data(contentsOf: URL(fileURLWithPath: export + "/latest.json")))
        let csv = try String(contentsOfFile: export + "/\(id).csv", encoding: .utf8)
        #expect(csv.components(separatedBy: "\r\n").count == 1 + 8 + 1)
        // A record that breaks the schema is caught: the check can fail.
        let broken = f.dir.path("broken.json")
        try Data(#"{"run_id": "\#(id)", "generated_at": "2026-12-01T00:00:00Z", "tasks": [{"task_id": "x"}]}"#.utf8)
            .write(to: URL(fileURLWithPath: broken))
        #expect(!(try Self.validate(broken, schema: schema)).ok)

        let index = try String(contentsOfFile: f.state + "/reports/handoff/INDEX.md", encoding: .utf8)
        #expect(index.hasPrefix("# Handoff: \(id)"))
        let links = index.components(separatedBy: "](").dropFirst().map { String($0.prefix { $0 != ")" }) }
        #expect(links.count >= 8 + 6)
        for link in links {
            let target = URL(fileURLWithPath: f.state + "/reports/handoff/" + link).standardizedFileURL.path
            #expect(FileManager.default.fileExists(atPath: target), "\(link)")
        }
        #expect(index.contains("\(id).csv"))
        #expect(index.contains("sha256 `"))
    }

    @Test("runs list|show|archive|export and report read the state dir without a daemon")
    func runsAndReport() throws {
        let f = try Fixture()
        let config = try f.config(agent: try f.script("agent.sh", "exit 0"), backlog: "1. one\n")
        #expect(try f.run(config, ["--smoke"]).status == 0)
        func cli(_ args: [String]) throws -> (status: Int32, out: String, err: String) {
            try NightshiftBinary.run(args + ["--state-dir", f.state], cwd: f.dir.path(""))
        }
        let id = try #require(f.report["RUN_ID"])
        let list = try cli(["runs", "list"])
        #expect(list.status == 0)
        #expect(list.out.contains(id))
        #expect(list.out.contains("SUCCESS"))
        #expect(list.out.contains("PASS"))
        let show = try cli(["runs", "show", "latest"])
        #expect(show.out.contains("NIGHTSHIFT RUN SUMMARY"))
        #expect(show.out.contains(id))
        let detail = try cli(["runs", "show", id, "--json"])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(detail.out.utf8)) as? [String: Any])
        #expect((object["run"] as? [String: Any])?["id"] as? String == id)
        let archive = try cli(["runs", "archive", id])
        #expect(archive.status == 0)
        let digest = try Self.sha256(f.runDir(id) + "/run.tar.gz")
        #expect(archive.out.contains("sha256 \(digest)"))
        #expect(try f.summary(id).archive?.sha256 == digest)
        #expect(try cli(["runs", "export", "latest", "--format", "csv"]).out.contains("\(id).csv"))
        #expect(try cli(["runs", "show", "run_bad"]).status == 2)
        #expect(try cli(["runs", "show", "run_20200101_000000_none"]).status == 1)

        let summary = try cli(["report"])
        #expect(summary.out.split(separator: "\n").allSatisfy { $0.contains(": ") })
        #expect(summary.out.contains("RESULT: PASS"))
        let full = try cli(["report", "--run-id", id, "--format", "full"])
        #expect(full.out.contains("## Thresholds"))
        let json = try cli(["report", "--format", "json"])
        let keys = try #require(try JSONSerialization.jsonObject(with: Data(json.out.utf8)) as? [String: String])
        #expect(keys["RUN_ID"] == id)
        let empty = try TemporaryDirectory()
        #expect(try NightshiftBinary.run(["report", "--state-dir", empty.path("s")]).status == 1)
    }
}
