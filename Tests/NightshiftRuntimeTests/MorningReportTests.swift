import Foundation
import NightshiftCore
import NightshiftRuntime
import NightshiftTesting
import Testing

/// The morning report as a pure function of a run's facts (no store, no clock).
@Suite("Morning report: built from a run's tasks and history")
struct MorningReportTests {
    static let t0 = Date(timeIntervalSince1970: 1_800_000_000)
    static func at(_ s: Double) -> Date { t0.addingTimeInterval(s) }

    /// A history written by hand: ids in order, one task at a time.
    struct History {
        var events: [TaskEventRecord] = []
        mutating func add(
            _ task: String, _ kind: TaskEventKind, _ from: TaskStatus?, _ to: TaskStatus, attempt: Int, at: Double,
            _ detail: [String: String] = [:]
        ) {
            events.append(
                TaskEventRecord(
                    id: Int64(events.count + 1), taskID: task, kind: kind, fromStatus: from, toStatus: to, attempt: attempt,
                    detail: detail.mapValues { JSONValue.string($0) }, at: MorningReportTests.at(at)))
        }
        /// created → claimed → started → finished(to) in one attempt.
        mutating func attempt(
            _ task: String, _ n: Int, wait: Double, start: Double, end: Double?, to: TaskStatus, _ d: [String: String] = [:]
        ) {
            if n == 1 { add(task, .created, nil, .pending, attempt: 0, at: wait, ["by": "api"]) }
            add(task, .claimed, .pending, .running, attempt: n, at: start, ["by": "runner-a"])
            add(task, .started, .running, .running, attempt: n, at: start + 0.1)
            if let end { add(task, .finished, .running, to, attempt: n, at: end, d) }
        }
    }

    static func task(
        _ id: String, _ status: TaskStatus, item: String? = nil, phase: String = "impl", type: TaskType = .impl,
        error: String? = nil, errorClass: String? = nil, prompt: String? = nil, cost: Double? = nil, direction: String = "work"
    ) -> AgentTask {
        var t = AgentTask(id: id, taskType: type, direction: direction, status: status, backlogItem: item, phase: phase, now: t0)
        t.attempt = 1
        t.error = error
        t.errorClass = errorClass
        t.decisionPrompt = prompt
        t.costUSD = cost
        t.tokensIn = cost.map { _ in 1000 }
        t.tokensOut = cost.map { _ in 100 }
        return t
    }

    static func summary(items: [RunSummary.Item] = [], ended: Bool = true, budget: Double? = nil) -> RunSummary {
        var info = RunInfo(
            id: "run_20270115_080000_abcd", mode: .full, budgetUSD: budget, target: "/repo", backlog: "backlog.md", gitSHA: "abc",
            configDigest: "d", host: "h", startedAt: t0)
        if ended { info.endedAt = at(3600) }
        return RunSummary.build(run: info, tasks: [], attempts: [:], items: items, decisions: [], now: at(3600))
    }

    static let ids = (1...9).map { String(format: "task_%016x", $0) }

