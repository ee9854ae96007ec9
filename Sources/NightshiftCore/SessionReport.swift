import Foundation

/// `reports/session_report.md`: a block of grep-friendly `KEY: value` lines, the policy banner,
/// the threshold table (this run against the previous one), KPI trends and links (seed 004).
public struct SessionReport: Sendable, Equatable {
    public var sessionID: String
    public var summary: RunSummary
    public var verdict: RunGates.Verdict
    /// The run's error class: the first thing that failed it (`none` when it passed).
    public var errorClass: String
    /// Dead letters in the whole store, and the newest run that added one.
    public var dlqCount: Int
    public var lastDLQRunID: String?
    /// The runs before this one, oldest first (at most 9), for the trends.
    public var history: [RunSummary]
    /// Files of the run, relative to the state dir.
    public var links: [(label: String, path: String)]

    public init(
        sessionID: String, summary: RunSummary, verdict: RunGates.Verdict, errorClass: String, dlqCount: Int,
        lastDLQRunID: String?, history: [RunSummary], links: [(label: String, path: String)]
    ) {
        self.sessionID = sessionID
        self.summary = summary
        self.verdict = verdict
        self.errorClass = errorClass
        self.dlqCount = dlqCount
        self.lastDLQRunID = lastDLQRunID
        self.history = history
        self.links = links
    }

    public static func == (a: SessionReport, b: SessionReport) -> Bool { a.render() == b.render() }

    /// The `KEY: value` block, in order.
    public var keys: [(String, String)] {
        let s = summary
        let t = s.totals
        return [
            ("SESSION_ID", sessionID), ("RUN_ID", s.run.id), ("TARGET", s.run.target), ("PROFILE", s.run.profile),
            ("MODE", s.run.mode.rawValue), ("DRY_RUN", s.run.dryRun ? "true" : "false"),
            ("OFFLINE_MODE", s.run.offline ? "true" : "false"),
            ("BUDGET_USD", s.run.budgetUSD.map { String(format: "%.2f", $0) } ?? "none"),
            ("COST_USD", String(format: "%.4f", t.costUSD)), ("CASES_TOTAL", "\(t.tasksRun)"),
            ("CASES_PASSED", "\(t.passed)"), ("PASS_RATE", String(format: "%.1f", t.passRate * 100)),
            ("DURATION_MS", "\(s.durationMS)"), ("P50_MS", "\(t.p50MS)"), ("P95_MS", "\(t.p95MS)"),
            ("TIMESTAMP", Timestamp.format(s.generatedAt)), ("RUN_STATE", s.run.state.rawValue),
            ("RESULT", verdict.result.rawValue), ("WARNINGS", "\(s.warnings.count)"), ("ERROR_CLASS", errorClass),
            ("DLQ_COUNT", "\(dlqCount)"), ("LAST_DLQ_RUN_ID", lastDLQRunID ?? "none"),
        ]
    }

    /// The trend lines: pass rate, cost per task and p95 duration over the history and this run.
    public var trends: [String] {
        let runs = history.suffix(9) + [summary]
        return [
            Sparkline.line("pass rate", runs.map(\.totals.passRate)) { String(format: "%.1f%%", $0 * 100) },
            Sparkline.line("cost/task", runs.map(\.totals.costPerTask)) { String(format: "$%.4f", $0) },
            Sparkline.line("p95 duration", runs.map { Double($0.totals.p95MS) }) { RunSummary.formatMS(Int($0)) },
        ]
    }

    public func render() -> String {
        var out = "# Nightshift session report\n\n"
        for (k, v) in keys { out += "\(k): \(v)\n" }
        out += "\n> **RESULT: \(verdict.result.rawValue)**"
        if !verdict.breaches.isEmpty { out += " (\(verdict.breaches.map(\.rawValue).joined(separator: ", ")))" }
        out += " — policy: any P0 breach → FAIL; any P1 breach → WARN; otherwise PASS.\n\n"
        out += "## Thresholds\n\n"
        out += "| gate | priority | threshold | current | previous | delta | status |\n"
        out += "|---|---|---|---|---|---|---|\n"
        for r in verdict.rows {
            let current = r.current.map { RunGates.format($0, r.metric) } ?? "—"
            let previous = r.previous.map { RunGates.format($0, r.metric) } ?? "—"
            let delta = r.delta.map { ($0 > 0 ? "+" : "") + RunGates.format($0, r.metric) } ?? "—"
            out +=
                "| \(r.metric.rawValue) | \(r.priority.rawValue) | \(r.threshold) | \(current) | \(previous) | \(delta) | \(r.status.rawValue) |\n"
        }
        out += "\n## KPI trends (last \(min(10, history.count + 1)) runs)\n\n```\n"
        for line in trends { out += line + "\n" }
        out += "```\n"
        if !summary.errors.isEmpty {
            out += "\n## Errors\n\n"
            for e in summary.errors.prefix(20) { out += "- \(e)\n" }
        }
        let loops = summary.contractLoops
        if !loops.isEmpty {
            out += "\n## Contract loops\n\nOutputs that missed their phase's contract and ran the phase again:\n\n"
            for l in loops.prefix(50) {
                out += "- item \(l.item ?? "-") \(l.phase) `\(l.id)`: \(l.error ?? "missed its contract")\n"
            }
        }
        if !summary.warnings.isEmpty {
            out += "\n## Warnings\n\n"
            for w in summary.warnings.prefix(20) { out += "- \(w)\n" }
        }
        out += "\n## Links\n\n"
        for l in links { out += "- \(l.label): `\(l.path)`\n" }
        return out
    }

    /// The metrics the gates read, from a summary and the dead letters it added.
    public static func metrics(_ s: RunSummary, dlqGrowth: Int?) -> [RunGates.Metric: Double] {
        let t = s.totals
        var m: [RunGates.Metric: Double] = [
            .casesTotal: Double(t.tasksRun), .passRate: t.passRate, .failedForGood: Double(t.failedForGood),
            .p95MS: Double(t.p95MS), .warnings: Double(s.warnings.count), .costPerTask: t.costPerTask,
            .durationMS: Double(s.durationMS), .costUSD: t.costUSD,
        ]
        if let budget = s.run.budgetUSD { m[.overBudgetUSD] = max(0, t.costUSD - budget) }
        if let dlqGrowth { m[.dlqGrowth] = Double(dlqGrowth) }
        return m
    }

    /// Reads the `KEY: value` block of a report (what `grep '^RESULT:'` sees).
    public static func parseKeys(_ text: String) -> [String: String] {
        var out: [String: String] = [:]
        for line in text.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let key = line[..<colon]
            guard let head = key.first, ("A"..."Z").contains(head),
                key.allSatisfy({ $0 == "_" || ("A"..."Z").contains($0) || ("0"..."9").contains($0) })
            else { continue }
            out[String(key)] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return out
    }
}
