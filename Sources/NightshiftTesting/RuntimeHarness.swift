import Foundation
import NightshiftCore
import NightshiftRuntime
import NightshiftStore

#if canImport(Glibc)
    import Glibc
#endif

/// A deadline passed before the condition a test awaited came true.
public struct RuntimeWaitTimeout: Error, CustomStringConvertible {
    public var what: String
    public var seconds: Double
    public var description: String { "timed out after \(seconds) s waiting for \(what)" }
}

/// posix_spawn failed.
public struct RuntimeSpawnError: Error {
    public var errno: Int32
}

/// Scratch state for runtime tests: a private state dir with a real SQLite store, shell scripts
/// written next to it, service environments with short durations, and cleanup of any process
/// group a test started. Runner tests never sleep: they poll a condition with a deadline.
public final class RuntimeHarness: Sendable {
    public let tmp: TemporaryDirectory
    public let paths: StatePaths
    public let store: SQLiteTaskStore
    /// Process groups started by the test (agents, fake orphans), killed if still alive at the end.
    private let groups = Locked<Set<Int32>>([])

    public init() throws {
        tmp = try TemporaryDirectory(prefix: "nightshift-runtime")
        paths = StatePaths(root: tmp.path("state"))
        try paths.prepare()
        store = try SQLiteTaskStore(path: paths.database)
    }

    deinit {
        for g in groups.value where !ProcessGroup.liveMembers(g).isEmpty { ProcessGroup.killNow(g) }
    }

    // MARK: Configuration and environments

    /// Runner settings short enough for tests: kill grace 0.2 s, backoff base 0.05 s, no fallback
    /// poll (only wake-ups start work), generous timeouts that only guard against hangs.
    public static func fastConfig() -> NightshiftConfig {
        var c = NightshiftConfig()
        c.runner.workers = 2
        c.runner.taskTimeout = 60
        c.runner.stallTimeout = 60
        c.runner.maxAttempts = 3
        c.runner.retryBackoff.base = 0.05
        c.runner.retryBackoff.max = 0.2
        c.runner.lease = 10
        c.runner.killGrace = 0.2
        c.runner.pollInterval = 3600
        c.runner.executors = [:]
        c.logs.maxBytes = 1 << 20
        c.logs.backups = 2
        return c
    }

    /// A service environment over this harness's store and state dir; time comes from `clock`
    /// when given, else from the wall clock.
    public func environment(
        instanceID: String = "test-daemon", clock: MutableNow? = nil, redactor: Redactor = Redactor(),
        configure: (inout NightshiftConfig) -> Void = { _ in }
    ) -> ServiceEnvironment {
        var config = Self.fastConfig()
        config.stateDir = paths.root
        configure(&config)
        var now: @Sendable () -> Date = { Date() }
        if let clock { now = clock.provider }
        let logs = ComponentLogs(
            paths: paths, maxBytes: config.logs.maxBytes, backups: config.logs.backups, redactor: redactor, echo: false)
        return ServiceEnvironment(
            config: config, paths: paths, store: store, logs: logs, redactor: redactor,
            version: VersionInfo(gitSHA: "test", startedAt: Date()), instanceID: instanceID, now: now)
    }

    // MARK: Files and scripts

    /// A path in the scratch dir (nothing is created).
    public func path(_ name: String) -> String { tmp.path(name) }

    /// Writes a `/bin/sh` script and returns its path.
    @discardableResult
    public func script(_ name: String, _ body: String) throws -> String {
        try tmp.write("#!/bin/sh\n" + body + "\n", to: "bin/\(name)")
    }

    /// `/bin/sh <script> <arguments>`, an executor command template.
    public func command(_ script: String, _ arguments: String = "{direction}") -> String {
        "/bin/sh \(script) \(arguments)"
    }

    /// The contents of a text file, or "" when it does not exist.
    public func read(_ path: String) -> String {
        (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
    }

    public func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }

