import Foundation
import GRDB
import NightshiftCore

/// The `tasks` table row. Times are stored as REAL Unix seconds so SQL can compare them;
/// `depends_on` and `context` as JSON text.
struct TaskRecord {
    enum Columns: String, CaseIterable {
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
    }

    static let insertSQL: String = {
        let names = Columns.allCases.map(\.rawValue)
        return "INSERT INTO tasks (\(names.joined(separator: ", "))) VALUES (\(names.map { _ in "?" }.joined(separator: ", ")))"
    }()

    static func time(_ row: Row, _ column: Columns) -> Date? {
        (row[column.rawValue] as Double?).map { Date(timeIntervalSince1970: $0) }
    }

    static func decode(_ row: Row) throws -> AgentTask {
        let statusText: String = row[Columns.status.rawValue]
        guard let status = TaskStatus(rawValue: statusText) else {
            throw StoreError(.unavailable, "row has unknown status \(statusText)")
        }
        var t = AgentTask(
            id: row[Columns.id.rawValue], taskType: TaskType(row[Columns.taskType.rawValue] as String),
            direction: row[Columns.direction.rawValue], status: status, priority: row[Columns.priority.rawValue],
            maxAttempts: row[Columns.maxAttempts.rawValue], now: time(row, .createdAt) ?? Date(timeIntervalSince1970: 0))
        t.notBefore = time(row, .notBefore)
        t.attempt = row[Columns.attempt.rawValue]
        t.executor = row[Columns.executor.rawValue]
        t.command = row[Columns.command.rawValue]
        t.claimedBy = row[Columns.claimedBy.rawValue]
        t.leaseExpiresAt = time(row, .leaseExpiresAt)
        t.heartbeatAt = time(row, .heartbeatAt)
        t.pid = row[Columns.pid.rawValue]
        t.pgid = row[Columns.pgid.rawValue]
        t.decisionPrompt = row[Columns.decisionPrompt.rawValue]
        t.decision = row[Columns.decision.rawValue]
        t.decidedAt = time(row, .decidedAt)
        t.exitCode = row[Columns.exitCode.rawValue]
        t.error = row[Columns.error.rawValue]
        t.errorClass = row[Columns.errorClass.rawValue]
        t.outputTail = row[Columns.outputTail.rawValue]
        t.logPath = row[Columns.logPath.rawValue]
        t.summary = row[Columns.summary.rawValue]
        t.verdict = row[Columns.verdict.rawValue]
        t.feedback = row[Columns.feedback.rawValue]
        t.costUSD = row[Columns.costUSD.rawValue]
        t.tokensIn = row[Columns.tokensIn.rawValue]
        t.tokensOut = row[Columns.tokensOut.rawValue]
        t.backlogItem = row[Columns.backlogItem.rawValue]
        t.phase = row[Columns.phase.rawValue]
        t.iteration = row[Columns.iteration.rawValue]
        t.parentID = row[Columns.parentID.rawValue]
        let deps: String = row[Columns.dependsOn.rawValue]
        t.dependsOn = (try? JSONDecoder().decode([String].self, from: Data(deps.utf8))) ?? []
        let ctx: String = row[Columns.context.rawValue]
        t.context = ctx == "{}" ? [:] : ((try? JSONDecoder().decode([String: JSONValue].self, from: Data(ctx.utf8))) ?? [:])
        t.updatedAt = time(row, .updatedAt) ?? t.createdAt
        t.startedAt = time(row, .startedAt)
        t.finishedAt = time(row, .finishedAt)
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
            t.startedAt?.timeIntervalSince1970, t.finishedAt?.timeIntervalSince1970,
        ]
        return StatementArguments(values)
    }
}
