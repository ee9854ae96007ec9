import ArgumentParser
import Foundation
import NightshiftCore

/// `nightshift pm status|pause|resume|land|wip`: the project manager and its merge queue.
struct PMCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pm", abstract: "Show, pause or resume the project manager (the backlog pipeline) and its merge queue.",
        subcommands: [Status.self, Pause.self, Resume.self, Land.self, WIP.self], defaultSubcommand: Status.self)

    static func printStatus(_ reply: APIClient.Reply, json: Bool) {
        if json { return printJSON(reply.body) }
        let s = reply.json?.objectValue ?? [:]
        let counts = s["items_by_state"]?.objectValue ?? [:]
        print("project manager  \(s["state"]?.stringValue ?? "?")  backlog \(s["backlog"]?.stringValue ?? "")")
        print(
            "items            "
                + ["queued", "active", "done", "blocked"].map { "\($0) \(StatusCommand.num(counts[$0]))" }.joined(separator: "  ")
        )
        if let end = s["window_ends_at"]?.stringValue { print("window ends      \(end)") }
        if let err = s["backlog_error"]?.stringValue { print("backlog error    \(err)") }
        let inFlight = s["in_flight"]?.arrayValue ?? []
        if !inFlight.isEmpty {
            print("in flight")
            let rows = inFlight.map { i -> [String] in
                let o = i.objectValue ?? [:]
                return [
                    o["key"]?.stringValue ?? "", o["phase"]?.stringValue ?? "", "iter \(StatusCommand.num(o["iteration"]))",
                    o["task_status"]?.stringValue ?? "", o["current_task_id"]?.stringValue ?? "", o["title"]?.stringValue ?? "",
                ]
            }
            print(Table.render(["ITEM", "PHASE", "ITERATION", "TASK", "TASK ID", "TITLE"], rows, flexible: ["TITLE"], indent: 2))
        }
        let blocked = s["blocked"]?.arrayValue ?? []
        if !blocked.isEmpty {
            print("blocked")
            let rows = blocked.map { b -> [String] in
                let o = b.objectValue ?? [:]
                return [o["key"]?.stringValue ?? "", o["title"]?.stringValue ?? "", o["reason"]?.stringValue ?? ""]
            }
            print(Table.render(["ITEM", "TITLE", "REASON"], rows, flexible: ["TITLE", "REASON"], indent: 2))
        }
        if let landing = s["landing"]?.objectValue { printLanding(landing) }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Items by state, what is in flight, what is blocked and why; the merge queue when landing is on.")
        @OptionGroup var client: ClientCommandOptions
        func run() async throws {
            try await runReporting {
                PMCommand.printStatus(try await client.client().call("GET", "/api/agent/pm"), json: client.json)
            }
        }
    }

    struct Pause: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop creating new work; running tasks finish.")
        @OptionGroup var client: ClientCommandOptions
        func run() async throws {
            try await runReporting {
                PMCommand.printStatus(try await client.client().call("POST", "/api/agent/pm/pause"), json: client.json)
            }
        }
    }

    struct Resume: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create work again.")
        @OptionGroup var client: ClientCommandOptions
        func run() async throws {
            try await runReporting {
                PMCommand.printStatus(try await client.client().call("POST", "/api/agent/pm/resume"), json: client.json)
            }
        }
    }
}
