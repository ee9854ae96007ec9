import ArgumentParser
import Foundation
import NightshiftCore

extension PMCommand {
    /// The merge queue's lines of `nightshift pm`: base branch, queue order, last landed commit,
    /// conflicts a dry-run merge sees coming.
    static func printLanding(_ landing: [String: JSONValue]) {
        let base = landing["base_branch"]?.stringValue ?? "?"
        print("landing          \(landing["mode"]?.stringValue ?? "?") onto \(base)")
        if let last = landing["last_landed"]?.objectValue {
            let range = "\(last["from"]?.stringValue?.prefix(12) ?? "")..\(last["to"]?.stringValue?.prefix(12) ?? "")"
            print("last landed      item \(last["key"]?.stringValue ?? "") \(range)  \(last["title"]?.stringValue ?? "")")
        }
        let queue = landing["queue"]?.arrayValue ?? []
        if !queue.isEmpty {
            print("merge queue (landing order)")
            let rows = queue.enumerated().map { n, e -> [String] in
                let o = e.objectValue ?? [:]
                let ahead = o["merge_conflicts"]?.arrayValue?.compactMap(\.stringValue) ?? []
                let detail = o["detail"]?.stringValue?.split(separator: "\n").first.map(String.init) ?? ""
                return [
                    "\(n + 1)", o["key"]?.stringValue ?? "", o["state"]?.stringValue ?? "",
                    StatusCommand.num(o["attempts"]), ahead.isEmpty ? "" : ahead.joined(separator: ","), detail,
                ]
            }
            print(Table.render(["#", "ITEM", "STATE", "MERGES", "CONFLICTS", "DETAIL"], rows, flexible: ["DETAIL"], indent: 2))
        }
        let ahead = landing["conflicts_ahead"]?.arrayValue ?? []
        if !ahead.isEmpty {
            print("conflicts ahead (dry-run merge into \(base))")
            let rows = ahead.map { a -> [String] in
                let o = a.objectValue ?? [:]
                return [
                    o["key"]?.stringValue ?? "", (o["files"]?.arrayValue ?? []).compactMap(\.stringValue).joined(separator: ", "),
                ]
            }
            print(Table.render(["ITEM", "FILES"], rows, flexible: ["FILES"], indent: 2))
        }
    }

    struct Land: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Answer for an item waiting in the merge queue: retry (after fixing its branch, or not) or skip.")
        @Argument(help: "The item's key (as `nightshift pm` shows it).") var item: String
        @Argument(help: "retry or skip.") var decision: String
        @OptionGroup var client: ClientCommandOptions

        func validate() throws {
            guard LandDecision(rawValue: decision) != nil else {
                throw ValidationError("the decision must be retry or skip, not \"\(decision)\"")
            }
        }

        func run() async throws {
            try await runReporting {
                let path =
                    "/api/agent/pm/items/\(item.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(["/"])) ?? item)/land"
                let reply = try await client.client().call("POST", path, body: ["decision": .string(decision)])
                if client.json { return printJSON(reply.body) }
                let o = reply.json?.objectValue ?? [:]
                print("item \(o["key"]?.stringValue ?? item): \(o["land_state"]?.stringValue ?? "?") in the merge queue")
            }
        }
    }

    struct WIP: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "wip",
            abstract: "List the WIP refs (refs/nightshift/wip/<slug>/<stamp>) that saved uncommitted work, with their items.",
            discussion: "Read one with: git show <ref> (or git diff <ref>^ <ref>) in runner.workspace.")
        @OptionGroup var client: ClientCommandOptions
        func run() async throws {
            try await runReporting {
                let reply = try await client.client().call("GET", "/api/agent/pm/wip")
                if client.json { return printJSON(reply.body) }
                let refs = reply.json?.objectValue?["wip"]?.arrayValue ?? []
                if refs.isEmpty { return print("no WIP refs") }
                let rows = refs.map { r -> [String] in
                    let o = r.objectValue ?? [:]
                    return [
                        o["item"]?.stringValue ?? "-", o["ref"]?.stringValue ?? "",
                        String(o["commit"]?.stringValue?.prefix(12) ?? ""),
                        o["created_at"]?.stringValue ?? "", o["subject"]?.stringValue ?? "",
                    ]
                }
                print(Table.render(["ITEM", "REF", "COMMIT", "CREATED", "SUBJECT"], rows, flexible: ["SUBJECT"]))
            }
        }
    }
}
