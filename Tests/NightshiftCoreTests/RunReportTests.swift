import Foundation
import NightshiftCore
import Testing

/// Runs' pure parts: ids, the summary's figures and its 80 columns, gates, sparklines, the
/// session report's keys, the CSV export.
@Suite("run reports")
struct RunReportTests {
    static let start = Timestamp.parse("2026-12-01T22:00:00Z")!

    static func info(budget: Double? = nil) -> RunInfo {
        RunInfo(
            id: "run_20261201_220000_abcd", mode: .full, budgetUSD: budget, target: "/repo", backlog: "b.md", gitSHA: "abc",
            configDigest: "d", host: "h", startedAt: start)
    }

    static func task(
        _ item: String?, _ phase: String, _ status: TaskStatus, seconds: Double = 2, cost: Double = 0.01,
        errorClass: String? = nil
    ) -> AgentTask {
        var t = AgentTask(taskType: TaskType(phase), direction: "d", backlogItem: item, phase: phase, now: start)
        t.status = status
        t.startedAt = start
        t.finishedAt = start.addingTimeInterval(seconds)
        t.costUSD = cost
        t.tokensIn = 100
        t.tokensOut = 10
        t.errorClass = errorClass
        if status == .failed { t.error = "it broke" }
        return t
    }

    @Test("run ids: generated in the documented form, validated strictly")
    func runIDs() {
        let id = RunID.generate(now: Self.start)
        #expect(id.hasPrefix("run_20261201_220000_"))
        #expect(RunID.isValid(id))
        for bad in ["run_20261201_220000_ABCD", "run_2026121_220000_abcd", "run_20261201_220000_abc", "../etc", "latest", ""] {
            #expect(!RunID.isValid(bad), "\(bad)")
            #expect(RunID.problem(bad) != nil)
        }
    }

    @Test("the summary counts what ran: retries, cost, percentiles; a looped review is not a dead letter, a blocked item is")
    func figures() {
        let tasks = [
            Self.task("1", "impl", .completed, seconds: 1), Self.task("1", "review", .failed, errorClass: "review_failed"),
            Self.task("1", "impl", .completed, seconds: 3), Self.task("2", "spec", .failed, seconds: 4, errorClass: "exit_code"),
            Self.task(nil, "impl", .failed, seconds: 5, errorClass: "timeout"), Self.task(nil, "impl", .pending),
        ]
        var attempts: [String: Int] = [:]
        for t in tasks.prefix(5) { attempts[t.id] = 1 }
        attempts[tasks[3].id] = 3
        let items = [
            RunSummary.Item(key: "1", title: "one", state: "done"),
            RunSummary.Item(key: "2", title: "two", state: "blocked", blockedReason: "spec failed"),
        ]
        let s = RunSummary.build(run: Self.info(), tasks: tasks, attempts: attempts, items: items, decisions: [], now: Self.start)
        #expect(s.totals.tasksRun == 5)
        #expect(s.totals.passed == 2)
        #expect(s.totals.failed == 3)
        #expect(s.totals.failedForGood == 2)  // the ad-hoc timeout and blocked item 2
        #expect(s.totals.open == 1)
        #expect(s.totals.retries == 2)
        #expect(abs(s.totals.costUSD - 0.05) < 1e-9)
        #expect(s.totals.tokensIn == 500)
        #expect(s.totals.p50MS == 3000)
        #expect(s.totals.p95MS == 5000)
        #expect(s.errors.contains { $0.contains("item 2 blocked: spec failed") })
        #expect(s.errors.contains { $0.contains("timeout") })
    }

