import Foundation
import Logging
import NightshiftCore
import ServiceLifecycle
import Subprocess
import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

/// Keeps `nightshift serve` alive through the night (DESIGN.md "watchdog"). It runs the daemon
/// as its child in the child's own session and process group, and performs what
/// `WatchdogPolicy` decides: restart after a crash (with backoff), give up on a crash loop
/// (fatal issue `crash_loop`, exit non-zero), restart gracefully when `restart_requested.json`
/// appears or the daemon stops answering `/api/health`, and stop it gracefully on shutdown.
/// It only ever signals its own child's process group.
public actor Watchdog: Service {
    public struct Configuration: Sendable {
        /// The daemon's executable and arguments (`<nightshift> serve ...`).
        public var executable: String
        public var arguments: [String]
        /// Environment added to the watchdog's own for the daemon.
        public var environment: [String: String]
        public var paths: StatePaths
        public var settings: NightshiftConfig.Watchdog
        /// The repository whose HEAD goes into pipeline_version.json.
        public var workspace: String
        public var version: String

        public init(
            executable: String, arguments: [String], environment: [String: String] = [:], paths: StatePaths,
            settings: NightshiftConfig.Watchdog, workspace: String, version: String = VersionInfo.current
        ) {
            self.executable = executable
            self.arguments = arguments
            self.environment = environment
            self.paths = paths
            self.settings = settings
            self.workspace = workspace
            self.version = version
        }
    }

    /// The daemon crashed `start_limit` times within `start_window`; the watchdog gave up.
    public struct CrashLoopError: Error, CustomStringConvertible {
        public var loop: WatchdogPolicy.CrashLoop
        public var description: String {
            "crash loop: the daemon was started \(loop.starts) times within \(ConfigValues.formatDuration(loop.window)) "
                + "and ended again (last: \(loop.lastExit)); see fatal_issues.json and watchdog.log"
        }
    }

    /// The daemon refused to start (exit status 2); restarting it would not help.
    public struct RefusedError: Error, CustomStringConvertible {
        public var status: WatchdogPolicy.ExitStatus
        public var tail: String
        public var description: String {
            let last = tail.split(separator: "\n").last.map(String.init) ?? ""
            return
                "the daemon refused to start (\(status))\(last.isEmpty ? "" : ": \(last)"); not restarting it (see fatal_issues.json)"
        }
    }

    /// What happened, as seen by the supervising loop; `generation` tells one child from the next.
    enum Signal: Sendable {
        case spawned(generation: Int, pid: Int32)
        case spawnFailed(generation: Int, String)
        case exited(generation: Int, WatchdogPolicy.ExitStatus, tail: String)
        case probe(generation: Int, failure: String?)
        case restartFile
        case backoffElapsed
        case shutdown
    }

    struct Child {
        var generation: Int
        var pid: Int32
        var reason: WatchdogPolicy.StartReason
        /// Set once the process has ended and been reaped.
        var ended: OneShotEvent
    }

    let config: Configuration
    let logger: Logger
    let redactor: Redactor
    let gitSHA: @Sendable (String) -> String
    let now: @Sendable () -> Date
    /// The generation whose health is being probed; probes of older ones stop.
    private let probing = Locked(0)
    private var undeletableReported = false

    public init(
        configuration: Configuration, logger: Logger, redactor: Redactor = Redactor(secretValues: []),
        gitSHA: @escaping @Sendable (String) -> String, now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.config = configuration
        self.logger = logger
        self.redactor = redactor
        self.gitSHA = gitSHA
        self.now = now
    }

    public func run() async throws {
        let paths = config.paths
        if consumeRestartRequest() != nil {
            logger.info("a restart request left from before was removed: this start is a fresh one")
        }
        let (signals, sink) = AsyncStream<Signal>.makeStream()
        let watcher = FileAppearanceWatcher(directory: paths.root, name: (paths.restartRequested as NSString).lastPathComponent) {
            sink.yield(.restartFile)
        }
        watcher.start()
        var ending: Ending?
        await withGracefulShutdownHandler {
            ending = await supervise(signals, sink)
        } onGracefulShutdown: {
            sink.yield(.shutdown)
        }
        probing.withLock { $0 = -1 }
        await watcher.stop()
        markStopped()
        switch ending {
        case .crashLoop(let loop): throw CrashLoopError(loop: loop)
        case .refused(let status, let tail): throw RefusedError(status: status, tail: tail)
        case nil: logger.info("stopped")
        }
    }

    /// Why the supervision ended other than by a clean stop.
    enum Ending {
        case crashLoop(WatchdogPolicy.CrashLoop)
        case refused(WatchdogPolicy.ExitStatus, tail: String)
    }

    /// The loop: one signal at a time into the policy, then its action. Returns what ended it,
    /// or nil on a clean stop.
    private func supervise(_ signals: AsyncStream<Signal>, _ sink: AsyncStream<Signal>.Continuation) async -> Ending? {
        let origin = ContinuousClock.now
        func elapsed() -> Double { (ContinuousClock.now - origin).inSeconds }
        var policy = WatchdogPolicy(settings: config.settings)
        var child: Child?
        var generation = 0
        var result: Ending?
        var lastTail = ""
        return await withDiscardingTaskGroup { group in
            var action = policy.handle(.launched, at: elapsed())
            var iterator = signals.makeAsyncIterator()
            loop: while true {
                switch action {
                case .none:
                    break
                case .spawn(let reason):
                    generation += 1
                    let gen = generation
                    let ended = OneShotEvent()
                    child = Child(generation: gen, pid: 0, reason: reason, ended: ended)
                    logger.info("starting the daemon (\(reason))", metadata: ["generation": "\(gen)"])
                    group.addTask { await self.runChild(generation: gen, ended: ended, sink: sink) }
                case .wait(let until):
                    let delay = max(0, until - elapsed())
                    logger.info("restarting the daemon in \(ConfigValues.formatDuration((delay * 1000).rounded() / 1000))")
                    group.addTask {
                        try? await Task.sleep(for: .milliseconds(Int64((delay * 1000).rounded(.up))))
                        sink.yield(.backoffElapsed)
                    }
                case .stopChild(let reason):
                    if let c = child, c.pid > 1 {
                        let grace = policy.stopGrace(for: reason)
                        logger.notice(
                            "stopping the daemon (pid \(c.pid)): \(reason); SIGTERM to its process group, up to \(ConfigValues.formatDuration(grace)) to drain, then SIGKILL"
                        )
                        group.addTask { await self.stop(pid: c.pid, ended: c.ended, grace: grace) }
                    }
                case .giveUp(let crashLoop):
                    report(crashLoop, tail: lastTail, pid: child?.pid ?? 0)
                    result = .crashLoop(crashLoop)
                    break loop
                case .refused(let status):
                    reportRefusal(status, tail: lastTail)
                    result = .refused(status, tail: lastTail)
                    break loop
                case .exit:
                    break loop
                }

                guard let signal = await iterator.next() else { break loop }
                let event: WatchdogPolicy.Event
                switch signal {
                case .spawned(let gen, let pid):
                    guard gen == child?.generation else { continue loop }
                    child?.pid = pid
                    writeVersion(pid: pid, reason: child?.reason ?? .initial)
                    startProbing(generation: gen, pid: pid, group: &group, sink: sink)
                    event = .spawned
                case .spawnFailed(let gen, let why):
                    guard gen == child?.generation else { continue loop }
                    logger.error("cannot start the daemon: \(why)")
                    lastTail = why
                    child = nil
                    event = .spawnFailed(why)
                case .exited(let gen, let status, let tail):
                    guard gen == child?.generation else { continue loop }
                    let pid = child?.pid ?? 0
                    probing.withLock { $0 = 0 }
                    lastTail = tail
                    if pid > 1 && !ProcessGroup.liveMembers(pid).isEmpty {
                        // The daemon is gone; what is left of its group (helpers it ran) goes too.
                        ProcessGroup.killNow(pid)
                    }
                    if case .running = policy.phase {
                        logger.error("the daemon (pid \(pid)) ended unexpectedly: \(status)")
                    } else {
                        logger.info("the daemon (pid \(pid)) stopped: \(status)")
                    }
                    event = .exited(status)
                case .probe(let gen, let failure):
                    guard gen == child?.generation else { continue loop }
                    if failure == nil && !policy.answered, let c = child {
                        logger.info("the daemon (pid \(c.pid)) answers /api/health")
                    } else if let failure, policy.answered, case .running = policy.phase {
                        logger.warning("health probe failed (\(policy.failedProbes + 1) in a row): \(failure)")
                    }
                    event = .probe(ok: failure == nil)
                case .restartFile:
                    guard let request = consumeRestartRequest() else { continue loop }
                    logger.notice("restart requested by \(request.requestedBy): \(request.reason)")
                    event = .restartRequested(request.reason)
                case .backoffElapsed:
                    event = .backoffElapsed
                case .shutdown:
                    logger.notice("shutdown requested: stopping the daemon")
                    event = .shutdownRequested
                }
                action = policy.handle(event, at: elapsed())
            }
            probing.withLock { $0 = -1 }
            if let c = child, c.pid > 1, !c.ended.isSet {
                // Cancelled while the daemon runs: the second level of shutdown.
                ProcessGroup.killNow(c.pid)
            }
            group.cancelAll()
            return result
        }
    }

    // MARK: - Actions

    /// The graceful stop: SIGTERM to the daemon's process group, up to `grace` seconds for the
    /// daemon to exit, then SIGKILL to the group. Signals go only while the daemon has not been
    /// reaped, so its pid (= group id) cannot have been reused by a stranger.
    private nonisolated func stop(pid: Int32, ended: OneShotEvent, grace: Double) async {
        guard !ended.isSet else { return }
        kill(-pid, SIGTERM)
        await withTaskGroup(of: Void.self) { wait in
            wait.addTask { await ended.wait() }
            wait.addTask { try? await Task.sleep(for: .milliseconds(Int64(grace * 1000))) }
            await wait.next()
            wait.cancelAll()
        }
        guard !ended.isSet else { return }
        logger.warning(
            "the daemon (pid \(pid)) did not stop within \(ConfigValues.formatDuration(grace)): SIGKILL to its process group")
        ProcessGroup.killNow(pid)
    }

    /// Runs one daemon process to its end, reporting its pid, then its exit and output tail.
    private nonisolated func runChild(generation: Int, ended: OneShotEvent, sink: AsyncStream<Signal>.Continuation) async {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else {
            sink.yield(.spawnFailed(generation: generation, "pipe: \(String(cString: strerror(errno)))"))
            return
        }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        let pidBox = Locked<Int32>(0)
        let logger = self.logger
        let output = ChildOutput(fd: fds[0]) { line in
            logger.info("daemon: \(line)", metadata: ["child.pid": "\(pidBox.value)"])
        }
        output.start()
        var env: [Environment.Key: String?] = [:]
        for (k, v) in config.environment { env[Environment.Key(stringLiteral: k)] = v }
        var options = PlatformOptions()
        options.createSession = true
        // Only used if this task is cancelled (the watchdog itself is torn down).
        options.teardownSequence = [.gracefulShutDown(toProcessGroup: true, allowedDurationToNextStep: .seconds(5))]
        do {
            let result = try await Subprocess.run(
                .path(FilePath(config.executable)), arguments: Arguments(config.arguments),
                environment: .inherit.updating(env), platformOptions: options, input: .none,
                output: .fileDescriptor(FileDescriptor(rawValue: fds[1]), closeAfterSpawningProcess: true),
                error: .combinedWithOutput
            ) { execution in
                let pid = execution.processIdentifier.value
                pidBox.withLock { $0 = pid }
                sink.yield(.spawned(generation: generation, pid: pid))
            }
            ended.set()
            await output.finished(within: 0.5)
            let status: WatchdogPolicy.ExitStatus
            switch result.terminationStatus {
            case .exited(let code): status = .exited(code)
            case .signaled(let sig): status = .signaled(sig)
            }
            sink.yield(.exited(generation: generation, status, tail: redactor.redact(output.tail)))
        } catch {
            ended.set()
            await output.finished(within: 0.5)
            if pidBox.value > 0 {
                sink.yield(.exited(generation: generation, .notStarted("\(error)"), tail: redactor.redact(output.tail)))
            } else {
                sink.yield(.spawnFailed(generation: generation, "\(error)"))
            }
        }
    }

    /// Probes `/api/health` of generation `generation` every `health_interval` until it ends.
    private func startProbing(
        generation: Int, pid: Int32, group: inout DiscardingTaskGroup, sink: AsyncStream<Signal>.Continuation
    ) {
        probing.withLock { $0 = generation }
        let settings = config.settings
        let announcement = config.paths.file("daemon.json")
        let probing = self.probing
        group.addTask {
            let probe = HealthProbe(timeout: settings.healthTimeout)
            var answered = false
            while probing.value == generation && !Task.isCancelled {
                let started = ContinuousClock.now
                let failure = await probe.check(announcement: announcement, pid: pid)
                guard probing.value == generation else { return }
                answered = answered || failure == nil
                sink.yield(.probe(generation: generation, failure: failure))
                // Poll fast until the daemon first answers (to know when it is up), then every health_interval.
                let wait = answered ? settings.healthInterval : min(settings.healthInterval, 0.05)
                let rest = Duration.milliseconds(Int64(wait * 1000)) - (ContinuousClock.now - started)
                if rest > .zero { try? await Task.sleep(for: rest) }
            }
        }
    }

    /// Reads and deletes `restart_requested.json`; nil when there is none. A file that is not a
    /// valid request still counts (an operator may just `touch` it).
    private func consumeRestartRequest() -> RestartRequest? {
        let path = config.paths.restartRequested
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        let request =
            RestartRequest.read(path: path) ?? RestartRequest(reason: "(no reason given)", at: now(), requestedBy: "unknown")
        if unlink(path) != 0 && errno != ENOENT {
            // Acting on a request that cannot be consumed would restart the daemon every second.
            if !undeletableReported {
                logger.error(
                    "cannot delete \(path) (\(String(cString: strerror(errno)))): the restart request is ignored until it can be")
                undeletableReported = true
            }
            return nil
        }
        undeletableReported = false
        return request
    }

    private func writeVersion(pid: Int32, reason: WatchdogPolicy.StartReason) {
        let version = PipelineVersion(
            gitSHA: gitSHA(config.workspace), workspace: config.workspace, version: config.version, binary: config.executable,
            binaryModifiedAt: PipelineVersion.modificationTime(of: config.executable), startedAt: now(), pid: pid,
            watchdogPID: getpid(), reason: "\(reason)")
        do { try version.write(to: config.paths.pipelineVersion) } catch { logger.error("\(error)") }
        logger.info("daemon started", metadata: ["child.pid": "\(pid)", "git_sha": "\(version.gitSHA)"])
    }

    /// `pipeline_version.json` no longer names a running daemon or watchdog once this watchdog
    /// ends, so nobody signals a dead (or reused) pid from it.
    private func markStopped() {
        guard var version = PipelineVersion.read(path: config.paths.pipelineVersion), version.watchdogPID == getpid() else {
            return
        }
        version.pid = nil
        version.watchdogPID = nil
        version.stoppedAt = now()
        do { try version.write(to: config.paths.pipelineVersion) } catch { logger.error("\(error)") }
    }

    private func reportRefusal(_ status: WatchdogPolicy.ExitStatus, tail: String) {
        let last = tail.split(separator: "\n").last.map(String.init) ?? ""
        let detail =
            "the daemon refused to start (\(status))\(last.isEmpty ? "" : ": \(last)"); fix the cause, then start the watchdog again"
        let issue = FatalIssue(
            condition: .daemonRefusedToStart, reason: "daemon_refused_to_start", detail: detail, source: "watchdog", at: now(),
            context: [
                "exit_status": .string("\(status)"), "output_tail": .string(tail),
                "log": .string(config.paths.componentLog("watchdog")),
            ])
        do { try FatalIssues.report(issue, path: config.paths.fatalIssues) } catch { logger.error("\(error)") }
        logger.critical("\(detail)")
    }

    private func report(_ loop: WatchdogPolicy.CrashLoop, tail: String, pid: Int32) {
        let detail =
            "the daemon was started \(loop.starts) times within \(ConfigValues.formatDuration(loop.window)) and ended each time "
            + "(last: \(loop.lastExit)); the watchdog stopped restarting it"
        let issue = FatalIssue(
            condition: .crashLoop, reason: "crash_loop", detail: detail, source: "watchdog", at: now(),
            context: [
                "exit_status": .string("\(loop.lastExit)"),
                "starts": .number(Double(loop.starts)),
                "window_seconds": .number(loop.window),
                "last_pid": .number(Double(pid)),
                "output_tail": .string(tail),
                "log": .string(config.paths.componentLog("watchdog")),
            ])
        do { try FatalIssues.report(issue, path: config.paths.fatalIssues) } catch { logger.error("\(error)") }
        logger.critical("\(detail)", metadata: ["output_tail": "\(tail)"])
    }
}
