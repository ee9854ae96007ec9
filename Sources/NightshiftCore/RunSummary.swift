import Foundation

/// What one run did (`runs/<run_id>/summary.json`, rendered as the 80-column `summary.txt`):
/// built from the run's tasks and events, pure, so the same facts give the same report.
public struct RunSummary: Codable, Sendable, Equatable {
    /// One task of the run, as the summary shows it.
    public struct TaskLine: Codable, Sendable, Equatable {
        public var id: String
        public var item: String?
        public var phase: String
        public var taskType: String
        public var status: TaskStatus
        /// Attempts it ran in this run.
        public var attempts: Int
        /// Attempts past the first.
        public var retries: Int
        public var durationMS: Int?
        public var costUSD: Double
        public var tokensIn: Int
        public var tokensOut: Int
        public var errorClass: String?
        public var error: String?

        enum CodingKeys: String, CodingKey {
            case id, item, phase, status, attempts, retries, error
            case taskType = "task_type"
            case durationMS = "duration_ms"
            case costUSD = "cost_usd"
            case tokensIn = "tokens_in"
            case tokensOut = "tokens_out"
            case errorClass = "error_class"
        }
    }

    /// One backlog item the run touched.
    public struct Item: Codable, Sendable, Equatable {
        public var key: String
        public var title: String
        /// `done`, `blocked`, `active`, `queued`.
        public var state: String
        public var blockedReason: String?

        enum CodingKeys: String, CodingKey {
            case key, title, state
            case blockedReason = "blocked_reason"
        }

        public init(key: String, title: String, state: String, blockedReason: String? = nil) {
            self.key = key
            self.title = title
            self.state = state
            self.blockedReason = blockedReason
        }
    }

    /// A decision a human took during the run.
    public struct Decision: Codable, Sendable, Equatable {
        public var taskID: String
        public var decision: String
        public var by: String?
        public var at: Date

        enum CodingKeys: String, CodingKey {
            case decision, by, at
            case taskID = "task_id"
        }

        public init(taskID: String, decision: String, by: String?, at: Date) {
            self.taskID = taskID
            self.decision = decision
            self.by = by
            self.at = at
        }
    }

    public struct Totals: Codable, Sendable, Equatable {
        /// Tasks that ran at least one attempt in the run (CASES_TOTAL).
        public var tasksRun: Int
        /// Of those, completed (CASES_PASSED).
        public var passed: Int
        public var failed: Int
        /// Failed in a way that stopped their item (or an ad-hoc task): the run's dead letters.
        public var failedForGood: Int
        public var cancelled: Int
        /// Still pending, running or waiting for a decision when the summary was written.
        public var open: Int
        public var retries: Int
        public var costUSD: Double
        public var tokensIn: Int
        public var tokensOut: Int
        public var p50MS: Int
        public var p95MS: Int

        enum CodingKeys: String, CodingKey {
            case passed, failed, cancelled, open, retries
            case tasksRun = "tasks_run"
            case failedForGood = "failed_for_good"
            case costUSD = "cost_usd"
            case tokensIn = "tokens_in"
            case tokensOut = "tokens_out"
            case p50MS = "p50_ms"
            case p95MS = "p95_ms"
        }

        /// Passed over run, 0 when nothing ran.
        public var passRate: Double { tasksRun == 0 ? 0 : Double(passed) / Double(tasksRun) }
        public var costPerTask: Double { tasksRun == 0 ? 0 : costUSD / Double(tasksRun) }
    }

    public struct Archive: Codable, Sendable, Equatable {
        public var path: String
        public var bytes: Int64
        public var sha256: String
        public init(path: String, bytes: Int64, sha256: String) {
            self.path = path
            self.bytes = bytes
            self.sha256 = sha256
        }
    }

    public var run: RunInfo
    /// `smoke`: dry runs; else the executors that ran tasks, by name.
    public var executors: [String]
    public var items: [Item]
    public var tasks: [TaskLine]
    public var totals: Totals
    public var errors: [String]
    public var warnings: [String]
    public var decisions: [Decision]
    public var archive: Archive?
    public var generatedAt: Date
    /// Dead letters in the whole store when the summary was written (the next run's
    /// `dlq_growth` starts from it).
    public var dlqCount: Int?
    /// The gates' verdict and the error class, once the run has ended.
    public var result: RunResult?
    public var errorClass: String?

    enum CodingKeys: String, CodingKey {
        case run, executors, items, tasks, totals, errors, warnings, decisions, archive, result
        case generatedAt = "generated_at"
        case dlqCount = "dlq_count"
        case errorClass = "error_class"
    }

