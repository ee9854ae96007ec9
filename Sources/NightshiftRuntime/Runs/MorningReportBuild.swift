import Foundation
import NightshiftCore

extension MorningReport {
    /// Everything the report is made of, gathered by `MorningReportWriter` (or a test).
    public struct Facts: Sendable {
        public var summary: RunSummary
        public var tasks: [AgentTask]
        public var events: [TaskEventRecord]
        public var logIssues: [LogIssue]
        /// Fingerprints seen in earlier runs (what makes one recurring).
        public var earlierFingerprints: Set<String>
        public var caps: Caps
        public var now: Date
        public init(
            summary: RunSummary, tasks: [AgentTask], events: [TaskEventRecord], logIssues: [LogIssue] = [],
            earlierFingerprints: Set<String> = [], caps: Caps = Caps(), now: Date
        ) {
            self.summary = summary
            self.tasks = tasks
            self.events = events
            self.logIssues = logIssues
            self.earlierFingerprints = earlierFingerprints
            self.caps = caps
            self.now = now
        }
    }

    /// Builds the report. Pure: no clock, no files.
    public static func build(_ f: Facts) -> MorningReport {
        let s = f.summary
        let inProgress = s.run.endedAt == nil
        let attempts = AttemptSpan.all(f.events)
        let byID = Dictionary(f.tasks.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        func line(_ t: AgentTask) -> TaskLine {
            let spans = attempts[t.id] ?? []
            return TaskLine(
                id: t.id, item: t.backlogItem, phase: t.phase ?? t.taskType.rawValue, status: t.status,
                attempts: spans.count, errorClass: t.errorClass,
                why: t.status == .needsDecision ? t.decisionPrompt : (t.error ?? spans.last?.reason))
        }
        let lines = f.tasks.map(line)
        let running = lines.filter { !$0.status.isTerminal }
        let finished = lines.filter { $0.status.isTerminal }
        let failed = lines.filter { $0.status == .failed }
        let waiting = lines.filter { $0.status == .needsDecision }
        let shipped = s.items.filter { $0.state == "done" }
        let blocked = s.items.filter { $0.state == "blocked" }
        let failedForGood = failed.filter {
            $0.item == nil || !["review_failed", "contract_unmet"].contains($0.errorClass ?? "")
        }

        var needs: [String] = []
        for w in waiting { needs.append("\(w.id) (\(label(w.item, w.phase))) asks: \(w.why ?? "a decision")") }
        for b in blocked { needs.append("item \(b.key) \"\(b.title)\" is blocked: \(b.blockedReason ?? "no reason recorded")") }
        for x in failedForGood.prefix(20) {
            needs.append(
                "\(x.id) (\(label(x.item, x.phase))) failed for good: \(x.errorClass ?? "error") — \(x.why ?? "no error recorded")"
            )
        }

        let classes = Dictionary(grouping: failed, by: { $0.errorClass ?? "error" }).map { ($0.key, $0.value.count) }
            .sorted { ($0.1, $1.0) > ($1.1, $0.0) }
        var first: String
        if waiting.isEmpty && blocked.isEmpty && failedForGood.isEmpty {
            first = "Nothing needs you."
        } else {
            var parts: [String] = []
            if !waiting.isEmpty { parts.append("\(waiting.count) task(s) wait for your decision") }
            if !blocked.isEmpty {
                parts.append("\(blocked.count) item(s) are blocked (\(blocked.prefix(3).map(\.key).joined(separator: ", ")))")
            }
            if !failedForGood.isEmpty { parts.append("\(failedForGood.count) task(s) failed for good") }
            first = "Needs you: " + parts.joined(separator: "; ") + "."
        }
        if inProgress { first += " The run is still going: \(running.count) task(s) open." }
        let t = s.totals
        var second = "Shipped \(shipped.count) of \(s.items.count) item(s)"
        if !shipped.isEmpty { second += " (\(shipped.prefix(5).map(\.key).joined(separator: ", ")))" }
        second += "; \(t.passed) of \(t.tasksRun) task(s) that ran completed, \(t.retries) retr\(t.retries == 1 ? "y" : "ies"), "
        second += String(format: "$%.4f", t.costUSD) + " and \(t.tokensIn + t.tokensOut) tokens."
        if failed.isEmpty {
            second += " Nothing failed."
        } else {
            second += " \(failed.count) failed: " + classes.prefix(4).map { "\($0.0) ×\($0.1)" }.joined(separator: ", ")
            if let top = failed.first(where: { $0.errorClass == classes.first?.0 }), let why = top.why {
                second += " (e.g. \(top.id): \(String(why.prefix(160))))"
            }
            second += "."
        }

        return MorningReport(
            run: s.run, generatedAt: f.now, inProgress: inProgress, headline: [first, second], needsYou: needs,
            shipped: shipped, blocked: blocked, running: running, finished: finished, failed: failed,
            lanes: lanes(attempts, byID), cost: costStrip(f.tasks, caps: f.caps), decisions: decisions(f.events, byID),
            fingerprints: fingerprints(f.logIssues, earlier: f.earlierFingerprints),
            nextSteps: nextSteps(
                waiting: waiting, blocked: blocked, failed: failedForGood,
                newFingerprints: f.logIssues.filter {
                    !f.earlierFingerprints.contains($0.fingerprint)
                }.count, inProgress: inProgress, run: s.run), totals: t)
    }

    static func label(_ item: String?, _ phase: String) -> String { item.map { "item \($0) \(phase)" } ?? phase }

    /// Lanes like worker slots: each attempt goes on the first lane free when it was claimed.
    static func lanes(_ attempts: [String: [AttemptSpan]], _ tasks: [String: AgentTask]) -> [[Bar]] {
        let all = attempts.values.flatMap { $0 }.sorted { ($0.claimedAt, $0.taskID) < ($1.claimedAt, $1.taskID) }
        var lanes: [[Bar]] = []
        var freeAt: [Date] = []
        for a in all {
            let t = tasks[a.taskID]
            let bar = Bar(
                taskID: a.taskID, label: label(t?.backlogItem, t?.phase ?? t?.taskType.rawValue ?? "task"), attempt: a.attempt,
                outcome: a.outcome, waitingSince: a.waitingSince, start: a.claimedAt, end: a.endedAt, why: a.reason)
            let end = a.endedAt ?? .distantFuture
            if let lane = freeAt.firstIndex(where: { $0 <= a.claimedAt }) {
                lanes[lane].append(bar)
                freeAt[lane] = end
            } else {
                lanes.append([bar])
                freeAt.append(end)
            }
        }
        return lanes
    }

    static func costStrip(_ tasks: [AgentTask], caps: Caps) -> CostStrip {
        func group(_ name: String, _ ts: [AgentTask], cap: Double?) -> Cost {
            Cost(
                name: name, costUSD: ts.reduce(0) { $0 + ($1.costUSD ?? 0) }, tokensIn: ts.reduce(0) { $0 + ($1.tokensIn ?? 0) },
                tokensOut: ts.reduce(0) { $0 + ($1.tokensOut ?? 0) }, tasks: ts.count, capUSD: cap)
        }
        let spent = tasks.filter { ($0.costUSD ?? 0) > 0 || ($0.tokensIn ?? 0) + ($0.tokensOut ?? 0) > 0 }
        let byTask = spent.map { group($0.id, [$0], cap: caps.perTaskUSD) }.sorted {
            ($0.costUSD, $0.name) > ($1.costUSD, $1.name)
        }
        let byPhase = Dictionary(grouping: tasks, by: { $0.phase ?? $0.taskType.rawValue }).map {
            group($0.key, $0.value, cap: nil)
        }
        .sorted { ($0.costUSD, $0.name) > ($1.costUSD, $1.name) }
        let byExecutor = Dictionary(grouping: tasks.filter { $0.attempt > 0 }, by: { $0.executor ?? "default" })
            .map { group($0.key, $0.value, cap: nil) }.sorted { ($0.costUSD, $0.name) > ($1.costUSD, $1.name) }
        return CostStrip(
            total: group("run", tasks, cap: caps.perRunUSD), byTask: Array(byTask.prefix(50)), byPhase: byPhase,
            byExecutor: byExecutor, caps: caps)
    }

    static func decisions(_ events: [TaskEventRecord], _ tasks: [String: AgentTask]) -> [Decision] {
        var out: [Decision] = []
        for e in events.sorted(by: { $0.id < $1.id }) {
            let by = e.detail["by"]?.stringValue ?? "?"
            let ec = e.detail["error_class"]?.stringValue
            let err = e.detail["error"]?.stringValue
            func add(_ kind: Decision.Kind, _ what: String, by who: String = by) {
                out.append(Decision(at: e.at, kind: kind, taskID: e.taskID, by: who, what: what))
            }
            switch e.kind {
            case .finished where ec == "usage_limited":
                add(.usageLimitPause, "paused on the provider's usage limit" + (err.map { ": \($0)" } ?? ""))
            case .finished where ec == "budget_exceeded":
                add(.budgetStop, "stopped over budget" + (err.map { ": \($0)" } ?? ""))
            case .finished where e.toStatus == .pending:
                add(.retry, "attempt \(e.attempt) failed (\(ec ?? "error")\(err.map { ": \($0)" } ?? "")); retried", by: "runner")
            case .rescued where ec == ErrorClass.orphaned.rawValue || (e.detail["reason"]?.stringValue ?? "").contains("daemon"):
                add(
                    .watchdogRestart, "left running by a daemon that died; " + (e.toStatus == .pending ? "requeued" : "failed"),
                    by: "rescuer")
            case .rescued:
                add(
                    .rescue,
                    (e.detail["reason"]?.stringValue ?? "lease lapsed") + "; " + (e.toStatus == .pending ? "requeued" : "failed"),
                    by: "rescuer")
            case .created where tasks[e.taskID]?.taskType == .heal:
                add(.selfHeal, "filed a heal task: " + String((tasks[e.taskID]?.direction ?? "").prefix(160)))
            case .expired:
                add(.decisionTimeout, "no answer in time; failed")
            case .decided:
                add(.human, "answered: " + String((e.detail["decision"]?.stringValue ?? "?").prefix(300)))
            case .cancelled where !["runner", "rescuer", "maintenance"].contains(by):
                add(.human, "cancelled" + (e.detail["reason"]?.stringValue.map { ": \($0)" } ?? ""))
            case .retried, .reprocessed:
                add(.human, e.kind == .retried ? "retried with fresh attempts" : "took it out of the dead-letter queue")
            default:
                continue
            }
        }
        return out
    }

    static func fingerprints(_ issues: [LogIssue], earlier: Set<String>) -> [Fingerprint] {
        issues.map {
            Fingerprint(
                fingerprint: $0.fingerprint, severity: $0.severity.rawValue, template: String($0.template.prefix(300)),
                count: $0.count, isNew: !earlier.contains($0.fingerprint), firstSeen: $0.firstSeen,
                sources: Array($0.sources.prefix(5)))
        }.sorted { a, b in
            if a.isNew != b.isNew { return a.isNew }
            return (a.count, b.fingerprint) > (b.count, a.fingerprint)
        }
    }

    static func nextSteps(
        waiting: [TaskLine], blocked: [RunSummary.Item], failed: [TaskLine], newFingerprints: Int, inProgress: Bool, run: RunInfo
    ) -> [String] {
        var steps: [String] = []
        if !waiting.isEmpty {
            steps.append(
                "Answer \(waiting.count) decision(s) in the dashboard's \"Needs you\" rail, or `nightshift tasks decide <id> <answer>`."
            )
        }
        if !blocked.isEmpty {
            steps.append(
                "Unblock \(blocked.map(\.key).prefix(5).joined(separator: ", ")): read the reason, fix the cause, then retry its last task."
            )
        }
        if !failed.isEmpty {
            steps.append(
                "Look at \(failed.count) task(s) failed for good (`nightshift dlq`); retry those whose cause is fixed (`nightshift dlq reprocess`)."
            )
        }
        if newFingerprints > 0 {
            steps.append(
                "Read the \(newFingerprints) error fingerprint(s) new tonight (`nightshift logs issues --run \(run.id)`).")
        }
        if inProgress { steps.append("The run is still going: open this report again when it ends.") }
        if steps.isEmpty {
            steps.append(
                "Nothing is left for you in this run: add the next items to the backlog and start the next run (`make run`).")
        }
        return steps
    }
}
