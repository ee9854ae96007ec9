import ArgumentParser
import Foundation
import NightshiftCore

/// `nightshift nodes`: the daemons sharing the store, the leader, and what each runs.
struct NodesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nodes",
        abstract: "Show the daemons (nodes) that share the store: which is alive, which leads, what each runs.")
    @OptionGroup var client: ClientCommandOptions

    func run() async throws {
        try await runReporting {
            let reply = try await client.client().call("GET", "/api/agent/nodes")
            if client.json { return printJSON(reply.body) }
            let list = try JSONDecoder.nightshift().decode(NodeList.self, from: reply.body)
            print(Self.render(list, now: Date(), width: Terminal.width).joined(separator: "\n"))
        }
    }

    static func render(_ list: NodeList, now: Date, width: Int) -> [String] {
        var out = [
            "store: \(list.shared ? "shared by nodes (PostgreSQL)" : "this node's alone (SQLite)")"
                + " · leader: \(list.leader ?? "none") · answered by: \(list.selfID)"
        ]
        guard !list.nodes.isEmpty else { return out + ["no node has written a heartbeat"] }
        var table = TextTable(["NODE", "STATE", "PID", "LAST SEEN", "RUNNING", "URL"], flexible: ["URL"])
        for n in list.nodes {
            let state = n.leader ? "leader" : n.alive ? "alive" : n.stoppedAt != nil ? "stopped" : "dead"
            let seen = "\(Int(max(0, now.timeIntervalSince(n.lastSeen)).rounded()))s ago"
            let running = n.running.isEmpty ? "0" : "\(n.running.count): \(n.running.prefix(3).joined(separator: " "))"
            table.append([n.id + (n.id == list.selfID ? " *" : ""), state, "\(n.pid)", seen, running, n.url ?? ""])
        }
        return out + table.lines(width: width)
    }
}
