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
            The daemon (`serve`) keeps every task in SQLite under its state dir and serves a REST
            control plane (default http://127.0.0.1:8000). The other commands are clients of it.
            Delivery is at-least-once: a task whose daemon died mid-run is rescued and run again.
            """,
        version: "0.1.0",
        subcommands: [
            ServeCommand.self, WatchdogCommand.self, StatusCommand.self, TasksCommand.self, PMCommand.self, IssuesCommand.self,
            FatalCommand.self, GateCommand.self, BenchCommand.self,
        ])
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
