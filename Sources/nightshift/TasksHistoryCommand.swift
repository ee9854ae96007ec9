import ArgumentParser
import Foundation
import NightshiftCore

extension TasksCommand {
    /// `nightshift tasks history ID`: the task's history from `GET /api/agent/tasks/{id}/events`.
    struct History: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Show a task's history: created, claimed, started, finished (and why), decisions, cancels, retries, rescues.")
        @OptionGroup var client: ClientCommandOptions
        @Argument(help: "Task id.") var id: String

        func run() async throws {
            try await runReporting {
                let reply = try await client.client().call("GET", "/api/agent/tasks/\(try TasksCommand.validID(id))/events")
                if client.json { return printJSON(reply.body) }
                let history: TaskHistory
                do { history = try JSONDecoder.nightshift().decode(TaskHistory.self, from: reply.body) } catch {
                    throw CLIFailure(message: "the daemon answered with something that is not a task history: \(error)")
                }
                let rows = history.events.map { e -> [String] in
                    let change = "\(e.fromStatus.map { "\($0.rawValue) → " } ?? "")\(e.toStatus.rawValue)"
                    return ["\(e.id)", Timestamp.format(e.at), e.kind.rawValue, change, "\(e.attempt)", Self.describe(e.detail)]
                }
                print(Table.render(["EVENT", "AT", "KIND", "STATUS", "ATTEMPT", "DETAIL"], rows, flexible: ["DETAIL"]))
            }
        }

        /// The detail as `key=value` pairs, the why first.
        static func describe(_ detail: [String: JSONValue]) -> String {
            let order = [
                "outcome", "error_class", "contract", "exit_code", "error", "decision", "reason", "by", "pid", "phase",
                "parent_id", "not_before", "contract_missing",
            ]
            let keys = detail.keys.sorted { (order.firstIndex(of: $0) ?? 99, $0) < (order.firstIndex(of: $1) ?? 99, $1) }
            return keys.map { key -> String in
                let v = detail[key]!
                // A list (an unmet contract's missing parts) reads as its items, not as JSON.
                let list = v.arrayValue.map { $0.map { $0.stringValue ?? $0.jsonText }.joined(separator: "; ") }
                let text =
                    v.stringValue ?? v.doubleValue.map { $0.rounded() == $0 ? "\(Int($0))" : "\($0)" } ?? list ?? v.jsonText
                return "\(key)=\(text)"
            }.joined(separator: " ")
        }
    }
}