    /// Tasks whose output missed their phase's contract and sent the phase round again
    /// (`project_manager.contracts`), with what was missing.
    public var contractLoops: [TaskLine] { tasks.filter { $0.errorClass == ErrorClass.contractUnmet.rawValue } }

    /// The run's duration so far (to its end, or to `generatedAt` while it runs).
    public var durationMS: Int {
        Int(((run.endedAt ?? generatedAt).timeIntervalSince(run.startedAt) * 1000).rounded())
    }

    /// Builds the summary from the run's tasks (`attempts`: claims in this run, by task id).
    public static func build(
        run: RunInfo, tasks all: [AgentTask], attempts: [String: Int], items: [Item], decisions: [Decision],
        warnings: [String] = [], now: Date
    ) -> RunSummary {
        var lines: [TaskLine] = []
        var durations: [Int] = []
        var totals = Totals(
            tasksRun: 0, passed: 0, failed: 0, failedForGood: 0, cancelled: 0, open: 0, retries: 0, costUSD: 0, tokensIn: 0,
            tokensOut: 0, p50MS: 0, p95MS: 0)
        var errors: [String] = []
        var executors: [String] = []
        for t in all {
            let ran = attempts[t.id] ?? 0
            let duration = t.durationSeconds.map { Int(($0 * 1000).rounded()) }
            let line = TaskLine(
                id: t.id, item: t.backlogItem, phase: t.phase ?? t.taskType.rawValue, taskType: t.taskType.rawValue,
                status: t.status, attempts: ran, retries: max(0, ran - 1), durationMS: duration, costUSD: t.costUSD ?? 0,
                tokensIn: t.tokensIn ?? 0, tokensOut: t.tokensOut ?? 0, errorClass: t.errorClass, error: t.error)
            lines.append(line)
            if let e = t.executor ?? (ran > 0 ? "default" : nil), !executors.contains(e) { executors.append(e) }
            if !t.status.isTerminal { totals.open += 1 }
            guard ran > 0 else { continue }
            totals.tasksRun += 1
            totals.retries += line.retries
            totals.costUSD += line.costUSD
            totals.tokensIn += line.tokensIn
            totals.tokensOut += line.tokensOut
            if let duration, t.status.isTerminal { durations.append(duration) }
            switch t.status {
            case .completed: totals.passed += 1
            case .failed:
                totals.failed += 1
                // An item's failed task either looped it back (a failed check) or blocked it,
                // counted below by the item; an ad-hoc task that failed has nowhere to go.
                if t.backlogItem == nil {
                    totals.failedForGood += 1
                    errors.append("\(t.id) \(line.phase) failed (\(t.errorClass ?? "error")): \(t.error ?? "no error recorded")")
                }
            case .cancelled: totals.cancelled += 1
            case .pending, .running, .needsDecision: break
            }
        }
        for item in items where item.state == "blocked" {
            totals.failedForGood += 1
            errors.append("item \(item.key) blocked: \(item.blockedReason ?? "no reason recorded")")
        }
        durations.sort()
        totals.p50MS = percentile(durations, 0.50)
        totals.p95MS = percentile(durations, 0.95)
        if run.dryRun { executors = ["smoke (dry run)"] }
        return RunSummary(
            run: run, executors: executors, items: items, tasks: lines, totals: totals, errors: errors, warnings: warnings,
            decisions: decisions, archive: nil, generatedAt: now, dlqCount: nil, result: nil, errorClass: nil)
    }

    /// Nearest-rank percentile of sorted values; 0 for none.
    public static func percentile(_ sorted: [Int], _ p: Double) -> Int {
        guard !sorted.isEmpty else { return 0 }
        let rank = Int((p * Double(sorted.count)).rounded(.up))
        return sorted[min(sorted.count - 1, max(0, rank - 1))]
    }

    // MARK: - summary.txt

