import ArgumentParser
import Foundation
import Logging
import NightshiftCore
import NightshiftRuntime
import NightshiftStore
import NightshiftStorePostgres
import ServiceLifecycle

#if canImport(Glibc)
    import Glibc
#endif

/// `nightshift watchdog`: runs `serve` as its child and keeps it alive (the overnight entry point).
struct WatchdogCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watchdog",
        abstract: "Run the daemon (`serve`) as a child process and restart it when it crashes, hangs or is asked to.",
        discussion: """
            First the preflight (`nightshift doctor`'s checks, each logged): a FAIL starts no daemon and \
            exits 2 (--skip-preflight starts anyway). The daemon runs in its own process group with the \
            same options. It is restarted after an \
            unexpected exit (backoff from watchdog.backoff.base, doubling), when restart_requested.json \
            appears in the state dir (the file is deleted), and when /api/health fails \
            watchdog.health_failures probes in a row. Past watchdog.start_limit starts within \
            watchdog.start_window it gives up: fatal issue crash_loop in fatal_issues.json, exit 3. A daemon \
            that refuses to start (exit 2: bad config, port taken) is not restarted: fatal issue \
            daemon_refused_to_start, exit 2. When the watchdog ends, pipeline_version.json names no pid. \
            Each start writes pipeline_version.json; everything the daemon prints goes to watchdog.log. \
            SIGTERM or SIGINT stop the daemon gracefully and exit 0.
            """)

    @OptionGroup var options: DaemonOptions

    @Option(help: "Starts allowed within --start-window before a crash counts as a crash loop (overrides watchdog.start_limit).")
    var startLimit: Int?

    @Option(help: "The window of --start-limit, e.g. 60s (overrides watchdog.start_window).")
    var startWindow: String?

    @Option(help: "Failed /api/health probes in a row that make the daemon hung (overrides watchdog.health_failures).")
    var healthFailures: Int?

    @OptionGroup var preflight: PreflightOptions

    @Flag(help: "Start without the preflight (`nightshift doctor`'s checks); for when a check is wrong, not the night.")
    var skipPreflight = false

    func run() async throws {
        try await runReporting {
            var config = try options.load()
            try applyFlags(&config.watchdog)
            umask(0o077)
            StandardStreams.ignoreSIGPIPE()
            let paths = StatePaths(root: config.stateDir)
            do { try paths.prepare() } catch { throw CLIFailure(message: "cannot create state dir \(paths.root): \(error)") }
            let lock: StateDirLock
            do { lock = try StateDirLock(path: paths.file("watchdog.lock")) } catch let held as StateDirLock.Held {
                throw CLIFailure(message: "another watchdog (\(held.holder)) supervises this state dir (\(paths.root))")
            } catch {
                throw CLIFailure(message: "\(error)")
            }
            if let holder = StateDirLock.holder(of: paths.lockFile) {
                throw CLIFailure(
                    message:
                        "a daemon (\(holder)) already runs on \(paths.root) without this watchdog; stop it first (SIGTERM), then start the watchdog"
                )
            }
            let redactor = ServiceEnvironment.redactor(for: config)
            let logs = ComponentLogs(
                paths: paths, maxBytes: config.logs.maxBytes, backups: config.logs.backups, redactor: redactor,
                echo: ProcessInfo.processInfo.environment["NIGHTSHIFT_LOG_STDERR"] != "0")
            let logger = logs.logger("watchdog")
            if !skipPreflight { try await Self.preflight(config, paths, preflight.doctorOptions, logger) }
            // One run for the whole watch: every daemon it starts or restarts joins it.
            let runID = try options.resolveRunID()
            do {
                let files = try RunFiles(paths: paths.run(runID))
                if try files.read() == nil {
                    var fresh = RunFiles.info(
                        id: runID, mode: .daemon, config: config, configPath: ConfigLoader.resolvedPath(path: options.config),
                        profile: preflight.profile, budgetUSD: preflight.budget)
                    fresh.starts = 0
                    try files.write(fresh)
                }
            } catch {
                throw CLIFailure(message: "cannot record run \(runID): \(error)")
            }
            logger.info("run \(runID)", metadata: ["run_id": "\(runID)"])
            let executable = Self.executablePath()
            let workspace = config.runner.workspace.isEmpty ? FileManager.default.currentDirectoryPath : config.runner.workspace
            let watchdog = Watchdog(
                configuration: .init(
                    executable: executable, arguments: childArguments(stateDir: paths.root),
                    environment: Self.childEnvironment(runID: runID), paths: paths, settings: config.watchdog,
                    workspace: workspace),
                logger: logger, redactor: redactor, gitSHA: { GitInfo.headSHA(in: $0) })
            logger.info(
                "watchdog starting",
                metadata: [
                    "pid": "\(getpid())", "state_dir": "\(paths.root)", "daemon": "\(executable)",
                    "start_limit": "\(config.watchdog.startLimit) in \(ConfigValues.formatDuration(config.watchdog.startWindow))",
                ])
            let group = ServiceGroup(
                configuration: .init(
                    services: [.init(service: watchdog, successTerminationBehavior: .gracefullyShutdownGroup)],
                    gracefulShutdownSignals: [.sigterm, .sigint], cancellationSignals: [], logger: logger))
            do {
                try await group.run()
            } catch let e as Watchdog.CrashLoopError {
                await Self.endRun(runID, config, paths, logger, state: .fail)
                throw CLIFailure(message: e.description, code: 3)
            } catch let e as Watchdog.RefusedError {
                await Self.endRun(runID, config, paths, logger, state: .fail)
                throw CLIFailure(message: e.description, code: 2)
            }
            await Self.endRun(runID, config, paths, logger, state: .success)
            withExtendedLifetime(lock) {}
        }
    }

    /// The watch is over, and so is its run: its reports are written from the store the
    /// daemons left (none of them runs now).
    static func endRun(_ id: String, _ config: NightshiftConfig, _ paths: StatePaths, _ logger: Logger, state: RunState) async {
        do {
            let files = try RunFiles(paths: paths.run(id))
            guard let info = try files.read() else { return }
            // The store the daemons used: PostgreSQL when store.url names it, else SQLite.
            var postgres: PostgresTaskStore?
            let store: any DaemonStore
            switch try? StoreURL.parse(config.store.url) {
            case .postgres(let location)?:
                let pg = try await PostgresTaskStore.connect(location)
                postgres = pg
                store = pg
            case .sqlite(let path?)?: store = try SQLiteTaskStore(path: path)
            default: store = try SQLiteTaskStore(path: paths.database)
            }
            let outcome: RunReporter.Outcome
            do {
                outcome = try await RunReporter(
                    store: store, paths: paths, files: files, gates: config.report.gates, budget: config.budget
                ).finish(
                    info: info, state: state, warnings: [], sessionID: "session_\(RunID.stamp(info.startedAt))_\(getpid())")
            } catch {
                await postgres?.close()
                throw error
            }
            await postgres?.close()
            logger.info("run \(id) ended: RESULT \(outcome.verdict.result.rawValue), report \(outcome.reportPath)")
        } catch {
            logger.error("could not write the reports of run \(id): \(error)")
        }
    }

    /// The doctor's checks, each logged (and echoed); a FAIL stops the start before any task
    /// can run (exit 2).
    static func preflight(
        _ config: NightshiftConfig, _ paths: StatePaths, _ options: Doctor.Options, _ logger: Logger
    ) async throws {
        let report = await Doctor(config: config, paths: paths, options: options).run()
        for check in report.checks {
            let line =
                "preflight \(check.status.rawValue) \(check.name): \(check.detail)" + (check.fix.map { " — fix: \($0)" } ?? "")
            switch check.status {
            case .fail: logger.error("\(line)")
            case .warn: logger.warning("\(line)")
            case .pass, .skip: logger.info("\(line)")
            }
        }
        guard report.passed else {
            throw CLIFailure(
                message:
                    "preflight failed: \(report.failures) check(s) FAIL (listed above; `nightshift doctor` shows them again); no daemon started",
                code: 2)
        }
    }

    func applyFlags(_ w: inout NightshiftConfig.Watchdog) throws {
        if let n = startLimit {
            guard n >= 1 else { throw CLIFailure(message: "--start-limit must be at least 1", code: 2) }
            w.startLimit = n
        }
        if let text = startWindow {
            guard let s = ConfigValues.parseDuration(text), s > 0 else {
                throw CLIFailure(message: "--start-window must be a duration like 60s or 5m, got \"\(text)\"", code: 2)
            }
            w.startWindow = s
        }
        if let n = healthFailures {
            guard n >= 1 else { throw CLIFailure(message: "--health-failures must be at least 1", code: 2) }
            w.healthFailures = n
        }
    }

    /// `serve` with the options this watchdog was given; the state dir is passed resolved, so
    /// the daemon and the watchdog agree on it whatever the environment says.
    func childArguments(stateDir: String) -> [String] {
        var args = ["serve", "--state-dir", stateDir]
        if let c = options.config { args += ["--config", c] }
        if let h = options.host { args += ["--host", h] }
        if let p = options.port { args += ["--port", "\(p)"] }
        if let h = options.hours { args += ["--hours", "\(h)"] }
        return args
    }

    /// The daemon's component logs already go to their files; its stderr (startup errors,
    /// crashes, and the project manager's progress, so an operator running in the foreground
    /// sees items move) is what the watchdog captures and shows.
    static func childEnvironment(runID: String) -> [String: String] {
        var env = ["NIGHTSHIFT_WATCHDOG_PID": "\(getpid())", "NIGHTSHIFT_RUN_ID": runID]
        if ProcessInfo.processInfo.environment["NIGHTSHIFT_LOG_STDERR"] == nil {
            env["NIGHTSHIFT_LOG_STDERR"] = "project_manager"
        }
        return env
    }

    /// This executable, so a rebuilt binary at the same path is what the next start runs.
    static func executablePath() -> String {
        if let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            return target.hasSuffix(" (deleted)") ? String(target.dropLast(" (deleted)".count)) : target
        }
        let arg0 = CommandLine.arguments[0]
        if arg0.hasPrefix("/") { return arg0 }
        if arg0.contains("/") { return (FileManager.default.currentDirectoryPath as NSString).appendingPathComponent(arg0) }
        return arg0
    }
}
