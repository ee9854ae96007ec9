import ArgumentParser
import Foundation
import NightshiftCore

/// `nightshift issues`: the monitor's issues, open ones first, each with what to do about it.
struct IssuesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "issues", abstract: "Show the monitor's issues (open first), each with its suggested action.")
    @OptionGroup var client: ClientCommandOptions
    @Flag(name: .long, help: "Include resolved issues.") var all = false

    func run() async throws {
        try await runReporting {
            let reply = try await client.client().call("GET", "/api/agent/monitor-issues?include_resolved=\(all)")
            if client.json { return printJSON(reply.body) }
            let issues = (reply.json?.objectValue?["issues"]?.arrayValue ?? []).map { $0.objectValue ?? [:] }
            if issues.isEmpty { return print("no \(all ? "" : "open ")monitor issues") }
            var table = TextTable(
                ["ID", "SEVERITY", "CONDITION", "SUBJECT", "STATE", "MESSAGE"], flexible: ["SUBJECT", "MESSAGE"])
            for o in issues {
                table.append([
                    o["id"]?.stringValue ?? "", o["severity"]?.stringValue ?? "", o["condition"]?.stringValue ?? "",
                    o["subject"]?.stringValue ?? "",
                    o["resolved_at"]?.stringValue.map { "resolved \($0)" } ?? "open ×\(StatusCommand.num(o["count"]))",
                    o["message"]?.stringValue ?? "",
                ])
            }
            let width = Terminal.width
            let lines = table.lines(width: width)
            print(lines[0])
            // Each issue's suggested action goes under it: what to do is the point of the list.
            for (o, line) in zip(issues, lines.dropFirst()) {
                print(line)
                if let action = o["suggested_action"]?.stringValue, !action.isEmpty {
                    print(Table.line("→ " + action, indent: 4, width: width))
                }
            }
        }
    }
}