    /// The summary as text no wider than `width` columns (seed 003's sample).
    public func renderText(width: Int = 80, trends: [String] = []) -> String {
        var out: [String] = []
        let rule = String(repeating: "=", count: width)
        let thin = String(repeating: "-", count: width)
        func row(_ label: String, _ value: String) {
            out.append(fit("\(label.padding(toLength: 14, withPad: " ", startingAt: 0))\(value)", width))
        }
        out.append(rule)
        out.append(fit("NIGHTSHIFT RUN SUMMARY", width))
        out.append(rule)
        row("Run:", run.id)
        row("Mode:", "\(run.mode.rawValue)\(run.offline ? " (offline)" : "") · profile \(run.profile)")
        row("Executors:", executors.isEmpty ? "none ran" : executors.joined(separator: ", "))
        row("Target:", run.target)
        row("Git:", run.gitSHA)
        row("Started:", Timestamp.format(run.startedAt))
        row("Completed:", run.endedAt.map(Timestamp.format) ?? "(running, as of \(Timestamp.format(generatedAt)))")
        row("Duration:", Self.formatMS(durationMS))
        row("State:", run.state.rawValue)
        out.append(thin)
        let t = totals
        row("Tasks run:", "\(t.tasksRun)  passed \(t.passed)  failed \(t.failed)  cancelled \(t.cancelled)  open \(t.open)")
        row("Pass rate:", String(format: "%.1f %%", t.passRate * 100))
        row("Retries:", "\(t.retries)")
        row("Tokens:", "\(t.tokensIn) in / \(t.tokensOut) out")
        row(
            "Cost:",
            String(format: "%.4f USD", t.costUSD) + (run.budgetUSD.map { String(format: " of %.2f USD budget", $0) } ?? ""))
        row("Durations:", "p50 \(Self.formatMS(t.p50MS))  p95 \(Self.formatMS(t.p95MS))")
        out.append(thin)
        let groups = Dictionary(grouping: tasks, by: { $0.item ?? "" })
        for item in items {
            out.append(fit("ITEM \(item.key) [\(item.state)] \(item.title)", width))
            if let r = item.blockedReason, item.state == "blocked" { out.append(fit("  blocked: \(r)", width)) }
            for line in groups[item.key] ?? [] { out.append(taskRow(line, width)) }
        }
        if let adhoc = groups[""], !adhoc.isEmpty {
            out.append(fit("AD-HOC TASKS", width))
            for line in adhoc { out.append(taskRow(line, width)) }
        }
        if items.isEmpty && groups[""] == nil { out.append(fit("(no tasks)", width)) }
        out.append(thin)
        out.append(fit("ERRORS (\(errors.count))", width))
        for e in errors.prefix(20) { out.append(fit("  " + e, width)) }
        if errors.count > 20 { out.append(fit("  … and \(errors.count - 20) more (summary.json)", width)) }
        out.append(fit("WARNINGS (\(warnings.count))", width))
        for w in warnings.prefix(20) { out.append(fit("  " + w, width)) }
        let loops = contractLoops
        out.append(fit("CONTRACT LOOPS (\(loops.count))", width))
        for l in loops.prefix(20) {
            out.append(fit("  item \(l.item ?? "-") \(l.phase) \(l.id): \(l.error ?? "missed its contract")", width))
        }
        out.append(fit("DECISIONS (\(decisions.count))", width))
        for d in decisions.prefix(20) {
            out.append(fit("  \(d.taskID): \(d.decision) by \(d.by ?? "?") at \(Timestamp.format(d.at))", width))
        }
        if !trends.isEmpty {
            out.append(thin)
            out.append(fit("KPI TRENDS (last runs)", width))
            for line in trends { out.append(fit("  " + line, width)) }
        }
        out.append(thin)
        if let a = archive {
            row("Archive:", "\(a.path) (\(Preflight.formatBytes(a.bytes)))")
            row("SHA256:", a.sha256)
        } else {
            row("Archive:", "(written when the run ends)")
        }
        out.append(rule)
        return out.joined(separator: "\n") + "\n"
    }

    func taskRow(_ l: TaskLine, _ width: Int) -> String {
        let duration = l.durationMS.map(Self.formatMS) ?? "-"
        let text =
            "  \(l.phase.padding(toLength: 7, withPad: " ", startingAt: 0)) \(l.id) \(l.status.rawValue.padding(toLength: 9, withPad: " ", startingAt: 0)) \(duration.padding(toLength: 7, withPad: " ", startingAt: 0)) r\(l.retries) \(l.tokensIn + l.tokensOut)t "
            + String(format: "$%.4f", l.costUSD)
        return fit(text, width)
    }

    /// `text` cut to `width` terminal columns (an ellipsis marks the cut).
    static func fit(_ text: String, _ width: Int) -> String { TextTable.cut(text, to: width) }

    func fit(_ text: String, _ width: Int) -> String { Self.fit(text, width) }

    /// `1h02m`, `3m05s`, `4.2s`, `850ms`.
    public static func formatMS(_ ms: Int) -> String {
        if ms < 1000 { return "\(ms)ms" }
        if ms < 60_000 { return String(format: "%.1fs", Double(ms) / 1000) }
        let s = ms / 1000
        if s < 3600 { return String(format: "%dm%02ds", s / 60, s % 60) }
        return String(format: "%dh%02dm", s / 3600, (s % 3600) / 60)
    }
}