    @Test("contract loops are listed in the summary and the session report")
    func contractLoops() {
        var t = Self.task("1", "spec", .failed, errorClass: "contract_unmet")
        t.error = "spec output misses its contract: summary heading \"## Verification\""
        let s = RunSummary.build(
            run: Self.info(), tasks: [t, Self.task("1", "spec", .completed)], attempts: [t.id: 1], items: [], decisions: [],
            now: Self.start)
        #expect(s.contractLoops.map(\.id) == [t.id])
        #expect(s.renderText().contains("CONTRACT LOOPS (1)"))
        #expect(s.renderText().contains("  item 1 spec \(t.id): spec output misses its contract"))
        let verdict = RunGates.evaluate(RunGates.defaults, current: SessionReport.metrics(s, dlqGrowth: 0), previous: nil)
        let report = SessionReport(
            sessionID: "s", summary: s, verdict: verdict, errorClass: "none", dlqCount: 0, lastDLQRunID: nil, history: [],
            links: []
        ).render()
        #expect(report.contains("## Contract loops"))
        #expect(report.contains("item 1 spec `\(t.id)`: spec output misses its contract"))
    }

    @Test("summary.txt is at most 80 columns whatever the titles and errors")
    func eightyColumns() {
        let long = String(repeating: "very long title ", count: 20)
        let items = [RunSummary.Item(key: "1", title: long, state: "blocked", blockedReason: long)]
        var t = Self.task("1", "spec", .failed, errorClass: "exit_code")
        t.error = long
        var s = RunSummary.build(
            run: Self.info(budget: 5), tasks: [t], attempts: [t.id: 1], items: items,
            decisions: [.init(taskID: t.id, decision: long, by: "operator", at: Self.start)], warnings: [long],
            now: Self.start)
        s.archive = .init(path: "runs/\(s.run.id)/run.tar.gz", bytes: 123_456, sha256: String(repeating: "a", count: 64))
        let text = s.renderText(trends: [long])
        #expect(text.split(separator: "\n").allSatisfy { $0.count <= 80 })
        #expect(text.contains("SHA256:       " + String(repeating: "a", count: 64)))
        #expect(text.contains("of 5.00 USD budget"))
        #expect(s.renderText(width: 60).split(separator: "\n").allSatisfy { $0.count <= 60 })
    }

