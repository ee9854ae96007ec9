import ArgumentParser
import Foundation
import NightshiftRuntime

/// `nightshift`: the overnight agent pipeline daemon and its client commands.
@main
struct Nightshift: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nightshift",
        abstract: "Run overnight pipelines of autonomous coding agents, and steer them.",
        discussion: """
            The daemon (`serve`) keeps every task in SQLite under its state dir and serves a REST \
            control plane (default http://127.0.0.1:8000). The other commands are clients of it: \
            without --url they find the daemon through the state dir's daemon.json, else the \
            config's address. Delivery is at-least-once: a task whose daemon died mid-run is \
            rescued and run again.

            Exit codes: 0 = success, 1 = failure (the daemon is down or refused, a check failed), \
            2 = bad usage or a bad config.
            """,
        version: "0.1.0",
        subcommands: [
            ServeCommand.self, WatchdogCommand.self, RunCommand.self, RunsCommand.self, ReportCommand.self, StatusCommand.self,
            TasksCommand.self, PMCommand.self, IssuesCommand.self, FatalCommand.self, GateCommand.self, DoctorCommand.self,
            DLQCommand.self, GuardCommand.self, LogsCommand.self, MCPCommand.self, OpenCommand.self, NodesCommand.self,
            StoreCommand.self,
            BenchCommand.self,
        ])

    /// ArgumentParser's own entry point, except that a usage error exits 2 (as a bad config
    /// and every other usage failure of the CLI do) in one line, instead of 64 with the usage.
    static func main() async {
        do {
            var command = try await asyncParseAsRoot()
            if var async = command as? AsyncParsableCommand {
                try await async.run()
            } else {
                try command.run()
            }
        } catch {
            guard exitCode(for: error) == .validationFailure else { exit(withError: error) }
            FileHandle.standardError.write(Data("nightshift: \(usageLine(for: error))\n".utf8))
            Foundation.exit(usageExitCode)
        }
    }

    /// The exit code of bad usage everywhere in the CLI.
    static let usageExitCode: Int32 = 2

    /// "what is wrong (see: nightshift tasks show --help)", from ArgumentParser's message.
    static func usageLine(for error: Error) -> String {
        var message = self.message(for: error)
        // Lower-case like the CLI's other messages ("Missing expected argument" → "missing ..."), not "URL".
        if let first = message.first, first.isUppercase, message.dropFirst().first?.isLowercase == true {
            message = first.lowercased() + message.dropFirst()
        }
        let full = fullMessage(for: error)
        // ArgumentParser ends a usage error with "See 'nightshift tasks show --help' for more information."
        guard let see = full.range(of: "See '"), let end = full[see.upperBound...].firstIndex(of: "'") else { return message }
        return "\(message) (see: \(full[see.upperBound..<end]))"
    }
}

/// A failure a command reports in one line on stderr, then exits with `code`.
struct CLIFailure: Error {
    var message: String
    var code: Int32 = 1
}

/// Runs a command body, turning failures into one clear line and a non-zero exit.
func runReporting(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let f as CLIFailure {
        StandardStreams.writeError("nightshift: \(f.message)\n")
        throw ExitCode(f.code)
    }
}
