import Foundation
import NightshiftCore
import NightshiftStore

/// The chat interface (Telegram): `/status`, `/tasks [status]`, `/task ID`, `/reply ID
/// DECISION` (the same gate as PATCH), `/attention`; anything else gets the help text.
public struct ChatCommands: Sendable {
    let env: ServiceEnvironment
    let attention: @Sendable () async -> [String]

    public init(env: ServiceEnvironment, attention: @escaping @Sendable () async -> [String]) {
        self.env = env
        self.attention = attention
    }

    public static let help = """
        Nightshift commands:
        /status — what is running and waiting
        /tasks [status] — recent tasks (e.g. /tasks needs_decision)
        /task ID — one task
        /reply ID DECISION — answer a task that needs a decision
        /attention — what needs a human
        """

    /// The reply to one message from `user` (recorded as who decided, e.g. `telegram:42`).
    public func handle(_ text: String, from user: String = "chat") async -> String {
        let words = text.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: " ", omittingEmptySubsequences: true)
            .map(String.init)
        guard let first = words.first else { return Self.help }
        let command = first.split(separator: "@").first.map(String.init) ?? first  // "/status@MyBot"
        do {
            switch command {
            case "/status": return try await status()
            case "/tasks": return try await tasks(words.dropFirst().first)
            case "/task":
                guard words.count == 2 else { return "usage: /task ID" }
                return try await task(words[1])
            case "/reply":
                guard words.count >= 3 else { return "usage: /reply ID DECISION" }
                return try await reply(words[1], words.dropFirst(2).joined(separator: " "), by: user)
            case "/attention":
                let items = await attention()
                return items.isEmpty
                    ? "Nothing needs attention." : "Needs attention:\n" + items.map { "• \($0)" }.joined(separator: "\n")
            default:
                return Self.help
            }
        } catch let e as StoreError {
            return "Refused: \(e.message)"
        } catch {
            return "Error: \(error)"
        }
    }

    func status() async throws -> String {
        let counts = try await env.store.countByStatus()
        let waiting = try await env.store.list(TaskQuery(statuses: [.needsDecision], limit: 5)).tasks
        var lines = [TaskStatus.allCases.map { "\($0.rawValue) \(counts[$0] ?? 0)" }.joined(separator: ", ")]
        for t in waiting { lines.append("⏸ \(t.id): \(t.decisionPrompt ?? "")") }
        return lines.joined(separator: "\n")
    }

    func tasks(_ status: String?) async throws -> String {
        var query = TaskQuery(limit: 10)
        if let status {
            guard let s = TaskStatus(rawValue: status) else {
                return "unknown status \(status); one of \(TaskStatus.allCases.map(\.rawValue).joined(separator: ", "))"
            }
            query.statuses = [s]
        }
        let page = try await env.store.list(query)
        if page.tasks.isEmpty { return "No tasks." }
        return page.tasks.map { "\($0.id) \($0.taskType) \($0.status.rawValue): \($0.direction.prefix(50))" }.joined(
            separator: "\n")
            + "\n(\(page.tasks.count) of \(page.total))"
    }

    func task(_ id: String) async throws -> String {
        guard TaskID.isValid(id) else { return "\(id) is not a task id" }
        let t = try await env.store.get(id)
        var lines = [
            "\(t.id) \(t.taskType) \(t.status.rawValue), attempt \(t.attempt)/\(t.maxAttempts)", String(t.direction.prefix(300)),
        ]
        if let p = t.decisionPrompt, t.status == .needsDecision {
            lines.append("Question: \(p)\nReply: /reply \(t.id) <decision>")
        }
        if let e = t.error { lines.append("Error: \(e)") }
        if let s = t.summary { lines.append("Summary: \(s)") }
        return lines.joined(separator: "\n")
    }

    func reply(_ id: String, _ decision: String, by user: String) async throws -> String {
        guard TaskID.isValid(id) else { return "\(id) is not a task id" }
        _ = try await env.ledger.decide(id: id, decision: decision, by: user, now: env.now())
        return "Decision recorded for \(id): \(decision). It runs again now."
    }
}
