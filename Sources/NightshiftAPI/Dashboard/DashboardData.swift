import Foundation
import NightshiftCore
import NightshiftRuntime
import NightshiftStore

/// What the dashboard page shows, read from the store and the pipeline views. Every list is
/// bounded, so the page costs the same with ten tasks or ten thousand; a live fragment reads
/// only what its part shows.
struct DashboardData {
    var counts: [TaskStatus: Int] = [:]
    var sections: [DashboardSection: [AgentTask]] = [:]
    var totals: [DashboardSection: Int] = [:]
    var context: DashboardRowContext
    var needs: [[String: Any]] = []
    var items: [[String: Any]] = []
    var itemsSummary = ""
    var itemsTotal = 0
    var issues: [[String: Any]] = []
    var runs: [[String: Any]] = []
    var runsTotal = 0

    /// Rail entries of failed tasks shown at most (the Finished table, filtered by
    /// `status=failed`, has the rest).
    static let failedInRail = 20

    /// Reads what `parts` show (all of them for the page, one for a live fragment).
    static func load(
        env: ServiceEnvironment, views: PipelineViews, filter: DashboardFilter,
        parts: Set<DashboardPart> = Set(DashboardPart.allCases)
    ) async throws -> DashboardData {
        let store = env.store
        let counts = try await store.countByStatus()
        var sections: [DashboardSection: [AgentTask]] = [:]
        var totals: [DashboardSection: Int] = [:]
        for s in DashboardSection.allCases where parts.contains(s.part) {
            guard var q = filter.query(s.statuses, limit: s.limit) else { continue }
            if s == .pending && q.statuses == [.pending] { q.order = .claim }
            let page = try await store.list(q)
            sections[s] = page.tasks
            totals[s] = page.total
        }
        let wantsPM = !parts.isDisjoint(with: [.needs, .items, .pending])
        let pm: JSONValue = wantsPM ? await views.projectManager() : .null
        let context = try await rowContext(
            env: env, views: views, tasks: sections[.pending] ?? [], counts: counts, projectManager: wantsPM ? pm : nil)
        var data = DashboardData(counts: counts, sections: sections, totals: totals, context: context)
        if parts.contains(.needs) { data.needs = try await rail(env: env, views: views, projectManager: pm) }
        if parts.contains(.items) {
            (data.items, data.itemsSummary, data.itemsTotal) = items(pm, phases: env.config.projectManager.phases)
        }
        if parts.contains(.issues) {
            data.issues = await views.monitorIssues(false).compactMap { i -> [String: Any]? in
                guard let o = i.objectValue else { return nil }
                return [
                    "id": o["id"]?.stringValue ?? "", "severity": o["severity"]?.stringValue ?? "",
                    "condition": o["condition"]?.stringValue ?? "", "subject": o["subject"]?.stringValue ?? "",
                    "message": o["message"]?.stringValue ?? "", "action": o["suggested_action"]?.stringValue ?? "",
                    "count": "\(Int(o["count"]?.doubleValue ?? 1))",
                ]
            }
        }
        if parts.contains(.runs) { (data.runs, data.runsTotal) = try await runs(env: env) }
        return data
    }

    /// Runs shown at most, newest first.
    static let runsShown = 20

    /// The runs of the state dir, newest first. The run this daemon works for shows its live
    /// figures from the store (its summary file is only rewritten every so often).
    static func runs(env: ServiceEnvironment) async throws -> ([[String: Any]], Int) {
        let all = RunCatalog(paths: env.paths).list()
        let current = env.run?.paths.id
        var rows: [[String: Any]] = []
        for r in all.prefix(runsShown) {
            var row: [String: Any] = [
                "id": r.id, "mode": r.mode.rawValue, "state": r.state.rawValue, "result": r.result?.rawValue ?? "—",
                "started": Timestamp.format(r.startedAt), "tasks": r.tasksRun.map { "\($0)" } ?? "—",
                "cost": r.costUSD.map { String(format: "%.4f", $0) } ?? "—",
            ]
            if r.id == current, let store = env.store as? any RunStore {
                row["current"] = true
                let progress = try await store.progress(inRun: r.id)
                var q = TaskQuery(limit: 1)
                q.runID = r.id
                let total = try await env.store.list(q).total
                row["tasks"] = "\(total)" + (progress.open > 0 ? " (\(progress.open) open)" : "")
                row["cost"] = String(format: "%.4f", progress.spentUSD)
            }
            rows.append(row)
        }
        return (rows, all.count)
    }