    /// A night: a task that ran once, one retried, one asking, one running, one failed for good,
    /// a usage-limit pause, a budget stop, a heal task, an orphan rescued after a restart.
    static func night() -> MorningReport.Facts {
        var h = History()
        let i = ids
        h.attempt(i[0], 1, wait: 0, start: 0, end: 100, to: .completed)
        h.attempt(
            i[1], 1, wait: 0, start: 10, end: 50, to: .pending, ["error_class": "exit_code", "error": "exit 1", "by": "runner-a"])
        h.attempt(i[1], 2, wait: 50, start: 120, end: 200, to: .completed)
        h.attempt(i[2], 1, wait: 200, start: 210, end: 220, to: .needsDecision, ["decision_prompt": "Which <b>db</b>?"])
        h.add(i[2], .decided, .needsDecision, .pending, attempt: 1, at: 300, ["by": "dashboard", "decision": "SQLite"])
        h.attempt(i[2], 2, wait: 300, start: 310, end: nil, to: .running)
        h.attempt(
            i[3], 1, wait: 0, start: 400, end: 500, to: .failed,
            ["error_class": "timeout", "error": "<script>x</script> too slow"])
        h.attempt(i[4], 1, wait: 0, start: 500, end: 510, to: .failed, ["error_class": "usage_limited", "error": "limit"])
        h.attempt(i[5], 1, wait: 0, start: 520, end: 530, to: .failed, ["error_class": "budget_exceeded", "error": "over $1"])
        h.add(i[6], .created, nil, .pending, attempt: 0, at: 600, ["by": "monitor"])
        h.attempt(i[7], 1, wait: 0, start: 700, end: nil, to: .running)
        h.add(
            i[7], .rescued, .running, .pending, attempt: 1, at: 800,
            ["by": "rescuer", "error_class": "orphaned", "reason": "its daemon died"])
        let tasks = [
            task(i[0], .completed, item: "1", phase: "spec", cost: 0.5),
            task(i[1], .completed, item: "1", phase: "impl", cost: 0.25),
            task(i[2], .running, item: "2", phase: "spec", prompt: "Which <b>db</b>?"),
            task(i[3], .failed, error: "<script>x</script> too slow", errorClass: "timeout", cost: 0.1),
            task(i[4], .failed, error: "limit", errorClass: "usage_limited"),
            task(i[5], .failed, error: "over $1", errorClass: "budget_exceeded", cost: 1.5),
            task(i[6], .pending, phase: "heal", type: .heal, direction: "heal the monitor issue"),
            task(i[7], .pending, item: "3", phase: "test"),
        ]
        let issues = [
            LogIssue(
                runID: "r", fingerprint: "old", ruleID: "x", severity: .high, template: "seen before", count: 9, firstSeen: t0,
                lastSeen: t0, sources: ["task:a"], examples: []),
            LogIssue(
                runID: "r", fingerprint: "new", ruleID: "x", severity: .high, template: "first <time> tonight", count: 2,
                firstSeen: t0, lastSeen: t0, sources: ["task:b"], examples: []),
        ]
        let items = [
            RunSummary.Item(key: "1", title: "greeting", state: "done"),
            RunSummary.Item(key: "4", title: "farewell", state: "blocked", blockedReason: "review failed 5 times"),
        ]
        return .init(
            summary: summary(items: items, budget: 2), tasks: tasks, events: h.events, logIssues: issues,
            earlierFingerprints: ["old"], caps: .init(perRunUSD: 2, perTaskUSD: 1), now: at(3600))
    }

    @Test("the headline is two paragraphs: what needs you, then what shipped and what failed and why")
    func headline() {
        let r = MorningReport.build(Self.night())
        #expect(r.headline.count == 2)
        #expect(r.headline[0].contains("1 item(s) are blocked (4)"), "\(r.headline[0])")
        #expect(r.headline[0].contains("task(s) failed for good"))
        #expect(r.headline[1].contains("Shipped 1 of 2 item(s) (1)"), "\(r.headline[1])")
        #expect(r.headline[1].contains("timeout ×1") && r.headline[1].contains("usage_limited ×1"), "\(r.headline[1])")
        #expect(r.needsYou.contains { $0.contains("item 4") && $0.contains("review failed 5 times") })
    }

    @Test("attempts go on worker lanes like slots; waiting is kept apart from running")
    func lanes() {
        let r = MorningReport.build(Self.night())
        let bars = r.lanes.flatMap { $0 }
        #expect(bars.count == 9, "one bar per attempt: \(bars.map(\.taskID))")
        // task 0 (0–100) and task 1 (10–50) overlap: two lanes; task 1's second attempt (120)
        // goes on the first lane free again.
        #expect(r.lanes.count == 2)
        #expect(r.lanes[0].first?.taskID == Self.ids[0])
        #expect(r.lanes[1].first?.taskID == Self.ids[1])
        let retry = bars.first { $0.taskID == Self.ids[1] && $0.attempt == 2 }
        #expect(retry?.waitingSince == Self.at(50) && retry?.start == Self.at(120), "it waited 70 s after its failure")
        #expect(bars.first { $0.taskID == Self.ids[1] && $0.attempt == 1 }?.outcome == .pending, "failed, retried")
        #expect(bars.contains { $0.taskID == Self.ids[2] && $0.end == nil }, "a running attempt has no end")
    }

