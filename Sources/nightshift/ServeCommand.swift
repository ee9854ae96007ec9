import ArgumentParser
import Foundation
import NightshiftCore
import NightshiftRuntime

/// `nightshift serve`: the daemon in the foreground.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the daemon: agent runner, project manager, monitor and the REST API.",
        discussion: """
            SIGTERM or SIGINT stops it gracefully: the API stops first, running attempts get up to \
            30 s to finish (runner.drain_timeout; 0 = tear down at once), then their process groups \
            are torn down and left for the next start to rescue. A second SIGTERM or SIGINT during \
            the drain tears them down at once. Exit code 0 on a clean stop, 1 on a runtime \
            failure, 2 on a bad config or a taken port. Set NIGHTSHIFT_LOG_STDERR=0 to keep \
            component logs out of stderr (or name the components to echo, e.g. project_manager). \
            Each start is a run (runs/<run_id>/, --run-id or NIGHTSHIFT_RUN_ID to join one; under the \
            watchdog, the watchdog's run); a run that ends with this process writes its summary, \
            archive and reports/session_report.md when it stops.
            """)

    @OptionGroup var options: DaemonOptions

    func run() async throws {
        try await runReporting {
            let config = try options.load()
            let id = try options.resolveRunID()
            let fresh = RunFiles.info(
                id: id, mode: .daemon, config: config, configPath: ConfigLoader.resolvedPath(path: options.config))
            // Under a watchdog the run outlives this process: the watchdog ends it.
            let supervised = ProcessInfo.processInfo.environment["NIGHTSHIFT_WATCHDOG_PID"] != nil
            try await Daemon(
                config: config,
                run: .init(id: id, fresh: fresh, endsRun: !supervised, controller: .init(endsByItself: false))
            ).run()
        }
    }
}
