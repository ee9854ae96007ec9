import ArgumentParser
import Foundation
import NightshiftCore
import NightshiftRuntime

/// Options shared by `serve` (and later `watchdog`): where the config is and what to override.
struct DaemonOptions: ParsableArguments {
    @Option(
        name: .long,
        help: "Config file (default: $NIGHTSHIFT_CONFIG, else config/nightshift.yaml when present, else built-in defaults).")
    var config: String?

    @Option(name: .long, help: "State dir for the database, logs and reports (overrides state_dir).")
    var stateDir: String?

    @Option(name: .long, help: "Address to listen on (overrides server.host).")
    var host: String?

    @Option(name: .long, help: "Port to listen on; 0 picks a free one (overrides server.port).")
    var port: Int?

    @Option(name: .long, help: "Stop creating new work after this many hours (overrides project_manager.hours).")
    var hours: Double?

    @Option(
        name: .long,
        help: "Join this run (run_YYYYMMDD_HHMMSS_xxxx) instead of starting a new one (default: $NIGHTSHIFT_RUN_ID, else new).")
    var runID: String?

    /// The run this start joins or begins; a malformed id is a usage error (exit 2).
    func resolveRunID() throws -> String {
        do { return try RunFiles.resolveID(flag: runID) } catch { throw CLIFailure(message: "\(error)", code: 2) }
    }

    /// The validated config, or a one-line failure naming the key (exit code 2).
    func load() throws -> NightshiftConfig {
        do {
            return try ConfigLoader.load(
                path: config, overrides: .init(host: host, port: port, stateDir: stateDir, hours: hours))
        } catch {
            throw CLIFailure(message: error.description, code: 2)
        }
    }
}