    @Test("running tasks are kept apart from finished ones")
    func runningApart() {
        let r = MorningReport.build(Self.night())
        #expect(Set(r.running.map(\.id)) == [Self.ids[2], Self.ids[6], Self.ids[7]])
        #expect(r.finished.allSatisfy { $0.status.isTerminal })
        #expect(Set(r.failed.map(\.id)) == [Self.ids[3], Self.ids[4], Self.ids[5]])
        var mid = Self.night()
        mid.summary = Self.summary(ended: false)
        let live = MorningReport.build(mid)
        #expect(live.inProgress)
        #expect(live.nextSteps.contains { $0.contains("still going") })
        #expect(live.html().contains("This run is still going"))
    }

    @Test("the decisions log names every choice: retries, restarts, pauses, stops, self-heals and the human's, with who and when")
    func decisions() {
        let r = MorningReport.build(Self.night())
        let kinds = r.decisions.map(\.kind)
        #expect(kinds.contains(.retry))
        #expect(kinds.contains(.watchdogRestart))
        #expect(kinds.contains(.usageLimitPause))
        #expect(kinds.contains(.budgetStop))
        #expect(kinds.contains(.selfHeal))
        let human = r.decisions.first { $0.kind == .human }
        #expect(human?.by == "dashboard" && human?.at == Self.at(300) && human?.what == "answered: SQLite")
        #expect(r.decisions.map(\.at) == r.decisions.map(\.at).sorted(), "in time order")
    }

    @Test("the cost strip sums per task, phase and executor and holds them against the caps")
    func cost() {
        let r = MorningReport.build(Self.night())
        #expect(abs(r.cost.total.costUSD - 2.35) < 1e-9)
        #expect(r.cost.total.capUSD == 2)
        #expect(r.cost.byTask.first?.name == Self.ids[5], "most expensive first")
        #expect(r.cost.byTask.first?.capUSD == 1)
        #expect(r.cost.byPhase.contains { $0.name == "spec" && abs($0.costUSD - 0.5) < 1e-9 })
        #expect(r.html().contains("class=\"num over\""), "over a cap is marked")
    }

    @Test("fingerprints new tonight come first, then recurring ones with their counts")
    func fingerprints() {
        let r = MorningReport.build(Self.night())
        #expect(r.fingerprints.map(\.fingerprint) == ["new", "old"])
        #expect(r.fingerprints.map(\.isNew) == [true, false])
        #expect(r.fingerprints[1].count == 9)
        #expect(r.nextSteps.contains { $0.contains("1 error fingerprint(s) new tonight") })
    }

    @Test("next steps are never empty, even for a quiet night")
    func nextStepsNeverEmpty() {
        let quiet = MorningReport.build(.init(summary: Self.summary(), tasks: [], events: [], now: Self.at(3600)))
        #expect(!quiet.nextSteps.isEmpty)
        #expect(quiet.headline[0] == "Nothing needs you.")
        #expect(quiet.html().contains("No attempt ran yet."))
        #expect(!MorningReport.build(Self.night()).nextSteps.isEmpty)
    }

    @Test("report.html is self-contained, escapes what agents wrote, and draws the waterfall as SVG")
    func html() {
        let h = MorningReport.build(Self.night()).html()
        #expect(h.contains("<svg") && h.contains("id=\"waterfall-svg\""))
        #expect(!h.contains("<script"), "no script, and the planted one is escaped")
        #expect(h.contains("&lt;script&gt;x&lt;/script&gt; too slow"))
        #expect(!h.contains("<b>db</b>") && h.contains("Which &lt;b&gt;db&lt;/b&gt;?"))
        #expect(!h.contains("src=") && !h.contains("href=\"http") && !h.contains("<link"), "no external asset")
    }

    @Test("report.md stays under 1 MiB however large the night, and report.json reads back")
    func markdownAndJSON() throws {
        var f = Self.night()
        f.tasks = (0..<20_000).map { n in
            Self.task(
                String(format: "task_%016x", 1000 + n), .failed, item: "\(n)", error: String(repeating: "long error ", count: 60),
                errorClass: "exit_code")
        }
        let r = MorningReport.build(f)
        let md = r.markdown()
        #expect(md.utf8.count < MorningReport.markdownLimit)
        #expect(md.contains("## Next steps") && md.contains("… and"))
        let small = MorningReport.build(Self.night())
        let data = try JSONEncoder.nightshift().encode(small)
        #expect(try JSONDecoder.nightshift().decode(MorningReport.self, from: data) == small)
    }
}
