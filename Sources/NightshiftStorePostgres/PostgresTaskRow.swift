import Foundation
import NightshiftCore
import NightshiftStore
import PostgresNIO

/// The `tasks` row: the select list every read and `RETURNING` uses (JSON columns as text) and
/// the decoding of it by position, and the binds of an insert. Times are Unix seconds.
enum PostgresTaskRow {
    /// Columns in the order `decode` reads them.
    static let names = [
        "id", "task_type", "direction", "status", "priority", "not_before", "attempt", "max_attempts", "executor", "command",
        "claimed_by", "lease_expires_at", "heartbeat_at", "pid", "pgid", "decision_prompt", "decision", "decided_at", "exit_code",
        "error", "error_class", "output_tail", "log_path", "summary", "verdict", "feedback", "cost_usd", "tokens_in",
        "tokens_out", "backlog_item", "phase", "iteration", "parent_id", "depends_on", "context", "created_at", "updated_at",
        "started_at", "finished_at", "run_id", "turns", "tokens_cache_read", "tokens_cache_write", "last_tool",
        "last_event_at", "cost_source", "session_id", "model", "budget_usd",
    ]

    /// The select list, each column qualified by `alias` when given (for joins and `UPDATE ... FROM`).
    static func columns(_ alias: String? = nil) -> String {
        let p = alias.map { "\($0)." } ?? ""
        return names.map { n in n == "depends_on" || n == "context" ? "\(p)\(n)::text" : "\(p)\(n)" }.joined(separator: ", ")
    }

    static let all = columns()

    static let insertSQL: String = {
        let marks = names.enumerated().map { i, n in n == "depends_on" || n == "context" ? "$\(i + 1)::jsonb" : "$\(i + 1)" }
        return "INSERT INTO tasks (\(names.joined(separator: ", "))) VALUES (\(marks.joined(separator: ", ")))"
    }()

    static func decode(_ row: PostgresRow) throws -> AgentTask {
        let r = row.makeRandomAccess()
        guard r.count >= names.count else {
            throw StoreError(.unavailable, "a tasks row has \(r.count) columns, expected \(names.count)")
        }
        func text(_ i: Int) throws -> String? { try r[i].decode(String?.self) }
        func int(_ i: Int) throws -> Int? { try r[i].decode(Int?.self) }
        func int32(_ i: Int) throws -> Int32? { try int(i).map { Int32(truncatingIfNeeded: $0) } }
        func double(_ i: Int) throws -> Double? { try r[i].decode(Double?.self) }
        func time(_ i: Int) throws -> Date? { try double(i).map { Date(timeIntervalSince1970: $0) } }
        let statusText = try r[3].decode(String.self)
        guard let status = TaskStatus(rawValue: statusText) else {
            throw StoreError(.unavailable, "row has unknown status \(statusText)")
        }
        var t = AgentTask(
            id: try r[0].decode(String.self), taskType: TaskType(try r[1].decode(String.self)),
            direction: try r[2].decode(String.self), status: status, priority: try r[4].decode(Int.self),
            maxAttempts: try r[7].decode(Int.self), now: try time(35) ?? Date(timeIntervalSince1970: 0))
        t.notBefore = try time(5)
        t.attempt = try r[6].decode(Int.self)
        t.executor = try text(8)
        t.command = try text(9)
        t.claimedBy = try text(10)
        t.leaseExpiresAt = try time(11)
        t.heartbeatAt = try time(12)
        t.pid = try int32(13)
        t.pgid = try int32(14)
        t.decisionPrompt = try text(15)
        t.decision = try text(16)
        t.decidedAt = try time(17)
        t.exitCode = try int32(18)
        t.error = try text(19)
        t.errorClass = try text(20)
        t.outputTail = try text(21)
        t.logPath = try text(22)
        t.summary = try text(23)
        t.verdict = try text(24)
        t.feedback = try text(25)
        t.costUSD = try double(26)
        t.tokensIn = try int(27)
        t.tokensOut = try int(28)
        t.backlogItem = try text(29)
        t.phase = try text(30)
        t.iteration = try int(31)
        t.parentID = try text(32)
        let deps = try r[33].decode(String.self)
        t.dependsOn = deps == "[]" ? [] : (JSONValue.parse(deps)?.arrayValue?.compactMap(\.stringValue) ?? [])
        let ctx = try r[34].decode(String.self)
        t.context = ctx == "{}" ? [:] : (JSONValue.parse(ctx)?.objectValue ?? [:])
        t.updatedAt = try time(36) ?? t.createdAt
        t.startedAt = try time(37)
        t.finishedAt = try time(38)
        t.runID = try text(39)
        t.turns = try int(40)
        t.tokensCacheRead = try int(41)
        t.tokensCacheWrite = try int(42)
        t.lastTool = try text(43)
        t.lastEventAt = try time(44)
        t.costSource = try text(45)
        t.sessionID = try text(46)
        t.model = try text(47)
        t.budgetUSD = try double(48)
        return t
    }

    /// The insert of `t`, every column bound.
    static func insert(_ t: AgentTask) throws -> PostgresQuery {
        let deps = t.dependsOn.isEmpty ? "[]" : String(decoding: try JSONEncoder().encode(t.dependsOn), as: UTF8.self)
        let ctx = t.context.isEmpty ? "{}" : String(decoding: try JSONEncoder.nightshift().encode(t.context), as: UTF8.self)
        var b = PostgresBindings(capacity: names.count)
        b.append(t.id)
        b.append(t.taskType.rawValue)
        b.append(t.direction)
        b.append(t.status.rawValue)
        b.append(t.priority)
        b.append(t.notBefore?.timeIntervalSince1970)
        b.append(t.attempt)
        b.append(t.maxAttempts)
        b.append(t.executor)
        b.append(t.command)
        b.append(t.claimedBy)
        b.append(t.leaseExpiresAt?.timeIntervalSince1970)
        b.append(t.heartbeatAt?.timeIntervalSince1970)
        b.append(t.pid.map(Int.init))
        b.append(t.pgid.map(Int.init))
        b.append(t.decisionPrompt)
        b.append(t.decision)
        b.append(t.decidedAt?.timeIntervalSince1970)
        b.append(t.exitCode.map(Int.init))
        b.append(t.error)
        b.append(t.errorClass)
        b.append(t.outputTail)
        b.append(t.logPath)
        b.append(t.summary)
        b.append(t.verdict)
        b.append(t.feedback)
        b.append(t.costUSD)
        b.append(t.tokensIn)
        b.append(t.tokensOut)
        b.append(t.backlogItem)
        b.append(t.phase)
        b.append(t.iteration)
        b.append(t.parentID)
        b.append(deps)
        b.append(ctx)
        b.append(t.createdAt.timeIntervalSince1970)
        b.append(t.updatedAt.timeIntervalSince1970)
        b.append(t.startedAt?.timeIntervalSince1970)
        b.append(t.finishedAt?.timeIntervalSince1970)
        b.append(t.runID)
        b.append(t.turns)
        b.append(t.tokensCacheRead)
        b.append(t.tokensCacheWrite)
        b.append(t.lastTool)
        b.append(t.lastEventAt?.timeIntervalSince1970)
        b.append(t.costSource)
        b.append(t.sessionID)
        b.append(t.model)
        b.append(t.budgetUSD)
        return PostgresQuery(unsafeSQL: insertSQL, binds: b)
    }
}
