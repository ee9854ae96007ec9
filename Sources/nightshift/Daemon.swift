import Foundation
import Logging
import NightshiftAPI
import NightshiftCore
import NightshiftRuntime
import NightshiftStore
import NightshiftStorePostgres
import ServiceLifecycle

#if canImport(Glibc)
    import Glibc
#endif

/// The composition root of `nightshift serve`: opens the store, rescues orphans, and runs the
/// services in one ServiceGroup (the API last to start and first to stop; the store outlives all).
struct Daemon {
    /// The run a daemon start belongs to.
    struct Run {
        var id: String
        /// `run.json` for a run that does not exist yet.
        var fresh: RunInfo
        /// This process's stop ends the run (a `serve` without a watchdog, `nightshift run`):
        /// it writes the run's reports when it stops.
        var endsRun: Bool
        /// `nightshift run`: ends by itself when there is nothing left to do, time or money
        /// runs out.
        var controller: RunController.Settings
        /// The store to use instead of the state dir's (a smoke run's scratch database).
        var databasePath: String? = nil
        /// Serve the REST API.
        var api: Bool = true
        var sessionID: String = "session_\(RunID.stamp(Date()))_\(getpid())"
        /// Task exports to write when the run ends (`--export csv,json`).
        var exports: [RunArtifacts.Format] = []
        /// Write `reports/handoff/INDEX.md` when the run ends.
        var handoff = false
    }

    /// How a daemon start ended, for `nightshift run`'s exit code.
    struct Ended {
        var end: RunController.End
        var outcome: RunReporter.Outcome?
    }

    let config: NightshiftConfig
    let run: Run

    @discardableResult
    func run() async throws -> Ended {
        umask(0o077)
        // A closed output pipe must not kill the daemon: writes fail with EPIPE and are dropped.
        StandardStreams.ignoreSIGPIPE()
        // A taken port stops the start here, before the state dir, the store and the backlog.
        if run.api {
            do { try ListenProbe.check(host: config.server.host, port: config.server.port) } catch {
                throw CLIFailure(message: error.description, code: 2)
            }
        }
        // The store first: a PostgreSQL store that cannot be reached (or migrated) stops the
        // start before the state dir, the lock or the run files are touched.
        let hook = PipelineHook(plan: PipelinePlan(config: config), maxAttempts: config.runner.maxAttempts)
        var databasePath: String?
        var postgres: PostgresTaskStore?
        switch try? StoreURL.parse(config.store.url) {
        case .sqlite(let path?): databasePath = path
        case .postgres(let location) where run.databasePath == nil:
            do {
                postgres = try await PostgresTaskStore.connect(location, pipeline: hook, runID: run.id)
            } catch {
                throw CLIFailure(message: "store.url: \(error)", code: 2)
            }
        default: break
        }
        do {
            let ended = try await serve(postgres: postgres, databasePath: databasePath, hook: hook)
            await postgres?.close()
            return ended
        } catch {
            // The pool closes last, after every service has stopped (and on a failed start).
            await postgres?.close()
            throw error
        }
    }

