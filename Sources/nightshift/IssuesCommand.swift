import ArgumentParser
import Foundation
import NightshiftCore
import NightshiftRuntime

/// `nightshift issues`: the monitor's issues, open ones first.
struct IssuesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "issues", abstract: "Show the monitor's issues (open first).")
    @OptionGroup var client: ClientOptions
    @Flag(name: .long, help: "Include resolved issues.") var all = false

    func run() async throws {
        try await runReporting {
            let reply = try await client.client().call("GET", "/api/agent/monitor-issues?include_resolved=\(all)")
            if client.json { return printJSON(reply.body) }
            let issues = reply.json?.objectValue?["issues"]?.arrayValue ?? []
            if issues.isEmpty { return print("no \(all ? "" : "open ")monitor issues") }
            let rows = issues.map { i -> [String] in
                let o = i.objectValue ?? [:]
                return [o["id"]?.stringValue ?? "", o["severity"]?.stringValue ?? "", o["condition"]?.stringValue ?? "",
                        o["subject"]?.stringValue ?? "", o["resolved_at"]?.stringValue.map { "resolved \($0)" } ?? "open ×\(StatusCommand.num(o["count"]))",
                        String((o["message"]?.stringValue ?? "").prefix(70))]
            }
            print(Table.render(["ID", "SEVERITY", "CONDITION", "SUBJECT", "STATE", "MESSAGE"], rows))
        }
    }
}

/// `nightshift fatal [--clear]`: unrecoverable problems (fatal_issues.json), which a human must
/// fix. Works with the daemon down: it reads the state dir's file directly.
struct FatalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fatal", abstract: "Show (or clear, once fixed) the fatal issues in the state dir's fatal_issues.json.")
    @Option(name: .long, help: "Config file (for state_dir).") var config: String?
    @Option(name: .long, help: "State dir (default: the config's state_dir).") var stateDir: String?
    @Flag(name: .long, help: "Remove every fatal issue after you fixed its cause.") var clear = false
    @Flag(name: .long, help: "Print JSON.") var json = false

    func run() async throws {
        try await runReporting {
            let dir: String
            if let stateDir {
                dir = stateDir
            } else {
                do { dir = try ConfigLoader.load(path: config).stateDir } catch { throw CLIFailure(message: "\(error)", code: 2) }
            }
            let path = StatePaths(root: dir).fatalIssues
            if clear {
                let n = try FatalIssues.clear(path: path)
                return print("cleared \(n) fatal issue(s) from \(path)")
            }
            let issues = FatalIssues.current(path: path)
            if json { return printJSON(try JSONEncoder.nightshift().encode(["issues": issues])) }
            if issues.isEmpty { return print("no fatal issues (\(path))") }
            for i in issues {
                print("\(Timestamp.format(i.at))  \(i.condition)  (\(i.source), seen \(i.count)×, last \(Timestamp.format(i.lastSeen)))")
                print("  \(i.reason)")
                if !i.detail.isEmpty { print("  → \(i.detail)") }
            }
            throw ExitCode(1)
        }
    }
}