    /// The context rows need: the time, the workers, the pause, and the status of the tasks
    /// that pending ones depend on.
    static func rowContext(
        env: ServiceEnvironment, views: PipelineViews, tasks: [AgentTask], counts: [TaskStatus: Int],
        projectManager: JSONValue? = nil
    ) async throws -> DashboardRowContext {
        var pm = projectManager
        if pm == nil, tasks.contains(where: { $0.status == .pending }) { pm = await views.projectManager() }
        var context = DashboardRowContext(
            now: env.now(), workers: env.config.runner.workers, running: counts[.running] ?? 0,
            paused: pm?.objectValue?["paused"] == .bool(true))
        let budget = env.agents.budget
        if budget.state != "ok" { context.budgetHold = budget.reason }
        let now = env.now()
        for p in env.agents.pauses where p.until > now { context.pausedExecutors[p.executor] = AgentBoard.describe(p) }
        context.executorFor = env.config.runner.executorFor
        let wanted = Set(tasks.filter { $0.status == .pending }.flatMap(\.dependsOn)).prefix(200)
        for id in wanted {
            context.dependencies[id] = (try? await env.store.get(id))?.status
        }
        return context
    }

    /// The "Needs you" rail: decisions first, then blocked items, fatal and critical issues,
    /// budget stops and usage-limit pauses, and tasks failed for good.
    static func rail(env: ServiceEnvironment, views: PipelineViews, projectManager pm: JSONValue) async throws -> [[String: Any]]
    {
        var out: [[String: Any]] = []
        let waiting = try await env.store.list(TaskQuery(statuses: [.needsDecision], limit: 100)).tasks
        out += waiting.compactMap(DashboardRail.entry)
        for b in pm.objectValue?["blocked"]?.arrayValue ?? [] {
            guard let o = b.objectValue, let key = o["key"]?.stringValue else { continue }
            out.append(
                DashboardRail.blockedItem(key: key, title: o["title"]?.stringValue ?? "", reason: o["reason"]?.stringValue ?? ""))
        }
        out += (await views.fatalIssues() + views.monitorIssues(false)).compactMap(DashboardRail.issue)
        // Work held by money or a provider's limit: a spent cap, and tasks waiting out a usage limit.
        let budget = env.agents.budget
        if budget.state == "exhausted" || budget.state == "waiting" {
            out.append(DashboardRail.budgetHold(state: budget.state, reason: budget.reason ?? ""))
        }
        var limited = TaskQuery(statuses: [.pending], limit: 100)
        limited.errorClass = ErrorClass.usageLimited.rawValue
        out += try await env.store.list(limited).tasks.compactMap(DashboardRail.entry)
        let failed = try await env.store.list(TaskQuery(statuses: [.failed], limit: 100)).tasks
        let stops = failed.filter { DashboardRail.budgetClasses.contains($0.errorClass ?? "") }
        out += stops.compactMap(DashboardRail.entry)
        out += failed.filter { !DashboardRail.budgetClasses.contains($0.errorClass ?? "") }.compactMap(DashboardRail.entry)
            .prefix(failedInRail)
        return out
    }

    /// Backlog items with their phase progress, from the project manager's status.
    static func items(_ pm: JSONValue, phases: [String]) -> ([[String: Any]], String, Int) {
        let o = pm.objectValue ?? [:]
        let all = o["items"]?.arrayValue ?? []
        let rows: [[String: Any]] = all.prefix(500).compactMap { i in
            guard let item = i.objectValue, let key = item["key"]?.stringValue else { return nil }
            let state = item["state"]?.stringValue ?? "queued"
            let current = item["phase"]?.stringValue
            let at = current.flatMap { phases.firstIndex(of: $0) }
            let marks: [[String: Any]] = phases.enumerated().map { (n, name) in
                let mark: String
                if state == "done" {
                    mark = "done"
                } else if let at, n < at {
                    mark = "done"
                } else if let at, n == at {
                    mark = state == "blocked" ? "blocked" : "current"
                } else {
                    mark = "todo"
                }
                return ["name": name, "mark": mark]
            }
            var row: [String: Any] = [
                "key": key, "keyQuery": FormBody.escape(key), "title": item["title"]?.stringValue ?? "", "state": state,
                "phases": marks,
            ]
            if let reason = item["blocked_reason"]?.stringValue, state == "blocked" { row["reason"] = reason }
            if let it = item["iteration"]?.doubleValue, it > 1 { row["iteration"] = "\(Int(it))" }
            return row
        }
        var summary = ""
        if let by = o["items_by_state"]?.objectValue {
            summary = ItemState.allCases.map { "\($0.rawValue) \(Int(by[$0.rawValue]?.doubleValue ?? 0))" }.joined(
                separator: " · ")
            if let state = o["state"]?.stringValue { summary = "project manager \(state) · " + summary }
        }
        return (rows, summary, all.count)
    }
}