    /// A pid a script wrote to `path`, once the whole line is there.
    public func pid(in path: String) -> Int32? {
        let text = read(path)
        guard text.hasSuffix("\n") else { return nil }
        return Int32(text.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    // MARK: Processes

    /// Remembers a process group so that it is killed when the harness goes away.
    public func track(_ pgid: Int32) {
        guard pgid > 1 else { return }
        _ = groups.withLock { $0.insert(pgid) }
    }

    /// True when `pid` no longer runs (gone, or a zombie nobody reaped yet).
    public static func isDead(_ pid: Int32) -> Bool {
        guard let stat = ProcessGroup.procStat(pid) else { return true }
        return stat.state == "Z" || stat.state == "X"
    }

    /// Starts `/bin/sh -c <shell>` in a new session, as if an earlier daemon had spawned it and
    /// died, with exactly `environment` (plus PATH), default signal handling and no inherited
    /// descriptors. Returns its pid, which is also its process group id. (posix_spawn, because
    /// Foundation's `Process.waitUntilExit` would wait for the whole session to end.)
    public func spawnSession(_ shell: String, environment: [String: String]) async throws -> Int32 {
        let pidFile = path("session-\(UUID().uuidString).pid")
        var env = environment
        env["PATH"] = env["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        let pid = try Self.spawn(
            ["/bin/sh", "-c", "echo $$ > '\(pidFile)'; \(shell)"], environment: env.map { "\($0.key)=\($0.value)" })
        track(pid)
        // Reap it on a thread of its own once it ends, so no zombie is left behind.
        let reaper = Thread {
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        }
        reaper.start()
        try await Self.waitUntil("the session leader's pid file") { self.pid(in: pidFile) == pid }
        return pid
    }

    static func spawn(_ argv: [String], environment: [String]) throws -> Int32 {
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        var mask = sigset_t()
        sigemptyset(&mask)
        posix_spawnattr_setsigmask(&attr, &mask)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for sig in [SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGPIPE, SIGCHLD, SIGUSR1, SIGUSR2] { sigaddset(&defaults, sig) }
        posix_spawnattr_setsigdefault(&attr, &defaults)
        posix_spawnattr_setflags(&attr, Int16(0x80 /* POSIX_SPAWN_SETSID */ | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        // glibc 2.34+ closes every other descriptor in the child (not exported to Swift by name).
        typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
        if let symbol = dlsym(dlopen(nil, RTLD_NOW), "posix_spawn_file_actions_addclosefrom_np") {
            _ = unsafeBitCast(symbol, to: CloseFrom.self)(&actions, 3)
        }
        let cArgs = argv.map { strdup($0) } + [nil]
        let cEnv = environment.map { strdup($0) } + [nil]
        defer {
            for p in cArgs { free(p) }
            for p in cEnv { free(p) }
        }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, argv[0], &actions, &attr, cArgs, cEnv)
        guard rc == 0 else { throw RuntimeSpawnError(errno: rc) }
        return pid
    }

    /// Kills the process group of every task in the store whose agent is still alive (a test's
    /// safety net after a failure; never a substitute for asserting that nothing survived).
    public func killLeftoverAgents() async {
        guard let page = try? await store.list(TaskQuery(limit: 10_000)) else { return }
        for task in page.tasks {
            if let g = task.pgid, ProcessGroup.belongsToTask(g, taskID: task.id) { ProcessGroup.killNow(g) }
        }
    }

    // MARK: Waiting

    /// Polls `condition` every 15 ms until it holds; throws `RuntimeWaitTimeout` past `timeout`
    /// seconds. The deadline only guards against a hang: it is never what a test measures.
    public static func waitUntil(
        _ what: String, timeout: Double = 20, _ condition: () async throws -> Bool
    ) async throws {
        let deadline = ContinuousClock.now + .milliseconds(Int64(timeout * 1000))
        while true {
            if try await condition() { return }
            if ContinuousClock.now >= deadline { throw RuntimeWaitTimeout(what: what, seconds: timeout) }
            try await Task.sleep(for: .milliseconds(15))
        }
    }

    /// Runs `work` in its own task and returns its value, or throws `RuntimeWaitTimeout` if it has
    /// not finished within `timeout` seconds (the task is then abandoned, so a hang fails the
    /// test instead of stalling the whole run).
    public static func finishes<T: Sendable>(
        _ what: String, within timeout: Double = 20, _ work: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        let box = Locked<Result<T, any Error>?>(nil)
        let task = Task {
            let r: Result<T, any Error>
            do { r = .success(try await work()) } catch { r = .failure(error) }
            box.withLock { $0 = r }
        }
        do {
            try await waitUntil(what, timeout: timeout) { box.value != nil }
        } catch {
            task.cancel()
            throw error
        }
        return try box.value!.get()
    }

    // MARK: Runner

    /// Runs `runner` while `body` executes, then cancels it, waits for it to return and kills any
    /// agent left behind.
    @discardableResult
    public func withRunner<R>(_ runner: AgentRunner, _ body: () async throws -> R) async throws -> R {
        let task = Task { try await runner.run() }
        let result: Result<R, any Error>
        do { result = .success(try await body()) } catch { result = .failure(error) }
        task.cancel()
        _ = try? await Self.finishes("the runner to stop after cancellation", within: 30) { try await task.value }
        await killLeftoverAgents()
        return try result.get()
    }

    /// Waits until the runner has made its first pass and sits idle waiting for a wake-up (it
    /// has subscribed to task events by then).
    public static func waitUntilIdle(_ env: ServiceEnvironment) async throws {
        try await waitUntil("the runner's first dispatch pass") { env.health.heartbeats["agent_runner"] != nil }
    }

    /// Waits until the task reaches a status in `statuses` and returns it.
    @discardableResult
    public func waitForStatus(_ id: String, _ statuses: Set<TaskStatus>, timeout: Double = 20) async throws -> AgentTask {
        var task: AgentTask?
        try await Self.waitUntil("task \(id) to reach \(statuses.map(\.rawValue).sorted())", timeout: timeout) {
            task = try await store.get(id)
            return statuses.contains(task!.status)
        }
        return task!
    }
}

/// Records every change published on a task event bus from the moment it is created.
public final class RuntimeEventRecorder: Sendable {
    private let changes: Locked<[TaskChange]>
    private let task: Task<Void, Never>

    public init(_ bus: TaskEventBus) {
        let stream = bus.subscribe()
        let changes = Locked<[TaskChange]>([])
        self.changes = changes
        task = Task {
            for await change in stream { changes.withLock { $0.append(change) } }
        }
    }

    deinit { task.cancel() }

    public var all: [TaskChange] { changes.value }

    /// The task as each change of `kind` for `id` showed it, oldest first.
    public func tasks(_ kind: TaskChange.Kind, id: String) -> [AgentTask] {
        all.filter { $0.kind == kind && $0.task.id == id }.map(\.task)
    }
}
