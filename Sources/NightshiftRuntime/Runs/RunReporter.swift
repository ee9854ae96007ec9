import Crypto
import Foundation
import NightshiftCore
import NightshiftStore
import Subprocess
import SystemPackage

/// Writes a run's reports: `summary.txt` and `summary.json` (atomically, refreshed while the run
/// goes on), and at its end `run.tar.gz` with its sha256, then `reports/session_report.md`
/// (once, atomically) with a copy under `reports/history/<stamp>/`, and the morning report
/// (`report.html`, `report.md`, `report.json`) that the session report links first.
public struct RunReporter: Sendable {
    public let store: any RunStore
    public let paths: StatePaths
    public let files: RunFiles
    public let gates: [String: [RunGates.Gate]]

    /// The spend caps the morning report's cost strip is drawn against.
    public var budget = BudgetCaps()

    public init(
        store: any RunStore, paths: StatePaths, files: RunFiles, gates: [String: [RunGates.Gate]],
        budget: BudgetCaps = BudgetCaps()
    ) {
        self.store = store
        self.paths = paths
        self.files = files
        self.gates = gates
        self.budget = budget
    }

    /// What the run's end decided.
    public struct Outcome: Sendable, Equatable {
        public var summary: RunSummary
        public var verdict: RunGates.Verdict
        public var errorClass: String
        public var reportPath: String
        public var historyPath: String
    }

    /// The summary as of now, from the store.
    public func summary(info: RunInfo, warnings: [String] = [], now: Date = Date()) async throws -> RunSummary {
        let tasks = try await store.tasks(inRun: info.id)
        let attempts = try await store.attempts(inRun: info.id)
        let keys = Array(Set(tasks.compactMap(\.backlogItem)))
        let items = try await store.items(keys: keys).sorted { $0.position < $1.position }.map {
            RunSummary.Item(key: $0.key, title: $0.title, state: $0.state.rawValue, blockedReason: $0.blockedReason)
        }
        let decisions = try await store.events(inRun: info.id).filter { $0.kind == .decided }.map {
            RunSummary.Decision(
                taskID: $0.taskID, decision: $0.detail["decision"]?.stringValue ?? "?", by: $0.detail["by"]?.stringValue,
                at: $0.at)
        }
        var summary = RunSummary.build(
            run: info, tasks: tasks, attempts: attempts, items: items, decisions: decisions, warnings: warnings, now: now)
        summary.dlqCount = try await store.countByStatus()[.failed] ?? 0
        return summary
    }

    /// Rewrites `summary.txt` and `summary.json` (while the run goes on).
    @discardableResult
    public func refresh(info: RunInfo, warnings: [String] = [], now: Date = Date()) async throws -> RunSummary {
        let s = try await summary(info: info, warnings: warnings, now: now)
        try write(s)
        return s
    }

    func write(_ s: RunSummary) throws { try Self.writeSummary(s, files: files, paths: paths) }

    /// `summary.json` and `summary.txt` (with the KPI trends of the runs before), atomically.
    public static func writeSummary(_ s: RunSummary, files: RunFiles, paths: StatePaths) throws {
        try AtomicFile.writeJSON(s, to: files.paths.summaryJSON)
        try AtomicFile.write(Data(s.renderText(trends: trendLines(current: s, paths: paths)).utf8), to: files.paths.summaryText)
    }

    /// The run's end: `run.json` closed with `state`, the final summary, the archive and its
    /// hash, and the session report.
    /// `artifacts` (exports, the handoff) runs after the archive and before the session report;
    /// the warnings it returns are reported but never change the verdict.
    public func finish(
        info start: RunInfo, state: RunState, warnings: [String], errorClass fixedClass: String? = nil,
        sessionID: String, now: Date = Date(), artifacts: (@Sendable (RunSummary) -> [String])? = nil
    ) async throws -> Outcome {
        var info = (try? files.read()) ?? start
        info.endedAt = now
        info.state = state
        var summary = try await summary(info: info, warnings: warnings, now: now)
        let history = Self.history(paths, excluding: info.id)
        let previous = history.last
        let growth = previous?.dlqCount.map { (summary.dlqCount ?? 0) - $0 }
        let verdict = RunGates.evaluate(
            RunGates.gates(profile: info.profile, overrides: gates),
            current: SessionReport.metrics(summary, dlqGrowth: growth),
            previous: previous.map { SessionReport.metrics($0, dlqGrowth: nil) })
        // A run that ended normally is judged by its gates; a failed or interrupted one stays so.
        if state == .success { info.state = verdict.result == .fail ? .fail : .success }
        summary.run = info
        summary.result = verdict.result
        summary.errorClass = fixedClass ?? Self.errorClass(verdict, summary)
        try files.write(info)
        // The summary goes into the archive; the hash of the archive goes into the summary after.
        try write(summary)
        summary.archive = try archive()
        try write(summary)
        if let artifacts {
            let more = artifacts(summary)
            if !more.isEmpty {
                summary.warnings += more
                try write(summary)
            }
        }
        // The morning report (report.html, .md, .json); a failure to write it is a warning.
        var morning: [(label: String, path: String)] = []
        do {
            let writer = MorningReportWriter(store: store, paths: paths, budget: budget)
            try writer.write(try await writer.build(summary: summary, now: now))
            morning = [
                ("morning report", relative(files.paths.reportHTML)),
                ("morning report (Markdown)", relative(files.paths.reportMarkdown)),
            ]
        } catch {
            summary.warnings.append("the morning report could not be written: \(error)")
            try write(summary)
        }
        let errorClass = summary.errorClass ?? "none"
        let report = SessionReport(
            sessionID: sessionID, summary: summary, verdict: verdict, errorClass: errorClass,
            dlqCount: summary.dlqCount ?? 0,
            lastDLQRunID: ([summary] + history.reversed()).first { $0.totals.failedForGood > 0 }?.run.id,
            history: history,
            links: morning + [
                ("summary", relative(files.paths.summaryText)), ("summary (JSON)", relative(files.paths.summaryJSON)),
                ("run", relative(files.paths.info)), ("logs", relative(files.paths.logsDir)),
                ("archive", relative(files.paths.archive)),
            ])
        let text = Data(report.render().utf8)
        let reports = paths.reportsDir
        let reportPath = (reports as NSString).appendingPathComponent("session_report.md")
        let historyDir = Self.newHistoryDir(reports, stamp: RunID.stamp(now))
        try AtomicFile.ensureDirectory(historyDir)
        try AtomicFile.write(text, to: reportPath)
        let historyPath = (historyDir as NSString).appendingPathComponent("session_report.md")
        try AtomicFile.write(text, to: historyPath)
        return Outcome(
            summary: summary, verdict: verdict, errorClass: errorClass, reportPath: reportPath, historyPath: historyPath)
    }

