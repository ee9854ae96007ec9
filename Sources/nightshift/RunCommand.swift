import ArgumentParser
import Foundation
import NightshiftCore
import NightshiftRuntime

#if canImport(Glibc)
    import Glibc
#endif

/// `nightshift run`: one night in the foreground, the two buttons of seed 004. The same
/// services as `serve`; it ends by itself and says how it went in its exit code.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the backlog once in the foreground (--smoke or --full), write the run's reports, exit with its result.",
        discussion: """
            First the preflight (nightshift doctor's checks), then the backlog runs with the same \
            services as serve (the API too, unless --no-api) until every item is done or blocked, \
            --hours runs out and nothing is running, the run's spend passes --budget, or SIGINT/SIGTERM \
            arrives (agents are torn down at once, a partial report is written). Then runs/<run_id>/ \
            holds summary.txt (80 columns), summary.json and run.tar.gz (its sha256 in the summary), \
            and reports/session_report.md (KEY: value lines, gates, KPI trends) is written once, with \
            a copy in reports/history/<stamp>/.

            --smoke runs every task as its executor's smoke_command (without --offline) or a built-in \
            dry run that succeeds at once; it works on a scratch store under the run's directory \
            (the real queue is untouched), without worktrees or commits, and costs nothing. \
            --offline also turns notifiers off.

            --budget is the run's cap (budget.per_run_usd, the lower of the two): a task does not             start when the run's spend plus what running tasks reserve plus its own reservation             would pass it, and a metered agent (format: claude-stream-json or codex-jsonl) is             stopped live at what is left; a plain agent's cost counts when it exits.

            Exit codes: 0 completed (RESULT PASS or WARN) · 2 environment (bad config, an executor \
            missing, the workspace not a git repository, the state dir locked by another daemon, \
            prod without a budget of at least 0.10 USD) · 3 validation (a malformed backlog, an \
            agent's result file that breaks its schema) · 4 runtime (RESULT FAIL: a task failed for \
            good, the budget exceeded, no task run) · 5 interrupted by SIGINT/SIGTERM.
            """)

    @OptionGroup var options: DaemonOptions
    @OptionGroup var preflight: PreflightOptions

    @Flag(help: "Dry runs (or each executor's smoke_command): the pipeline's plumbing, at no cost.")
    var smoke = false

    @Flag(help: "The real agents; needs --budget.")
    var full = false

    @Flag(help: "With --smoke: no network at all (built-in dry runs only, notifiers off).")
    var offline = false

    @Option(help: "The backlog to run (overrides project_manager.backlog).")
    var backlog: String?

    @Flag(help: "Run without the REST API.")
    var noAPI = false

    @Option(help: "Also write the run's tasks as reports/export/<run_id>.csv and/or .json (and latest.*): csv, json or csv,json.")
    var export: String?

    @Flag(help: "Also write reports/handoff/INDEX.md, linking every artifact of the run.")
    var handoff = false

    static let exitEnvironment: Int32 = 2
    static let exitValidation: Int32 = 3
    static let exitRuntime: Int32 = 4
    static let exitInterrupted: Int32 = 5

    func validate() throws {
        guard smoke != full else { throw ValidationError("give exactly one of --smoke and --full") }
        if offline && !smoke { throw ValidationError("--offline goes with --smoke") }
        if full && preflight.budget == nil { throw ValidationError("--full needs --budget USD") }
        if let export {
            do { _ = try RunArtifacts.parseFormats(export) } catch { throw ValidationError("\(error)") }
        }
    }

    /// The built-in dry run of `--smoke`: says what it stands for and succeeds at once.
    static let dryRun = "printf 'nightshift smoke: dry run of %s task %s\\n' {task_type} {task_id}"

    /// The config of a smoke run: every executor a dry run (or its smoke command), no worktrees,
    /// no commits, no heal tasks; offline, no notifiers either.
    static func smokeConfig(_ config: NightshiftConfig, offline: Bool) -> NightshiftConfig {
        var c = config
        for (name, ex) in c.runner.executors {
            c.runner.executors[name] = .init(
                command: !offline && !ex.smokeCommand.isEmpty ? ex.smokeCommand : dryRun, env: ex.env)
        }
        c.runner.workspace = ""
        c.projectManager.autoCommit = false
        c.projectManager.autoPush = false
        c.monitor.autoFix = false
        if offline { c.notify = .init() }
        return c
    }

    func run() async throws {
        try await runReporting {
            var config = try options.load()
            if let backlog { config.projectManager.backlog = backlog }
            guard !config.projectManager.backlog.isEmpty else {
                throw CLIFailure(
                    message: "no backlog: set project_manager.backlog or give --backlog FILE", code: Self.exitValidation)
            }
            if smoke { config = Self.smokeConfig(config, offline: offline) }
            // --budget is the run's cap, enforced before each spawn and, for metered agents, live.
            if !smoke, let b = preflight.budget { config.budget.perRunUSD = min(config.budget.perRunUSD ?? b, b) }
            // On a signal the agents are torn down at once and the partial report written.
            config.runner.drainTimeout = 0
            let paths = StatePaths(root: config.stateDir)

            var doctorOptions = preflight.doctorOptions
            doctorOptions.smoke = full && !preflight.noSmoke
            let report = await Doctor(config: config, paths: paths, options: doctorOptions).run()
            for check in report.checks where check.status != .pass && check.status != .skip {
                StandardStreams.writeError(
                    "preflight \(check.status.rawValue) \(check.name): \(check.detail)"
                        + (check.fix.map { " — fix: \($0)" } ?? "") + "\n")
            }
            if !report.passed {
                let failing = report.checks.filter { $0.status == .fail }
                let onlyBacklog = failing.allSatisfy { $0.name == "backlog" }
                throw CLIFailure(
                    message: "preflight failed: \(failing.map(\.name).joined(separator: ", ")); no task started",
                    code: onlyBacklog ? Self.exitValidation : Self.exitEnvironment)
            }
            if let holder = StateDirLock.holder(of: paths.lockFile) {
                throw CLIFailure(
                    message: "the state dir \(paths.root) is locked by another daemon (\(holder)); stop it or use --state-dir",
                    code: Self.exitEnvironment)
            }

            // In the foreground: the project manager's progress and the run's own lines.
            if ProcessInfo.processInfo.environment["NIGHTSHIFT_LOG_STDERR"] == nil {
                setenv("NIGHTSHIFT_LOG_STDERR", "project_manager,runs", 1)
            }
            let id = try options.resolveRunID()
            let fresh = RunFiles.info(
                id: id, mode: smoke ? .smoke : .full, config: config,
                configPath: ConfigLoader.resolvedPath(path: options.config), profile: preflight.profile,
                budgetUSD: smoke ? nil : preflight.budget, dryRun: smoke, offline: offline)
            let runDir = paths.run(id)
            let ended: Daemon.Ended
            do {
                ended = try await Daemon(
                    config: config,
                    run: .init(
                        id: id, fresh: fresh, endsRun: true,
                        controller: .init(endsByItself: true, budgetUSD: smoke ? nil : preflight.budget),
                        databasePath: smoke ? runDir.file("smoke.sqlite") : nil, api: !noAPI,
                        exports: try export.map(RunArtifacts.parseFormats) ?? [], handoff: handoff)
                ).run()
            } catch let f as CLIFailure {
                throw CLIFailure(message: f.message, code: f.code == 1 ? Self.exitEnvironment : f.code)
            }
            guard let outcome = ended.outcome else {
                throw CLIFailure(message: "run \(id) ended without its reports (see runs/\(id)/logs/run.log)", code: 1)
            }
            if let text = try? String(contentsOfFile: runDir.summaryText, encoding: .utf8) { print(text, terminator: "") }
            print(
                "RESULT: \(outcome.verdict.result.rawValue)  RUN_STATE: \(outcome.summary.run.state.rawValue)  report: \(outcome.reportPath)"
            )
            if ended.end == .interrupted { throw ExitCode(Self.exitInterrupted) }
            if outcome.summary.tasks.contains(where: { $0.errorClass == ErrorClass.badResult.rawValue }) {
                throw ExitCode(Self.exitValidation)
            }
            if outcome.verdict.result == .fail { throw ExitCode(Self.exitRuntime) }
        }
    }
}
