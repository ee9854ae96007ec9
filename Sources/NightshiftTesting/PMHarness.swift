import Foundation
import NightshiftCore
import NightshiftRuntime
import NightshiftStore

/// Scratch state for project-manager service tests: a state dir with a real SQLite store that
/// carries the pipeline hook (built from the same config the services get, as `Daemon` does),
/// a backlog file, one `/bin/sh` agent script, and the agent runner plus the project manager
/// running as they do in the daemon. Tests wait on the store with deadlines, never on a sleep.
public final class PMHarness: Sendable {
    public let tmp: TemporaryDirectory
    public let paths: StatePaths
    public let config: NightshiftConfig
    public let store: SQLiteTaskStore
    public let env: ServiceEnvironment
    /// The backlog file (`project_manager.backlog`).
    public let backlogPath: String
    /// The agent script every phase runs (`runner.executors.default`, with `{task_id}` as $1).
    public let agentPath: String
    /// A scratch directory the agents get as `$PM_SHARED` for markers and barriers.
    public let shared: String

    /// `agent` is the body of a `/bin/sh` script; `clock` (real time when nil) stamps what the
    /// services persist. `configure` sees the defaults (2 workers, 2 items in parallel, no
    /// worktree cleanup) before the store and services are built.
    public init(
        backlog: String, agent: String, clock: MutableNow? = nil,
        configure: (inout NightshiftConfig) throws -> Void = { _ in }
    ) throws {
        tmp = try TemporaryDirectory(prefix: "nightshift-pm")
        paths = StatePaths(root: tmp.path("state"))
        try paths.prepare()
        shared = tmp.path("shared")
        try FileManager.default.createDirectory(atPath: shared, withIntermediateDirectories: true)
        agentPath = try tmp.write("#!/bin/sh\n" + agent + "\n", to: "bin/agent.sh")
        backlogPath = try tmp.write(backlog, to: "backlog.md")
        var c = RuntimeHarness.fastConfig()
        c.stateDir = paths.root
        c.runner.executors = ["default": .init(command: "/bin/sh \(agentPath) {task_id}", env: ["PM_SHARED": shared])]
        c.projectManager.backlog = backlogPath
        c.projectManager.parallelItems = 2
        c.projectManager.worktreeRetention = 0
        try configure(&c)
        c = c.withDerivedExecutors()
        config = c
        store = try SQLiteTaskStore(
            path: paths.database, pipeline: PipelineHook(plan: PipelinePlan(config: c), maxAttempts: c.runner.maxAttempts))
        var now: @Sendable () -> Date = { Date() }
        if let clock { now = clock.provider }
        let logs = ComponentLogs(
            paths: paths, maxBytes: c.logs.maxBytes, backups: c.logs.backups, redactor: Redactor(), echo: false)
        env = ServiceEnvironment(
            config: c, paths: paths, store: store, logs: logs, redactor: Redactor(),
            version: VersionInfo(gitSHA: "test", startedAt: Date()), instanceID: "pm-test-daemon",
            now: now)
    }

    /// The project manager over this harness's store, with worktrees under `<state>/worktrees`
    /// when `repository` is given.
    public func projectManager(repository: String? = nil) -> ProjectManager {
        ProjectManager(
            env: env, pipeline: store, workspace: repository.map { Workspace(repository: $0, root: paths.file("worktrees")) })
    }

    /// Replaces the backlog file atomically (the project manager never sees half a file).
    public func writeBacklog(_ text: String) throws {
        try Data(text.utf8).write(to: URL(fileURLWithPath: backlogPath), options: .atomic)
    }

    /// Runs `prepare()`, then the runner and the project manager while `body` executes; then
    /// cancels both, waits for them to return, and kills any agent left behind.
    public func run<R>(_ pm: ProjectManager, prepare: Bool = true, _ body: () async throws -> R) async throws -> R {
        if prepare { try await pm.prepare() }
        let runner = AgentRunner(env: env)
        let runnerTask = Task { try await runner.run() }
        let pmTask = Task { try await pm.run() }
        let result: Result<R, any Error>
        do { result = .success(try await body()) } catch { result = .failure(error) }
        pmTask.cancel()
        runnerTask.cancel()
        _ = try? await RuntimeHarness.finishes("the project manager to stop", within: 30) { try await pmTask.value }
        _ = try? await RuntimeHarness.finishes("the runner to stop", within: 30) { try await runnerTask.value }
        await killLeftoverAgents()
        return try result.get()
    }

    /// Kills the process group of any task whose agent still runs (a safety net after failures).
    public func killLeftoverAgents() async {
        guard let page = try? await store.list(TaskQuery(limit: 10_000)) else { return }
        for task in page.tasks {
            if let g = task.pgid, ProcessGroup.belongsToTask(g, taskID: task.id) { ProcessGroup.killNow(g) }
        }
    }

    // MARK: Reading the pipeline

    public func items() async throws -> [BacklogItem] { try await store.items() }

    public func item(_ key: String) async throws -> BacklogItem {
        guard let item = try await store.items().first(where: { $0.key == key }) else {
            throw StoreError(.notFound, "no backlog item \(key)")
        }
        return item
    }

    /// Every task of the item, oldest first.
    public func tasks(of key: String) async throws -> [AgentTask] {
        try await store.list(TaskQuery(backlogItem: key, limit: 10_000)).tasks.sorted {
            ($0.createdAt, $0.id) < ($1.createdAt, $1.id)
        }
    }

    /// Every task, oldest first.
    public func allTasks() async throws -> [AgentTask] {
        try await store.list(TaskQuery(limit: 10_000)).tasks.sorted { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) }
    }

    /// Polls the items until `condition` holds; throws `RuntimeWaitTimeout` past `timeout`.
    @discardableResult
    public func waitForItems(
        _ what: String, timeout: Double = 60, _ condition: @escaping ([BacklogItem]) -> Bool
    ) async throws -> [BacklogItem] {
        var items: [BacklogItem] = []
        try await RuntimeHarness.waitUntil(what, timeout: timeout) {
            items = try await self.store.items()
            return condition(items)
        }
        return items
    }

    /// Waits until no item is queued or active, and returns them.
    @discardableResult
    public func waitUntilSettled(timeout: Double = 60) async throws -> [BacklogItem] {
        try await waitForItems("every item to be done or blocked", timeout: timeout) { items in
            !items.isEmpty && items.allSatisfy { $0.state == .done || $0.state == .blocked }
        }
    }

    /// The parsed `project_manager_state.json`, or nil when absent or not a JSON object.
    public func stateFile() -> [String: Any]? {
        guard let data = FileManager.default.contents(atPath: paths.projectManagerState) else { return nil }
        return try? JSONSerialization.jsonObject(with: data) as? [String: Any]
    }

    /// (item, phase, iteration) triples that occur more than once among `tasks`.
    public static func duplicates(_ tasks: [AgentTask]) -> [String] {
        var seen: [String: Int] = [:]
        for t in tasks { seen["\(t.backlogItem ?? "-")/\(t.phase ?? "-")/\(t.iteration ?? 0)", default: 0] += 1 }
        return seen.filter { $0.value > 1 }.map(\.key).sorted()
    }
}
