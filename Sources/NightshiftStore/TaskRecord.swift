import Foundation
import GRDB
import NightshiftCore

/// The `tasks` table row. Times are stored as REAL Unix seconds so SQL can compare them;
/// `depends_on` and `context` as JSON text.
struct TaskRecord {
    enum Columns: String, CaseIterable {
        /// The case's place in the declaration (the table's column order): a case without a
        /// payload is stored as that index, so this is a load, not a lookup (the dictionary it
        /// replaced was 5 % of a list). `checkColumnOrder` verifies it for every case at open.
        @inline(__always) var ordinal: Int { Int(unsafeBitCast(self, to: UInt8.self)) }

        case id
        case taskType = "task_type"
        case direction, status, priority
        case notBefore = "not_before"
        case attempt
        case maxAttempts = "max_attempts"
        case executor, command
        case claimedBy = "claimed_by"
        case leaseExpiresAt = "lease_expires_at"
        case heartbeatAt = "heartbeat_at"
        case pid, pgid
        case decisionPrompt = "decision_prompt"
        case decision
        case decidedAt = "decided_at"
        case exitCode = "exit_code"
        case error
        case errorClass = "error_class"
        case outputTail = "output_tail"
        case logPath = "log_path"
        case summary, verdict, feedback
        case costUSD = "cost_usd"
        case tokensIn = "tokens_in"
        case tokensOut = "tokens_out"
        case backlogItem = "backlog_item"
        case phase, iteration
        case parentID = "parent_id"
        case dependsOn = "depends_on"
        case context
        case createdAt = "created_at"
        case updatedAt = "updated_at"
        case startedAt = "started_at"
        case finishedAt = "finished_at"
        case runID = "run_id"
        case turns
        case tokensCacheRead = "tokens_cache_read"
        case tokensCacheWrite = "tokens_cache_write"
        case lastTool = "last_tool"
        case lastEventAt = "last_event_at"
        case costSource = "cost_source"
        case sessionID = "session_id"
        case model
        case budgetUSD = "budget_usd"
    }

    static let insertSQL: String = {
        let names = Columns.allCases.map(\.rawValue)
        return "INSERT INTO tasks (\(names.joined(separator: ", "))) VALUES (\(names.map { _ in "?" }.joined(separator: ", ")))"
    }()

    /// Each column's position in `SELECT *` and `RETURNING *`: the table's order, which is the
    /// order of `Columns` (checked when the store opens, `checkColumnOrder`). Decoding by position
    /// skips GRDB's case-insensitive lookup by name, the hot path's biggest cost.
    @inline(__always) static func at(_ column: Columns) -> Int { column.ordinal }

    /// Fails when the table's columns are not in the order of `Columns` (a migration that did not
    /// append its column at the end, say): decoding by position would read the wrong fields.
    static func checkColumnOrder(_ db: Database) throws {
        let names = try Row.fetchAll(db, sql: "PRAGMA table_info(tasks)").map { $0["name"] as String }
        guard names == Columns.allCases.map(\.rawValue) else {
            throw StoreError(.unavailable, "the tasks table's columns are not in the order TaskRecord decodes: \(names)")
        }
        guard Columns.allCases.enumerated().allSatisfy({ $0.offset == $0.element.ordinal }) else {
            throw StoreError(.unavailable, "TaskRecord.Columns ordinals do not follow the declaration")
        }
    }

    static func time(_ row: Row, _ index: Int) -> Date? {
        (row[index] as Double?).map { Date(timeIntervalSince1970: $0) }
    }

