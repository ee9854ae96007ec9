import ArgumentParser
import Foundation
import NightshiftCore

/// `nightshift tasks ...`: the task API from a shell.
struct TasksCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tasks", abstract: "List, show, create, decide, cancel and retry tasks; read their logs.",
        subcommands: [List.self, Show.self, History.self, Create.self, Decide.self, Cancel.self, Retry.self, Log.self])

    static func decodeTask(_ data: Data) throws -> AgentTask {
        do { return try JSONDecoder.nightshift().decode(AgentTask.self, from: data) } catch {
            throw CLIFailure(message: "the daemon answered with something that is not a task: \(error)")
        }
    }

    static func show(_ t: AgentTask) -> String {
        var lines: [(String, String)] = [
            ("id", t.id), ("type", t.taskType.rawValue), ("status", t.status.rawValue), ("priority", "\(t.priority)"),
            ("attempt", "\(t.attempt)/\(t.maxAttempts)"), ("created", Timestamp.format(t.createdAt)),
        ]
        if let v = t.backlogItem { lines.append(("backlog item", v)) }
        if let v = t.phase { lines.append(("phase", v + (t.iteration.map { " (iteration \($0))" } ?? ""))) }
        if let v = t.startedAt { lines.append(("started", Timestamp.format(v))) }
        if let v = t.finishedAt { lines.append(("finished", Timestamp.format(v))) }
        if let v = t.notBefore { lines.append(("not before", Timestamp.format(v))) }
        if let v = t.decisionPrompt { lines.append(("decision prompt", v)) }
        if let v = t.decision { lines.append(("decision", v)) }
        if let v = t.exitCode { lines.append(("exit code", "\(v)")) }
        if let v = t.errorClass { lines.append(("error class", v)) }
        if let v = t.error { lines.append(("error", v)) }
        if let v = t.summary { lines.append(("summary", v)) }
        if let v = t.costUSD { lines.append(("cost", String(format: "$%.4f", v))) }
        if let v = t.logPath { lines.append(("log", v)) }
        lines.append(("direction", t.direction))
        return lines.map { "\($0.0.padding(toLength: 16, withPad: " ", startingAt: 0)) \($0.1)" }.joined(separator: "\n")
    }

    /// PATCHes one change onto a task and prints `message(task)` (or the JSON).
    static func patch(
        _ client: ClientCommandOptions, _ id: String, _ body: [String: JSONValue], _ message: (AgentTask) -> String
    ) async throws {
        try await runReporting {
            let reply = try await client.client().call("PATCH", "/api/agent/tasks/\(try validID(id))", body: body)
            if client.json { return printJSON(reply.body) }
            print(message(try decodeTask(reply.body)))
        }
    }

    static func validID(_ id: String) throws -> String {
        guard TaskID.isValid(id) else {
            throw CLIFailure(message: "\"\(id)\" is not a task id (they look like task_0123456789abcdef)", code: 2)
        }
        return id
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List tasks, newest first.")
        @OptionGroup var client: ClientCommandOptions
        @Option(help: "Only these statuses (comma-separated).") var status: String?
        @Option(help: "Only this task type.") var type: String?
        @Option(help: "At most this many (1-100).") var limit = 20
        @Option(help: "Skip this many (slow when deep: prefer --after).") var offset = 0
        @Option(help: "The page after this cursor (the one the list prints after \"more:\").") var after: String?

        /// The fields the table shows; `--json` gets whole tasks.
        static let tableFields = "id,status,attempt,max_attempts,backlog_item,phase,iteration,task_type,created_at,direction"

        func run() async throws {
            try await runReporting {
                var q = ["limit=\(limit)", "offset=\(offset)"]
                if let status { q.append("status=\(status)") }
                if let type { q.append("task_type=\(type)") }
                if let after { q.append("after=\(after)") }
                if !client.json { q.append("fields=\(Self.tableFields)") }
                let reply = try await client.client().call("GET", "/api/agent/tasks?" + q.joined(separator: "&"))
                if client.json { return printJSON(reply.body) }
                struct Row: Decodable {
                    var id: String
                    var status: String
                    var attempt: Int
                    var maxAttempts: Int
                    var backlogItem: String?
                    var phase: String?
                    var iteration: Int?
                    var taskType: String
                    var createdAt: Date
                    var direction: String
                    enum CodingKeys: String, CodingKey {
                        case id, status, attempt, phase, iteration, direction
                        case maxAttempts = "max_attempts"
                        case backlogItem = "backlog_item"
                        case taskType = "task_type"
                        case createdAt = "created_at"
                    }
                }
                struct Page: Decodable {
                    var tasks: [Row]
                    var total: Int
                    var next: String?
                }
                let page = try JSONDecoder.nightshift().decode(Page.self, from: reply.body)
                let rows = page.tasks.map { t in
                    [
                        t.id, t.status, "\(t.attempt)/\(t.maxAttempts)", Cells.item(t.backlogItem),
                        Cells.phase(t.phase, t.iteration, type: t.taskType), Self.created(t.createdAt), t.direction,
                    ]
                }
                print(
                    Table.render(
                        ["ID", "STATUS", "ATTEMPT", "ITEM", "PHASE", "CREATED", "DIRECTION"], rows, flexible: ["DIRECTION"]))
                print("\(page.tasks.count) of \(page.total)")
                if let next = page.next { print("more: nightshift tasks list --after \(next)") }
            }
        }

        /// `MM-dd HH:mm` UTC: the date to the minute in 11 columns, leaving room for the direction
        /// (`--json` has the full timestamp).
        static func created(_ date: Date) -> String {
            let full = Timestamp.format(date)  // 2026-01-31T14:05:09.123Z
            guard full.count >= 16 else { return full }
            let start = full.index(full.startIndex, offsetBy: 5)
            return full[start..<full.index(full.startIndex, offsetBy: 16)].replacingOccurrences(of: "T", with: " ")
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one task.")
        @OptionGroup var client: ClientCommandOptions
        @Argument(help: "Task id.") var id: String

        func run() async throws {
            try await runReporting {
                let reply = try await client.client().call("GET", "/api/agent/tasks/\(try TasksCommand.validID(id))")
                if client.json { return printJSON(reply.body) }
                print(TasksCommand.show(try TasksCommand.decodeTask(reply.body)))
            }
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a task.")
        @OptionGroup var client: ClientCommandOptions
        @Option(help: "Task type (spec, impl, test, review, heal, or one from task_types).") var type: String
        @Option(help: "Higher runs first.") var priority: Int?
        @Option(help: "Attempts before the task fails for good.") var maxAttempts: Int?
        @Option(help: "Executor name from runner.executors.") var executor: String?
        @Argument(help: "What the agent should do.") var direction: String

        func run() async throws {
            try await runReporting {
                var body: [String: JSONValue] = ["direction": .string(direction), "task_type": .string(type)]
                if let priority { body["priority"] = .number(Double(priority)) }
                if let maxAttempts { body["max_attempts"] = .number(Double(maxAttempts)) }
                if let executor { body["executor"] = .string(executor) }
                let reply = try await client.client().call("POST", "/api/agent/tasks", body: body)
                if client.json { return printJSON(reply.body) }
                let t = try TasksCommand.decodeTask(reply.body)
                print("created \(t.id) (\(t.taskType), \(t.status.rawValue))")
            }
        }
    }

    struct Decide: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Answer a task that needs a decision; it runs again at once.")
        @OptionGroup var client: ClientCommandOptions
        @Argument(help: "Task id.") var id: String
        @Argument(help: "The decision, e.g. yes.") var decision: String

        func run() async throws {
            try await TasksCommand.patch(client, id, ["decision": .string(decision)]) {
                "\($0.id): decision recorded; \($0.status.rawValue)"
            }
        }
    }

    struct Cancel: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Cancel a task; a running agent's process group is torn down.")
        @OptionGroup var client: ClientCommandOptions
        @Argument(help: "Task id.") var id: String

        func run() async throws {
            try await TasksCommand.patch(client, id, ["status": .string("cancelled")]) { "\($0.id): cancelled" }
        }
    }

    struct Retry: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Retry a failed task with fresh attempts.")
        @OptionGroup var client: ClientCommandOptions
        @Argument(help: "Task id.") var id: String

        func run() async throws {
            try await TasksCommand.patch(client, id, ["status": .string("pending")]) { "\($0.id): pending again" }
        }
    }

    struct Log: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a task's log (redacted); -f follows it until the task ends.")
        @OptionGroup var client: ClientCommandOptions
        @Argument(help: "Task id.") var id: String
        @Option(help: "Lines from the end (1-10000).") var tail = 200
        @Flag(name: .shortAndLong, help: "Follow: keep printing new lines until the task is no longer running.") var follow =
            false

        func run() async throws {
            try await runReporting {
                let api = try client.client()
                let id = try TasksCommand.validID(id)
                var printed = try await api.call("GET", "/api/agent/tasks/\(id)/log?tail=\(tail)").body
                FileHandle.standardOutput.write(printed)
                guard follow else { return }
                // Follow by polling the tail: simple, works through any proxy, ends with the task.
                while true {
                    try await Task.sleep(for: .milliseconds(500))
                    let latest = try await api.call("GET", "/api/agent/tasks/\(id)/log?tail=10000").body
                    if latest != printed {
                        FileHandle.standardOutput.write(Self.newLines(old: printed, new: latest))
                        printed = latest
                    }
                    let t = try TasksCommand.decodeTask(try await api.call("GET", "/api/agent/tasks/\(id)").body)
                    if t.status != .running && t.status != .pending { break }
                }
            }
        }

        /// The part of `new` after the longest suffix of `old` it starts with.
        static func newLines(old: Data, new: Data) -> Data {
            guard !old.isEmpty else { return new }
            if new.starts(with: old) { return new.dropFirst(old.count) }
            // The window moved: find where the old tail's last line ends in the new text.
            let lastLine = old.split(separator: 0x0A).last.map { Data($0) + Data([0x0A]) } ?? Data()
            if let r = new.range(of: lastLine, options: .backwards) { return new[r.upperBound...] }
            return new
        }
    }
}