    /// The start after the store is chosen: state dir, lock, run files, services.
    private func serve(postgres: PostgresTaskStore?, databasePath: String?, hook: PipelineHook) async throws -> Ended {
        let paths = StatePaths(root: config.stateDir)
        do { try paths.prepare() } catch { throw CLIFailure(message: "cannot create state dir \(paths.root): \(error)") }
        let lock: StateDirLock
        do { lock = try StateDirLock(path: paths.lockFile) } catch { throw CLIFailure(message: "\(error)") }
        let runFiles: RunFiles
        let runInfo: RunInfo
        do {
            runFiles = try RunFiles(paths: paths.run(run.id))
            runInfo = try runFiles.begin(run.fresh)
        } catch {
            throw CLIFailure(message: "cannot record run \(run.id): \(error)")
        }
        let store: any DaemonStore
        if let postgres {
            store = postgres
        } else {
            do {
                store = try SQLiteTaskStore(
                    path: run.databasePath ?? databasePath ?? paths.database, pipeline: hook, runID: run.id)
            } catch {
                throw CLIFailure(message: "\(error)")
            }
        }

        let startedAt = Date()
        let redactor = ServiceEnvironment.redactor(for: config)
        let echo = ComponentLogs.echoSetting(ProcessInfo.processInfo.environment["NIGHTSHIFT_LOG_STDERR"])
        let logs = ComponentLogs(
            paths: paths, maxBytes: config.logs.maxBytes, backups: config.logs.backups, redactor: redactor,
            echo: echo.all, echoComponents: echo.components, run: runFiles.paths)
        var env = ServiceEnvironment(
            config: config, paths: paths, store: store, logs: logs, redactor: redactor,
            version: VersionInfo(gitSHA: GitInfo.headSHA(), startedAt: startedAt),
            instanceID: ServiceEnvironment.makeInstanceID(startedAt: startedAt))
        env.run = runFiles
        env.logTap = TaskLineTap()
        let nodeID =
            config.node.id.isEmpty
            ? NodeID.defaultID(host: ProcessInfo.processInfo.hostName, stateDir: paths.root) : config.node.id
        env.cluster = ClusterRole(nodeID: nodeID, store: store, nodeLease: config.node.lease, leading: false)
        let apiURL = Locked<String?>(nil)
        let heartbeat = NodeHeartbeat(env: env, store: store, apiURL: apiURL, startedAt: startedAt)
        let logger = logs.logger("nightshift")
        StandardStreams.onFirstDrop = { [logger] why in logger.warning("\(why)") }
        logger.info("starting", metadata: ["state_dir": "\(paths.root)", "pid": "\(getpid())"])

        // The first heartbeat says whether this node leads before anything leader-only starts.
        do { try await heartbeat.beatOnce() } catch { throw CLIFailure(message: "cannot write this node's heartbeat: \(error)") }
        let runner = AgentRunner(env: env)
        let rescuer = LeaseRescuer(env: env, isLive: { id in runner.activeTaskIDs.contains(id) })
        // Orphans of a previous run are rescued before anything new is claimed.
        let rescued = try await rescuer.runOnce()
        if !rescued.requeued.isEmpty || !rescued.failed.isEmpty {
            logger.warning("rescued \(rescued.requeued.count + rescued.failed.count) task(s) left running by a previous daemon")
        }
        let maintenance = MaintenanceService(env: env)
        let workspace =
            config.runner.workspace.isEmpty ? nil : Workspace(repository: config.runner.workspace, root: paths.file("worktrees"))
        let pm = ProjectManager(env: env, pipeline: store, workspace: workspace)
        do {
            // The leader imports the backlog; a node that takes the lead over later finds it there.
            if env.cluster.isLeader { try await pm.prepare() }
        } catch let e as BacklogError {
            throw CLIFailure(message: e.description, code: 2)
        } catch let e as Workspace.Failure {
            throw CLIFailure(message: e.description, code: 2)
        }
        let notifier = Notifier(config: config.notify, logger: logs.logger("monitor"))
        let logService = LogService(env: env, store: store, notifier: notifier)
        let logAPI = LogAPI(service: logService, questions: LogQuestions(logs: logService, config: config.logs.llm))
        let monitor = Monitor(env: env, store: store, notifier: notifier, projectManager: pm, apiURL: apiURL)
        var views = PipelineViews.live(
            env: env, store: store,
            projectManager: { (try? await pm.status()).flatMap { try? JSONValue(encoding: $0) } ?? .null },
            attention: { monitor.attention }, unwrittenFatal: { monitor.unwrittenFatal })
        if pm.isEnabled { views.setPaused = { paused in if paused { try await pm.pause() } else { try await pm.resume() } } }
        if pm.isEnabled {
            views.decideLanding = { key, decision in try await pm.decideLanding(key: key, decision: decision) }
            views.wipRefs = { try await pm.wipRefs() }
        }
        let reporter = RunReporter(store: store, paths: paths, files: runFiles, gates: config.report.gates, budget: config.budget)
        let controller = RunController(
            env: env, store: store, reporter: reporter, info: runInfo, settings: run.controller,
            onBudgetExceeded: { why in
                try? await pm.pause()
                runner.tearDownNow(why)
            })
        let ready = Locked(false)
        let app = APIServer.buildApplication(
            env: env, views: views, isReady: { ready.value }, logs: logAPI,
            onRunning: { port in
                ready.withLock { $0 = true }
                let url = "http://\(config.server.host.contains(":") ? "[\(config.server.host)]" : config.server.host):\(port)"
                apiURL.withLock { $0 = url.replacingOccurrences(of: "0.0.0.0", with: "127.0.0.1") }
                try? AtomicFile.writeJSON(
                    DaemonAnnouncement(pid: getpid(), url: url, port: port, startedAt: startedAt, stateDir: paths.root),
                    to: DaemonAnnouncement.path(in: paths))
                logger.info("listening on \(url)")
            })
        // Pipeline-wide work runs on the leader only (always this daemon on SQLite); the
        // heartbeat comes first so it stops last and gives the lead up on the way out.
        let nodeLogger = logs.logger("nightshift")
        func leaderOnly(_ service: any Service, _ name: String) -> ServiceGroupConfiguration.ServiceConfiguration {
            .init(service: LeaderOnly(service, role: env.cluster, name: name, logger: nodeLogger))
        }
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: heartbeat),
            .init(service: rescuer), leaderOnly(maintenance, "maintenance"), .init(service: logService),
            .init(service: runner),
            leaderOnly(pm, "the project manager"),
            .init(service: notifier), leaderOnly(monitor, "the monitor"),
            .init(
                service: controller,
                successTerminationBehavior: run.controller.endsByItself ? .gracefullyShutdownGroup : .ignore),
        ]
        if let postgres {
            // Work created on any node wakes this runner at once; its fallback poll stays.
            services.append(.init(service: RunnableListener(store: postgres, wake: { runner.poke() })))
        }
        if run.api {
            services += [.init(service: ReadinessGate(ready: ready)), .init(service: app)]
        } else {
            ready.withLock { $0 = true }
        }
        let group = ServiceGroup(
            configuration: .init(
                services: services,
                gracefulShutdownSignals: [.sigterm, .sigint],
                cancellationSignals: [],
                logger: logger))
        // A second SIGTERM or SIGINT during the drain tears the agents down at once.
        let repeated = RepeatedSignal { why in runner.tearDownNow(why) }
        defer { repeated.cancel() }
        do {
            try await group.run()
        } catch  where ListenProbe.isAddressInUse(error) {
            // Taken between the probe and the bind.
            throw CLIFailure(
                message: ListenProbe.Failure(
                    host: config.server.host, port: config.server.port, reason: "the address is already in use"
                ).description,
                code: 2)
        }
        try? FileManager.default.removeItem(atPath: DaemonAnnouncement.path(in: paths))
        env.events.finishAll()
        var ended = Ended(end: controller.end)
        if run.endsRun {
            // A daemon run ends when it is stopped: that is its normal end, not an interruption.
            let state: RunState = run.controller.endsByItself && controller.end == .interrupted ? .interrupted : .success
            var warnings = controller.warnings
            if case .windowClosed(let n) = controller.end, n > 0 {
                warnings.append("the window closed with \(n) item(s) not started")
            }
            do {
                let artifacts = RunArtifacts(paths: paths)
                let (exports, handoff, runPaths) = (run.exports, run.handoff, runFiles.paths)
                let outcome = try await reporter.finish(
                    info: runInfo, state: state, warnings: warnings,
                    errorClass: Self.errorClass(controller.end), sessionID: run.sessionID,
                    artifacts: { summary in
                        var problems: [String] = []
                        var written: [String] = []
                        if !exports.isEmpty {
                            do { written = try artifacts.export(summary, formats: exports) } catch {
                                problems.append("export failed: \(error)")
                            }
                        }
                        if handoff {
                            do { try artifacts.handoff(summary, run: runPaths, exports: written) } catch {
                                problems.append("handoff failed: \(error)")
                            }
                        }
                        return problems
                    })
                ended.outcome = outcome
                logger.info(
                    "run \(run.id) ended: RESULT \(outcome.verdict.result.rawValue), report \(outcome.reportPath)",
                    metadata: ["run_id": "\(run.id)"])
            } catch {
                logger.error("could not write the reports of run \(run.id): \(error)")
            }
        } else {
            _ = try? await reporter.refresh(info: runInfo, warnings: controller.warnings)
        }
        logger.info("stopped")
        withExtendedLifetime(lock) {}
        return ended
    }

    /// The error class an end imposes on the report, whatever the gates say.
    static func errorClass(_ end: RunController.End) -> String? {
        switch end {
        case .budgetExceeded: return "budget_exceeded"
        case .interrupted: return nil
        case .finished, .windowClosed: return nil
        }
    }
}

/// Marks the daemon not ready as soon as graceful shutdown begins (it stops before the API).
struct ReadinessGate: Service {
    let ready: Locked<Bool>
    func run() async throws {
        try? await gracefulShutdown()
        ready.withLock { $0 = false }
    }
}