    /// A task from a `SELECT *` / `RETURNING *` row of `tasks`, decoded by position.
    static func decode(_ row: Row) throws -> AgentTask {
        guard row.count == Columns.allCases.count else {
            throw StoreError(.unavailable, "a tasks row has \(row.count) columns, expected \(Columns.allCases.count)")
        }
        let statusText: String = row[at(.status)]
        guard let status = TaskStatus(rawValue: statusText) else {
            throw StoreError(.unavailable, "row has unknown status \(statusText)")
        }
        var t = AgentTask(
            id: row[at(.id)], taskType: TaskType(row[at(.taskType)] as String), direction: row[at(.direction)], status: status,
            priority: row[at(.priority)],
            maxAttempts: row[at(.maxAttempts)], now: time(row, at(.createdAt)) ?? Date(timeIntervalSince1970: 0))
        t.notBefore = time(row, at(.notBefore))
        t.attempt = row[at(.attempt)]
        t.executor = row[at(.executor)]
        t.command = row[at(.command)]
        t.claimedBy = row[at(.claimedBy)]
        t.leaseExpiresAt = time(row, at(.leaseExpiresAt))
        t.heartbeatAt = time(row, at(.heartbeatAt))
        t.pid = row[at(.pid)]
        t.pgid = row[at(.pgid)]
        t.decisionPrompt = row[at(.decisionPrompt)]
        t.decision = row[at(.decision)]
        t.decidedAt = time(row, at(.decidedAt))
        t.exitCode = row[at(.exitCode)]
        t.error = row[at(.error)]
        t.errorClass = row[at(.errorClass)]
        t.outputTail = row[at(.outputTail)]
        t.logPath = row[at(.logPath)]
        t.summary = row[at(.summary)]
        t.verdict = row[at(.verdict)]
        t.feedback = row[at(.feedback)]
        t.costUSD = row[at(.costUSD)]
        t.tokensIn = row[at(.tokensIn)]
        t.tokensOut = row[at(.tokensOut)]
        t.backlogItem = row[at(.backlogItem)]
        t.phase = row[at(.phase)]
        t.iteration = row[at(.iteration)]
        t.parentID = row[at(.parentID)]
        // JSON text (a CHECK keeps it valid), read with the small parser: the decoder's setup
        // cost more than the rest of the row.
        let deps: String = row[at(.dependsOn)]
        t.dependsOn = deps == "[]" ? [] : (JSONValue.parse(deps)?.arrayValue?.compactMap(\.stringValue) ?? [])
        let ctx: String = row[at(.context)]
        t.context = ctx == "{}" ? [:] : (JSONValue.parse(ctx)?.objectValue ?? [:])
        t.updatedAt = time(row, at(.updatedAt)) ?? t.createdAt
        t.startedAt = time(row, at(.startedAt))
        t.finishedAt = time(row, at(.finishedAt))
        t.runID = row[at(.runID)]
        t.turns = row[at(.turns)]
        t.tokensCacheRead = row[at(.tokensCacheRead)]
        t.tokensCacheWrite = row[at(.tokensCacheWrite)]
        t.lastTool = row[at(.lastTool)]
        t.lastEventAt = time(row, at(.lastEventAt))
        t.costSource = row[at(.costSource)]
        t.sessionID = row[at(.sessionID)]
        t.model = row[at(.model)]
        t.budgetUSD = row[at(.budgetUSD)]
        return t
    }

    static func arguments(_ t: AgentTask) throws -> StatementArguments {
        let deps = t.dependsOn.isEmpty ? "[]" : String(decoding: try JSONEncoder().encode(t.dependsOn), as: UTF8.self)
        let ctx = t.context.isEmpty ? "{}" : String(decoding: try JSONEncoder.nightshift().encode(t.context), as: UTF8.self)
        let values: [(any DatabaseValueConvertible)?] = [
            t.id, t.taskType.rawValue, t.direction, t.status.rawValue, t.priority, t.notBefore?.timeIntervalSince1970,
            t.attempt, t.maxAttempts, t.executor, t.command, t.claimedBy, t.leaseExpiresAt?.timeIntervalSince1970,
            t.heartbeatAt?.timeIntervalSince1970, t.pid, t.pgid, t.decisionPrompt, t.decision,
            t.decidedAt?.timeIntervalSince1970, t.exitCode, t.error, t.errorClass, t.outputTail, t.logPath, t.summary,
            t.verdict, t.feedback, t.costUSD, t.tokensIn, t.tokensOut, t.backlogItem, t.phase, t.iteration, t.parentID,
            deps, ctx, t.createdAt.timeIntervalSince1970, t.updatedAt.timeIntervalSince1970,
            t.startedAt?.timeIntervalSince1970, t.finishedAt?.timeIntervalSince1970, t.runID, t.turns, t.tokensCacheRead,
            t.tokensCacheWrite, t.lastTool, t.lastEventAt?.timeIntervalSince1970, t.costSource, t.sessionID, t.model,
            t.budgetUSD,
        ]
        return StatementArguments(values)
    }
}
