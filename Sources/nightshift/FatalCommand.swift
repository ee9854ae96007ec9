import ArgumentParser
import Foundation
import NightshiftCore
import NightshiftRuntime

/// `nightshift fatal [--clear]`: unrecoverable problems (fatal_issues.json), which a human must
/// fix. Asks the daemon when one is named (`--url`, `NIGHTSHIFT_URL`) or announced in the state
/// dir's daemon.json; otherwise reads the file itself, so it works with the daemon down.
struct FatalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fatal", abstract: "Show (or clear, once fixed) the fatal issues: problems only a human can fix.",
        discussion: """
            Reads GET /api/agent/fatal-issues of the daemon named by --url or $NIGHTSHIFT_URL, or of \
            the running daemon the state dir's daemon.json announces; without one it reads the state \
            dir's fatal_issues.json directly. A file that cannot be read is reported as the fatal issue \
            state_file_unreadable, never as no issues. --clear always edits the file. Exit code 0 when \
            there are none, 1 when there are (or the daemon cannot be reached), 2 on bad usage.
            """)
    @OptionGroup var client: ClientCommandOptions
    @Flag(name: .long, help: "Remove every fatal issue from the state dir's file after you fixed its cause.") var clear = false

    /// Output tail lines shown per issue; `--json` has all of them.
    static let tailLines = 20

    func run() async throws {
        try await runReporting {
            if clear {
                let path = StatePaths(root: try client.resolvedStateDir()).fatalIssues
                let n = try FatalIssues.clear(path: path)
                return print("cleared \(n) fatal issue(s) from \(path)")
            }
            let location = try client.locate()
            let issues: [FatalIssue]
            let source: String
            if location.isKnown {
                let reply = try await APIClient(base: location.base, token: location.token).call("GET", "/api/agent/fatal-issues")
                if client.json { return printJSON(reply.body) }
                issues = try Self.decode(reply.body)
                source = location.base
            } else {
                let path = StatePaths(root: try client.resolvedStateDir()).fatalIssues
                issues = FatalIssues.current(path: path)
                if client.json { return printJSON(try JSONEncoder.nightshift().encode(["issues": issues])) }
                source = path
            }
            if issues.isEmpty { return print("no fatal issues (\(source))") }
            print(issues.map(Self.describe).joined(separator: "\n\n"))
            throw ExitCode(1)
        }
    }

    static func decode(_ body: Data) throws -> [FatalIssue] {
        struct Reply: Decodable { var issues: [FatalIssue] }
        do { return try JSONDecoder.nightshift().decode(Reply.self, from: body).issues } catch {
            throw CLIFailure(message: "the daemon answered with something that is not a list of fatal issues: \(error)")
        }
    }

    /// One issue, once: what and when, why (unless the reason only repeats the condition), what
    /// to do, where its log is, and the end of its output.
    static func describe(_ i: FatalIssue) -> String {
        var lines = [
            "\(Timestamp.format(i.at))  \(i.condition)  (\(i.source), seen \(i.count)×, last \(Timestamp.format(i.lastSeen)))"
        ]
        if i.reason != i.condition.rawValue { lines.append("  \(i.reason)") }
        if !i.detail.isEmpty && i.detail != i.reason { lines.append("  → \(i.detail)") }
        if let log = i.context["log"]?.stringValue { lines.append("  log: \(log)") }
        if let tail = i.context["output_tail"]?.stringValue, !tail.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            let all = tail.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            let trimmed = all.last == "" ? Array(all.dropLast()) : all
            let shown = trimmed.suffix(tailLines)
            lines.append(
                shown.count < trimmed.count
                    ? "  output tail (last \(shown.count) of \(trimmed.count) lines; --json has all):" : "  output tail:")
            lines += shown.map { "    \($0)" }
        }
        return lines.joined(separator: "\n")
    }
}