    /// `reports/history/<stamp>/`, or `<stamp>_2`, `_3`... when a run ended in the same second.
    static func newHistoryDir(_ reports: String, stamp: String) -> String {
        let base = (reports as NSString).appendingPathComponent("history/\(stamp)")
        var dir = base
        var n = 1
        while FileManager.default.fileExists(atPath: dir) {
            n += 1
            dir = base + "_\(n)"
        }
        return dir
    }

    /// The first reason a run failed, as an error class.
    static func errorClass(_ verdict: RunGates.Verdict, _ s: RunSummary) -> String {
        guard verdict.result == .fail, let first = verdict.breaches.first else { return "none" }
        switch first {
        case .casesTotal: return "no_tasks"
        case .overBudgetUSD: return "budget_exceeded"
        case .failedForGood:
            return s.tasks.first { $0.status == .failed && $0.item == nil }?.errorClass
                ?? s.items.first { $0.state == "blocked" }.map { _ in "item_blocked" } ?? "task_failed"
        default: return "gate_\(first.rawValue)"
        }
    }

    func relative(_ path: String) -> String {
        path.hasPrefix(paths.root + "/") ? String(path.dropFirst(paths.root.count + 1)) : path
    }

    static func trendLines(current: RunSummary, paths: StatePaths) -> [String] {
        let runs = history(paths, excluding: current.run.id).suffix(9) + [current]
        return [
            Sparkline.line("pass rate", runs.map(\.totals.passRate)) { String(format: "%.1f%%", $0 * 100) },
            Sparkline.line("cost/task", runs.map(\.totals.costPerTask)) { String(format: "$%.4f", $0) },
            Sparkline.line("p95 duration", runs.map { Double($0.totals.p95MS) }) { RunSummary.formatMS(Int($0)) },
        ]
    }

    /// Ended runs other than `excluding`, oldest first, from their `summary.json`.
    public static func history(_ paths: StatePaths, excluding: String? = nil) -> [RunSummary] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: paths.runsDir)) ?? []
        let decoder = JSONDecoder.nightshift()
        return names.filter { RunID.isValid($0) && $0 != excluding }.compactMap { name -> RunSummary? in
            guard let data = FileManager.default.contents(atPath: paths.run(name).summaryJSON),
                let s = try? decoder.decode(RunSummary.self, from: data), s.run.endedAt != nil
            else { return nil }
            return s
        }.sorted { ($0.run.startedAt, $0.run.id) < ($1.run.startedAt, $1.run.id) }
    }

    /// `run.tar.gz` (see `RunFiles.archive`).
    public func archive() throws -> RunSummary.Archive { try files.archive(stateRoot: paths.root) }

    /// Size and sha256 of a file, read in 1 MiB chunks.
    public static func sha256(of path: String) throws -> (Int64, String) {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw StateFileError(path: path, reason: "cannot open it")
        }
        defer { try? handle.close() }
        var hasher = SHA256()
        var bytes: Int64 = 0
        while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty {
            hasher.update(data: chunk)
            bytes += Int64(chunk.count)
        }
        return (bytes, hasher.finalize().map { String(format: "%02x", $0) }.joined())
    }
}

extension FileManager {
    /// `rename(2)`: replaces `to` atomically.
    func moveItemReplacing(at from: String, to: String) throws {
        guard rename(from, to) == 0 else {
            throw StateFileError(path: to, reason: String(cString: strerror(errno)))
        }
    }
}
