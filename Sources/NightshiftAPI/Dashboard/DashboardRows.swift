import Foundation
import NightshiftCore

/// The dashboard's task tables: which statuses each shows and its columns. This is the one
/// place a task's fields become cells, for the first render and for every live update: a new
/// field (turns, cache tokens, the last tool) is one more `Column` line in a section's list.
enum DashboardSection: String, CaseIterable, Sendable {
    case running, pending, finished

    var title: String {
        switch self {
        case .running: return "Running"
        case .pending: return "Pending"
        case .finished: return "Finished"
        }
    }

    var statuses: [TaskStatus] {
        switch self {
        case .running: return [.running]
        case .pending: return [.pending]
        case .finished: return [.completed, .failed, .cancelled]
        }
    }

    /// Rows shown at most (the total is shown beside the title).
    var limit: Int { self == .finished ? 50 : 200 }

    /// The table a task of this status belongs in; nil for `needs_decision` (the rail holds it).
    static func of(_ status: TaskStatus) -> DashboardSection? {
        allCases.first { $0.statuses.contains(status) }
    }

    /// One column: its header and how a task fills it.
    struct Column: Sendable {
        var key: String
        var header: String
        var cell: @Sendable (AgentTask, DashboardRowContext) -> DashboardCell
        init(_ key: String, _ header: String, _ cell: @escaping @Sendable (AgentTask, DashboardRowContext) -> DashboardCell) {
            self.key = key
            self.header = header
            self.cell = cell
        }
    }

    var columns: [Column] {
        let task = Column("task", "task") { t, _ in DashboardCell(t.id, link: "/dashboard/tasks/\(t.id)", title: t.direction) }
        let item = Column("item", "item") { t, _ in DashboardCell(t.backlogItem ?? "—") }
        let phase = Column("phase", "phase") { t, _ in DashboardCell(t.phase ?? t.taskType.rawValue) }
        let attempt = Column("attempt", "attempt") { t, _ in DashboardCell("\(t.attempt)/\(t.maxAttempts)") }
        let tokens = Column("tokens", "tokens") { t, _ in
            DashboardCell(t.tokensIn == nil && t.tokensOut == nil ? "—" : "\(t.tokensIn ?? 0)↓ \(t.tokensOut ?? 0)↑")
        }
        let cost = Column("cost", "$") { t, _ in DashboardCell(t.costUSD.map { String(format: "%.4f", $0) } ?? "—") }
        switch self {
        case .running:
            return [
                task, item, phase, attempt,
                Column("elapsed", "elapsed") { t, c in
                    DashboardCell(Self.age(t.startedAt, c.now), since: t.startedAt)
                },
                tokens, cost,
                Column("last", "last agent event") { t, c in
                    // A structured agent's own last message or tool call; a plain one's heartbeat.
                    if let at = t.lastEventAt {
                        return DashboardCell((t.lastTool.map { "\($0) " } ?? "") + "\(Self.age(at, c.now)) ago", since: at)
                    }
                    guard let beat = t.heartbeatAt else { return DashboardCell("started \(Self.age(t.startedAt, c.now)) ago") }
                    return DashboardCell("heartbeat \(Self.age(beat, c.now)) ago")
                },
            ]
        case .pending:
            return [
                task, item, phase, attempt,
                Column("why", "why it waits") { t, c in DashboardCell(c.waitReason(t)) },
            ]
        case .finished:
            return [
                task, item, phase, attempt,
                Column("outcome", "outcome") { t, _ in
                    DashboardCell(t.status.rawValue + (t.errorClass.map { " · \($0)" } ?? ""), title: t.error)
                },
                Column("duration", "took") { t, _ in
                    DashboardCell(t.durationSeconds.map { RunSummary.formatMS(Int($0 * 1000)) } ?? "—")
                },
                tokens, cost,
                Column("ended", "ended") { t, _ in DashboardCell(t.finishedAt.map(Timestamp.format) ?? "—") },
            ]
        }
    }

    /// The Mustache value of one row.
    func row(_ t: AgentTask, _ context: DashboardRowContext) -> [String: Any] {
        [
            "id": t.id, "section": rawValue, "status": t.status.rawValue,
            "cells": columns.map { c in c.cell(t, context).value(key: c.key) },
        ]
    }

    /// `3m05s` since `date`, or `—`.
    static func age(_ date: Date?, _ now: Date) -> String {
        guard let date else { return "—" }
        return RunSummary.formatMS(max(0, Int(now.timeIntervalSince(date) * 1000)))
    }
}

/// What a cell shows: its text, and optionally a link, a tooltip, and a start time that the
/// page's script counts up from.
struct DashboardCell: Sendable {
    var text: String
    var link: String?
    var title: String?
    var since: Date?
    init(_ text: String, link: String? = nil, title: String? = nil, since: Date? = nil) {
        self.text = text
        self.link = link
        self.title = title.map { String($0.prefix(300)) }
        self.since = since
    }

    func value(key: String) -> [String: Any] {
        var v: [String: Any] = ["key": key, "text": text]
        if let link { v["link"] = link }
        if let title { v["tip"] = title }
        if let since { v["since"] = Timestamp.format(since) }
        return v
    }
}

/// What rows need beyond the task: the time, and why pending tasks wait.
struct DashboardRowContext: Sendable {
    var now: Date
    var workers: Int
    var running: Int
    /// The project manager is paused (no new work is created).
    var paused: Bool
    /// Status of the tasks pending ones depend on, by id.
    var dependencies: [String: TaskStatus] = [:]
    /// Why new work waits on the budget (a cap would pass, or is spent), if it does.
    var budgetHold: String?
    /// Executors paused by a usage limit: what their status line says.
    var pausedExecutors: [String: String] = [:]
    /// Which executor each task type runs with (`runner.executor_for`).
    var executorFor: [String: String] = [:]

    /// Why a pending task is not running yet: a dependency, a backoff, a budget stop, a pause,
    /// or the workers being busy.
    func waitReason(_ t: AgentTask) -> String {
        let open = t.dependsOn.filter { dependencies[$0] != .completed }
        if !open.isEmpty {
            return "dependency: waits for "
                + open.prefix(3).map { "\($0) (\(dependencies[$0]?.rawValue ?? "unknown"))" }
                .joined(separator: ", ")
        }
        if let nb = t.notBefore, nb > now, t.errorClass == ErrorClass.usageLimited.rawValue {
            return "pause: usage limit until \(Timestamp.format(nb)) (in \(DashboardSection.age(now, nb)); no attempt used)"
        }
        if let nb = t.notBefore, nb > now {
            return "backoff: retry in \(DashboardSection.age(now, nb)) (attempt \(t.attempt + 1) of \(t.maxAttempts))"
        }
        if let p = pausedExecutors[t.executor ?? executorFor[t.taskType.rawValue] ?? "default"] {
            return "pause: \(p)"
        }
        if let hold = budgetHold { return "budget: \(hold)" }
        if paused { return "pause: the project manager is paused" }
        return running >= workers ? "queued: all \(workers) workers busy" : "queued: next to be claimed"
    }
}
