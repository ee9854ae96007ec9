import ArgumentParser
import Foundation
import NightshiftCore
import NightshiftRuntime

/// `nightshift open`: prints the dashboard's URL (or a run's morning report with `--run`), for a
/// browser or `xdg-open "$(nightshift open)"`. Exit 1, with one line on stderr, when no daemon
/// answers there.
struct OpenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "open",
        abstract: "Print the URL of the live dashboard (or of a run's morning report with --run).",
        discussion: """
            The dashboard is at / of the daemon's address; a run's morning report at /runs/<run_id> \
            (latest for the newest). With a token (server.token), the page asks for it once.
            """)

    @OptionGroup var options: ClientCommandOptions
    @Option(help: "A run id, or latest: print its morning report's URL instead.") var run: String?

    func run() async throws {
        try await runReporting {
            let location = try options.locate()
            if let run, run != "latest", let problem = RunID.problem(run) { throw CLIFailure(message: problem, code: 2) }
            let url = location.base + (run.map { "/runs/\($0)" } ?? "/")
            print(url)
            let client = APIClient(base: location.base, token: location.token)
            guard (try? await client.request("GET", "/api/health", timeout: 3))?.status == 200 else {
                throw CLIFailure(message: "no daemon answers at \(location.base) (start one with nightshift serve or make run)")
            }
        }
    }
}
