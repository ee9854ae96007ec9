import Foundation
import Logging
import NightshiftAPI
import NightshiftCore
import NightshiftRuntime
import NightshiftStore
import ServiceLifecycle

#if canImport(Glibc)
    import Glibc
#endif

/// The composition root of `nightshift serve`: opens the store, rescues orphans, and runs the
/// services in one ServiceGroup (the API last to start and first to stop; the store outlives all).
struct Daemon {
    let config: NightshiftConfig

    func run() async throws {
        umask(0o077)
        // A closed output pipe must not kill the daemon: writes fail with EPIPE and are dropped.
        StandardStreams.ignoreSIGPIPE()
        // A taken port stops the start here, before the state dir, the store and the backlog.
        do { try ListenProbe.check(host: config.server.host, port: config.server.port) } catch {
            throw CLIFailure(message: error.description, code: 2)
        }
        let paths = StatePaths(root: config.stateDir)
        do { try paths.prepare() } catch { throw CLIFailure(message: "cannot create state dir \(paths.root): \(error)") }
        let lock: StateDirLock
        do { lock = try StateDirLock(path: paths.lockFile) } catch { throw CLIFailure(message: "\(error)") }
        let store: SQLiteTaskStore
        let hook = PipelineHook(plan: PipelinePlan(config: config), maxAttempts: config.runner.maxAttempts)
        do { store = try SQLiteTaskStore(path: paths.database, pipeline: hook) } catch { throw CLIFailure(message: "\(error)") }

        let startedAt = Date()
        let redactor = ServiceEnvironment.redactor(for: config)
        let echo = ComponentLogs.echoSetting(ProcessInfo.processInfo.environment["NIGHTSHIFT_LOG_STDERR"])
        let logs = ComponentLogs(
            paths: paths, maxBytes: config.logs.maxBytes, backups: config.logs.backups, redactor: redactor,
            echo: echo.all, echoComponents: echo.components)
        let env = ServiceEnvironment(
            config: config, paths: paths, store: store, logs: logs, redactor: redactor,
            version: VersionInfo(gitSHA: GitInfo.headSHA(), startedAt: startedAt),
            instanceID: ServiceEnvironment.makeInstanceID(startedAt: startedAt))
        let logger = logs.logger("nightshift")
        StandardStreams.onFirstDrop = { [logger] why in logger.warning("\(why)") }
        logger.info("starting", metadata: ["state_dir": "\(paths.root)", "pid": "\(getpid())"])

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
            try await pm.prepare()
        } catch let e as BacklogError {
            throw CLIFailure(message: e.description, code: 2)
        } catch let e as Workspace.Failure {
            throw CLIFailure(message: e.description, code: 2)
        }
        let notifier = Notifier(config: config.notify, logger: logs.logger("monitor"))
        let apiURL = Locked<String?>(nil)
        let monitor = Monitor(env: env, store: store, notifier: notifier, projectManager: pm, apiURL: apiURL)
        var views = PipelineViews.live(
            env: env, store: store,
            projectManager: { (try? await pm.status()).flatMap { try? JSONValue(encoding: $0) } ?? .null },
            attention: { monitor.attention }, unwrittenFatal: { monitor.unwrittenFatal })
        if pm.isEnabled { views.setPaused = { paused in if paused { try await pm.pause() } else { try await pm.resume() } } }
        let ready = Locked(false)
        let app = APIServer.buildApplication(
            env: env, views: views, isReady: { ready.value },
            onRunning: { port in
                ready.withLock { $0 = true }
                let url = "http://\(config.server.host.contains(":") ? "[\(config.server.host)]" : config.server.host):\(port)"
                apiURL.withLock { $0 = url.replacingOccurrences(of: "0.0.0.0", with: "127.0.0.1") }
                try? AtomicFile.writeJSON(
                    DaemonAnnouncement(pid: getpid(), url: url, port: port, startedAt: startedAt, stateDir: paths.root),
                    to: DaemonAnnouncement.path(in: paths))
                logger.info("listening on \(url)")
            })
        let group = ServiceGroup(
            configuration: .init(
                services: [
                    .init(service: rescuer), .init(service: maintenance), .init(service: runner), .init(service: pm),
                    .init(service: notifier), .init(service: monitor),
                    .init(service: ReadinessGate(ready: ready)), .init(service: app),
                ],
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
        logger.info("stopped")
        withExtendedLifetime(lock) {}
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
