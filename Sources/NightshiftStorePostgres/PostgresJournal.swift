import Foundation
import Logging
import NightshiftCore
import NightshiftStore
import PostgresNIO

/// Collects the events one transaction appends to `task_events` and writes them in one
/// statement just before it commits, so the operation can return them (with the tasks as they
/// left them).
///
/// Event ids come from an identity column, handed out when a row is inserted, not when it
/// commits: two writers could commit ids out of order, and a reader following ids (SSE resumes
/// after `Last-Event-ID`) would skip the lower one. So the insert first takes a transaction-level
/// advisory lock, held to the commit: ids become visible in order. It is the last statement of
/// every write, so the lock is held for one round trip.
final class PostgresJournal: @unchecked Sendable {
    // Used by one transaction at a time, on the task that runs it (hence unchecked).
    private struct Pending {
        var kind: TaskEventKind
        var from: TaskStatus?
        var task: AgentTask
        var detail: [String: JSONValue]
    }

    private var pending: [Pending] = []
    private(set) var entries: [LedgerEntry] = []
    let now: Date
    /// The run this store writes for: stamped on new tasks and on every event.
    let runID: String?
    /// What `NOTIFY` sends listeners on every node when a task became runnable: the
    /// channel, and the store's schema as payload (stores in other schemas ignore it).
    let notify: (channel: String, payload: String)
    let logger: Logger

    init(now: Date, runID: String?, notify: (channel: String, payload: String), logger: Logger) {
        self.now = now
        self.runID = runID
        self.notify = notify
        self.logger = logger
    }

    /// Appends one event for `task` (as it is after the change); written by `flush`.
    func record(_ kind: TaskEventKind, from: TaskStatus?, _ task: AgentTask, _ detail: [String: JSONValue] = [:]) {
        pending.append(Pending(kind: kind, from: from, task: task, detail: detail))
    }

    /// Writes the recorded events, oldest first, and gives each its id. When one of them left a
    /// task pending (created, requeued, retried, decided), it also queues a `NOTIFY`, which
    /// PostgreSQL delivers when (and only if) the transaction commits.
    func flush(_ conn: PostgresConnection) async throws {
        guard !pending.isEmpty else { return }
        if pending.contains(where: { $0.task.status == .pending }) {
            try await conn.query("SELECT pg_notify(\(notify.channel), \(notify.payload))", logger: logger)
        }
        try await conn.query("SELECT pg_advisory_xact_lock(\(Self.eventLock), hashtext(current_schema()))", logger: logger)
        let taskIDs = pending.map(\.task.id)
        let kinds = pending.map(\.kind.rawValue)
        let froms = pending.map { $0.from?.rawValue ?? "" }
        let tos = pending.map(\.task.status.rawValue)
        let attempts = pending.map(\.task.attempt)
        let details = pending.map { $0.detail.isEmpty ? "{}" : JSONValue.object($0.detail).jsonText }
        let at = now.timeIntervalSince1970
        let rows = try await conn.query(
            """
            INSERT INTO task_events (task_id, kind, from_status, to_status, attempt, detail, at, run_id)
            SELECT e.task_id, e.kind, NULLIF(e.from_status, ''), e.to_status, e.attempt, e.detail::jsonb, \(at), \(runID)
            FROM unnest(\(taskIDs)::text[], \(kinds)::text[], \(froms)::text[], \(tos)::text[], \(attempts)::bigint[],
                        \(details)::text[]) WITH ORDINALITY AS e(task_id, kind, from_status, to_status, attempt, detail, n)
            ORDER BY e.n
            RETURNING id
            """, logger: logger)
        var ids: [Int64] = []
        for try await id in rows.decode(Int64.self) { ids.append(id) }
        guard ids.count == pending.count else {
            throw StoreError(.unavailable, "appended \(ids.count) events, expected \(pending.count)")
        }
        ids.sort()
        for (id, p) in zip(ids, pending) {
            entries.append(
                LedgerEntry(
                    event: TaskEventRecord(
                        id: id, taskID: p.task.id, kind: p.kind, fromStatus: p.from, toStatus: p.task.status,
                        attempt: p.task.attempt, detail: p.detail, at: now, runID: runID),
                    task: p.task))
        }
        pending = []
    }

    func changes<T>(_ value: T) -> Changes<T> { Changes(value, entries: entries) }

    /// The advisory lock event inserts take ("nsev"), with the schema's hash: one queue per schema.
    static let eventLock: Int32 = 0x6E73_6576
}
