import Foundation
import NightshiftCore
import NightshiftStore

extension RunPaths {
    /// The morning report (`MorningReport`): HTML, Markdown and JSON.
    public var reportHTML: String { file("report.html") }
    public var reportMarkdown: String { file("report.md") }
    public var reportJSON: String { file("report.json") }
}

/// Gathers a run's facts from the store (and its log fingerprints, when the store keeps logs),
/// builds the morning report and writes `report.html`, `report.md` and `report.json` atomically.
public struct MorningReportWriter: Sendable {
    public let store: any RunStore
    public let paths: StatePaths
    /// How many earlier runs a fingerprint is looked for in, to call it recurring.
    public var lookback = 7

    /// The caps the cost strip is drawn against (`budget:`).
    public var budget: BudgetCaps

    public init(store: any RunStore, paths: StatePaths, budget: BudgetCaps = BudgetCaps()) {
        self.store = store
        self.paths = paths
        self.budget = budget
    }

    /// The report of run `info` as of `now` (mid-run too), from its summary as the store has it.
    public func build(summary: RunSummary, caps: MorningReport.Caps? = nil, now: Date = Date()) async throws -> MorningReport {
        let id = summary.run.id
        let tasks = try await store.tasks(inRun: id)
        let events = try await store.events(inRun: id)
        var issues: [LogIssue] = []
        var earlier: Set<String> = []
        if let logs = store as? any LogStore {
            issues = (try? await logs.logIssues(runID: id, limit: 500)) ?? []
            let before = RunCatalog(paths: paths).list().filter { $0.id != id && $0.startedAt < summary.run.startedAt }
            for r in before.prefix(lookback) {
                for i in (try? await logs.logIssues(runID: r.id, limit: 500)) ?? [] { earlier.insert(i.fingerprint) }
            }
        }
        return MorningReport.build(
            .init(
                summary: summary, tasks: tasks, events: events, logIssues: issues, earlierFingerprints: earlier,
                caps: caps
                    ?? MorningReport.Caps(
                        perRunUSD: budget.perRunUSD ?? summary.run.budgetUSD, perTaskUSD: budget.perTaskUSD),
                now: now))
    }

    /// Writes the three files of `report` into its run's directory.
    public func write(_ report: MorningReport) throws {
        let run = paths.run(report.run.id)
        try AtomicFile.ensureDirectory(run.root)
        try AtomicFile.write(Data(report.html().utf8), to: run.reportHTML)
        try AtomicFile.write(Data(report.markdown().utf8), to: run.reportMarkdown)
        try AtomicFile.writeJSON(report, to: run.reportJSON)
    }
}
