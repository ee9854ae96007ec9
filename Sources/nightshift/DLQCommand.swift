import ArgumentParser
import Foundation
import NightshiftCore

/// `nightshift dlq ...`: the dead-letter queue (tasks that failed for good) from a shell, over
/// `GET /api/agent/dlq` and `POST /api/agent/dlq/{reprocess,cleanup}`.
struct DLQCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dlq", abstract: "The dead-letter queue: tasks that failed for good; stats, list, reprocess, cleanup.",
        discussion: """
            A task is a dead letter when it failed (its attempts are used up, or the failure was \
            one a retry cannot fix) and no task took it over (a review whose item went back to impl \
            is not one). Reprocessing sends it back to pending with fresh attempts, recorded as a \
            `reprocessed` event; the backlog item it blocked is active again and goes on from it.

            Exit codes: 0 = done, 1 = the daemon is down or failed, 2 = bad input (bad options, \
            or the daemon refused the request: an unknown id, a task not in the queue); nothing \
            changes on a refusal.
            """,
        subcommands: [Stats.self, List.self, Reprocess.self, Cleanup.self])

    /// Calls the daemon; a refusal of the input (a 4xx but 401/403) exits 2, other failures 1.
    static func call(
        _ client: ClientCommandOptions, _ method: String, _ path: String, body: [String: JSONValue]? = nil
    ) async throws -> Data {
        let reply = try await client.client().request(method, path, body: body)
        guard (200..<300).contains(reply.status) else {
            let p = reply.json?.objectValue
            let detail = p?["detail"]?.stringValue ?? String(decoding: reply.body.prefix(300), as: UTF8.self)
            let title = p?["title"]?.stringValue ?? "HTTP \(reply.status)"
            let refused = (400..<500).contains(reply.status) && reply.status != 401 && reply.status != 403
            throw CLIFailure(message: "\(reply.status) \(title): \(detail)", code: refused ? 2 : 1)
        }
        return reply.body
    }

    static func decode<T: Decodable>(_ type: T.Type, _ data: Data) throws -> T {
        do { return try JSONDecoder.nightshift().decode(type, from: data) } catch {
            throw CLIFailure(message: "the daemon answered with something unexpected: \(error)")
        }
    }

    /// `MM-dd HH:mm` UTC, as `tasks list` shows times.
    static func time(_ date: Date) -> String { TasksCommand.List.created(date) }

    static func entriesTable(_ entries: [DeadLetterEntry]) -> String {
        let rows = entries.map { e in
            [
                e.id, e.errorClass ?? "-", "\(e.attempt)/\(e.maxAttempts)", Cells.item(e.backlogItem),
                Cells.phase(e.phase, e.iteration, type: e.taskType.rawValue), time(e.failedAt),
                TextTable.oneLine(e.error ?? e.direction),
            ]
        }
        return Table.render(
            ["ID", "ERROR CLASS", "ATTEMPT", "ITEM", "PHASE", "FAILED", "ERROR"], rows, flexible: ["ERROR"])
    }

    struct Stats: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "How many tasks are dead letters, their top fail reasons (by error class), by phase and by item.")
        @OptionGroup var client: ClientCommandOptions

        func run() async throws {
            try await runReporting {
                let data = try await DLQCommand.call(client, "GET", "/api/agent/dlq?limit=1")
                let stats = try DLQCommand.decode(DeadLetterPage.self, data).stats
                if client.json { return printJSON(try JSONEncoder.nightshift().encode(stats)) }
                guard stats.total > 0 else { return print("dead-letter queue: empty") }
                var out = ["dead-letter queue: \(stats.total) task(s)"]
                if let oldest = stats.oldestFailedAt, let newest = stats.newestFailedAt {
                    out[0] += ", failed \(Timestamp.format(oldest)) to \(Timestamp.format(newest))"
                }
                func section(_ title: String, _ keyTitle: String, _ groups: [DeadLetterGroup], none: String) {
                    out.append("")
                    out.append(title)
                    let rows = groups.map {
                        ["\($0.count)", $0.key ?? none, $0.lastTaskID, TextTable.oneLine($0.lastError ?? "")]
                    }
                    out.append(
                        Table.render(["COUNT", keyTitle, "LAST TASK", "LAST ERROR"], rows, flexible: ["LAST ERROR"], indent: 2))
                }
                section("top fail reasons (by error class):", "ERROR CLASS", stats.byErrorClass, none: "(none)")
                section("by phase:", "PHASE", stats.byPhase, none: "(no phase)")
                section("by item:", "ITEM", stats.byItem, none: "(no item)")
                section("by run:", "RUN", stats.byRun ?? [], none: "(before runs)")
                print(out.joined(separator: "\n"))
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List dead letters, newest failure first.")
        @OptionGroup var client: ClientCommandOptions
        @Option(help: "Only this error class (e.g. exit_code, timeout).") var errorClass: String?
        @Option(help: "At most this many (1-100).") var limit = 20
        @Option(help: "Skip this many.") var offset = 0

        func validate() throws {
            guard (1...100).contains(limit) else { throw ValidationError("--limit must be from 1 to 100") }
            guard offset >= 0 else { throw ValidationError("--offset must be 0 or more") }
            if let errorClass, !DeadLetter.isErrorClass(errorClass) {
                throw ValidationError("--error-class \(DeadLetter.errorClassRule)")
            }
        }

        func run() async throws {
            try await runReporting {
                var q = ["limit=\(limit)", "offset=\(offset)"]
                if let errorClass { q.append("error_class=\(errorClass)") }
                let data = try await DLQCommand.call(client, "GET", "/api/agent/dlq?" + q.joined(separator: "&"))
                if client.json { return printJSON(data) }
                let page = try DLQCommand.decode(DeadLetterPage.self, data)
                print(DLQCommand.entriesTable(page.entries))
                print("\(page.entries.count) of \(page.total)")
            }
        }
    }

    struct Reprocess: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Send dead letters back to pending with fresh attempts (ids, --all or --error-class).",
            discussion: """
                The blocked backlog item of a pipeline task is active again and goes on from it. \
                One transaction: an id that is unknown or not in the queue refuses the whole request \
                (exit 2) and nothing changes. --dry-run prints how many and which, and changes nothing.
                """)
        @OptionGroup var client: ClientCommandOptions
        @Argument(help: "Task ids of dead letters.") var ids: [String] = []
        @Flag(help: "Every dead letter (those whose item has moved on are skipped, with the reason).") var all = false
        @Option(help: "Every dead letter of this error class.") var errorClass: String?
        @Flag(help: "Print what would be reprocessed; change nothing.") var dryRun = false
        @Option(help: "Why, recorded in each task's reprocessed event.") var reason: String?

        func validate() throws {
            let named = (ids.isEmpty ? 0 : 1) + (all ? 1 : 0) + (errorClass == nil ? 0 : 1)
            guard named == 1 else {
                throw ValidationError("name the dead letters: task ids, --all or --error-class (one of them)")
            }
            if ids.count > DeadLetter.maxIDs { throw ValidationError("at most \(DeadLetter.maxIDs) ids at once") }
            for id in ids where !TaskID.isValid(id) {
                throw ValidationError("\"\(id)\" is not a task id (they look like task_0123456789abcdef)")
            }
            if let errorClass, !DeadLetter.isErrorClass(errorClass) {
                throw ValidationError("--error-class \(DeadLetter.errorClassRule)")
            }
            if let reason, reason.unicodeScalars.count > DeadLetter.maxReason {
                throw ValidationError("--reason is longer than \(DeadLetter.maxReason) characters")
            }
        }

        func run() async throws {
            try await runReporting {
                var body: [String: JSONValue] = ["dry_run": .bool(dryRun)]
                if !ids.isEmpty { body["ids"] = .array(ids.map(JSONValue.string)) }
                if all { body["all"] = .bool(true) }
                if let errorClass { body["error_class"] = .string(errorClass) }
                if let reason { body["reason"] = .string(reason) }
                let data = try await DLQCommand.call(client, "POST", "/api/agent/dlq/reprocess", body: body)
                if client.json { return printJSON(data) }
                let r = try DLQCommand.decode(DeadLetterReprocess.self, data)
                var out: [String] = []
                if r.dryRun {
                    out.append("dry run: would reprocess \(r.tasks.count) task(s); nothing changed")
                } else {
                    out.append("reprocessed \(r.tasks.count) task(s): pending again with fresh attempts")
                }
                if !r.tasks.isEmpty { out.append(DLQCommand.entriesTable(r.tasks)) }
                if !r.resumedItems.isEmpty {
                    out.append(
                        "\(r.dryRun ? "items that would resume" : "resumed items"): \(r.resumedItems.joined(separator: ", "))")
                }
                for s in r.skipped { out.append("skipped \(s.id): \(s.reason)") }
                print(out.joined(separator: "\n"))
            }
        }
    }

    struct Cleanup: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete dead letters that failed longer ago than --older-than, with their events, logs and result files.",
            discussion: "A dead letter that an open task depends on is kept. --dry-run prints what would go and deletes nothing.")
        @OptionGroup var client: ClientCommandOptions
        @Option(help: "Age, e.g. 30d, 12h, 90m (above 0, at most ten years).") var olderThan: String
        @Flag(help: "Print what would be deleted; delete nothing.") var dryRun = false

        func validate() throws {
            guard DeadLetter.parseAge(olderThan) != nil else { throw ValidationError("--older-than \(DeadLetter.ageRule)") }
        }

        func run() async throws {
            try await runReporting {
                let body: [String: JSONValue] = ["older_than": .string(olderThan), "dry_run": .bool(dryRun)]
                let data = try await DLQCommand.call(client, "POST", "/api/agent/dlq/cleanup", body: body)
                if client.json { return printJSON(data) }
                let r = try DLQCommand.decode(DeadLetterCleanup.self, data)
                let before = Timestamp.format(r.cutoff)
                var out = [
                    r.dryRun
                        ? "dry run: would delete \(r.deleted.count) dead-letter task(s) that failed before \(before); nothing changed"
                        : "deleted \(r.deleted.count) dead-letter task(s) that failed before \(before)"
                ]
                out += r.deleted.map { "  \($0)" }
                for k in r.kept { out.append("kept \(k.id): \(k.reason)") }
                print(out.joined(separator: "\n"))
            }
        }
    }
}