    @Test("gates: a P0 breach fails, a P1 breach warns, P2 informs; overrides replace a metric's gate")
    func gates() {
        let gates = RunGates.defaults
        let good: [RunGates.Metric: Double] = [.casesTotal: 4, .failedForGood: 0, .passRate: 1, .p95MS: 10, .warnings: 0]
        #expect(RunGates.evaluate(gates, current: good, previous: nil).result == .pass)
        var warn = good
        warn[.passRate] = 0.5
        let w = RunGates.evaluate(gates, current: warn, previous: good)
        #expect(w.result == .warn)
        #expect(w.breaches == [.passRate])
        #expect(w.rows.first { $0.metric == .passRate }?.delta == -0.5)
        var fail = warn
        fail[.casesTotal] = 0
        fail[.overBudgetUSD] = 0.2
        let f = RunGates.evaluate(gates, current: fail, previous: nil)
        #expect(f.result == .fail)
        #expect(f.breaches == [.casesTotal, .overBudgetUSD, .passRate])
        // No budget: its gate has nothing to judge.
        #expect(
            RunGates.evaluate(gates, current: good, previous: nil).rows.first { $0.metric == .overBudgetUSD }?.status == .info)
        let strict = RunGates.gates(
            profile: "prod",
            overrides: ["prod": [RunGates.Gate(.passRate, .p0, min: 0.95)], "dev": [RunGates.Gate(.passRate, .p2)]])
        var almost = good
        almost[.passRate] = 0.9
        #expect(RunGates.evaluate(strict, current: almost, previous: nil).result == .fail)
        #expect(RunGates.gates(profile: "dev", overrides: ["dev": [RunGates.Gate(.passRate, .p2)]]).count == gates.count)
    }

    @Test("sparklines scale between min and max; too little history says so")
    func sparklines() {
        #expect(Sparkline.render([0, 0.5, 1]) == "▁▄▇")
        #expect(Sparkline.render([3, 3]) == "▄▄")
        #expect(Sparkline.render([]) == "")
        let line = Sparkline.line("pass rate", [0.5, 1, 0.75]) { String(format: "%.0f%%", $0 * 100) }
        #expect(line.hasSuffix("▁▇▄  min 50% median 75% max 100%"))
        #expect(Sparkline.line("x", [1]) { "\($0)" }.contains("not enough history"))
    }

    @Test("the session report's KEY: value block parses back, and P50/P95 keys are found")
    func sessionKeys() {
        let s = RunSummary.build(run: Self.info(), tasks: [], attempts: [:], items: [], decisions: [], now: Self.start)
        let verdict = RunGates.evaluate(RunGates.defaults, current: SessionReport.metrics(s, dlqGrowth: 0), previous: nil)
        let report = SessionReport(
            sessionID: "session_x", summary: s, verdict: verdict, errorClass: "no_tasks", dlqCount: 3, lastDLQRunID: nil,
            history: [], links: [("summary", "runs/x/summary.txt")])
        let text = report.render()
        let keys = SessionReport.parseKeys(text)
        #expect(keys["RESULT"] == "FAIL")
        #expect(keys["CASES_TOTAL"] == "0")
        #expect(keys["P95_MS"] == "0")
        #expect(keys["DLQ_COUNT"] == "3")
        #expect(keys["LAST_DLQ_RUN_ID"] == "none")
        #expect(keys["ERROR_CLASS"] == "no_tasks")
        #expect(text.contains("**RESULT: FAIL** (cases_total, pass_rate)"))
        #expect(keys.count == report.keys.count)
    }

    @Test("the CSV export quotes every text, doubles quotes, defuses formulas and ends lines with CRLF")
    func csv() {
        var t = Self.task("=cmd|'/c calc'!A1", "spec", .failed, errorClass: "say \"hi\", then")
        t.error = nil
        let s = RunSummary.build(run: Self.info(), tasks: [t], attempts: [t.id: 1], items: [], decisions: [], now: Self.start)
        let csv = TaskExport(summary: s).csv()
        let lines = csv.components(separatedBy: "\r\n")
        #expect(lines[0] == TaskExport.csvColumns.joined(separator: ","))
        #expect(lines[1].contains("\"'=cmd|'/c calc'!A1\""))
        #expect(lines[1].hasSuffix("\"say \"\"hi\"\", then\""))
        #expect(lines.last == "")
        #expect(!csv.contains("\n\n"))
    }

    @Test("report.gates parses by profile and metric; a bad profile, metric, priority or range names the key")
    func gateConfig() throws {
        let c = try ConfigLoader.parse(
            yaml: "report: { gates: { prod: { pass_rate: { min: 0.95, priority: p0 } }, default: { p95_ms: { max: 60000 } } } }")
        #expect(c.report.gates["prod"] == [RunGates.Gate(.passRate, .p0, min: 0.95)])
        #expect(c.report.gates["default"] == [RunGates.Gate(.p95MS, .p1, max: 60000)])
        let cases: [(String, String)] = [
            ("report: { gates: { live: {} } }", "report.gates.live"),
            ("report: { gates: { dev: { speed: { min: 1 } } } }", "report.gates.dev.speed"),
            ("report: { gates: { dev: { pass_rate: { priority: P9 } } } }", "report.gates.dev.pass_rate.priority"),
            ("report: { gates: { dev: { pass_rate: { min: 1, max: 0 } } } }", "report.gates.dev.pass_rate"),
            ("report: { colour: red }", "report.colour"),
        ]
        for (yaml, key) in cases {
            #expect(throws: ConfigError.self) { try ConfigLoader.parse(yaml: yaml) }
            do { _ = try ConfigLoader.parse(yaml: yaml) } catch { #expect("\(error)".contains(key), "\(error)") }
        }
    }
}
