import Foundation
import Logging
import NightshiftCore
import NightshiftStore
import ServiceLifecycle

/// Turns the backlog into the night's work: imports it (again whenever the file changes),
/// starts up to `parallel_items` items whose dependencies are done, and moves items along when
/// their tasks end (the store does that in the same transaction; this service catches up after
/// a pause or a closed window). Writes `project_manager_state.json` after each change.
public final class ProjectManager: Service, Sendable {
    public struct Configuration: Sendable {
        /// Backlog file or directory; "" disables the project manager.
        public var backlog: String
        public var parallelItems: Int
        /// Stop creating work this long after the window opened; 0 = no limit.
        public var hours: Double
        /// How often the backlog file is checked for changes (and the fallback pass).
        public var interval: Double = 2
        public var worktreeRetention: Double
    }

    /// The `project_manager` section of pipeline-status, and project_manager_state.json.
    public struct Status: Encodable, Sendable {
        public struct InFlight: Encodable, Sendable {
            var key: String
            var title: String
            var phase: String?
            var iteration: Int
            var currentTaskID: String?
            var taskStatus: String?
            var branch: String?
            enum CodingKeys: String, CodingKey {
                case key, title, phase, iteration, branch
                case currentTaskID = "current_task_id"
                case taskStatus = "task_status"
            }
        }
        public struct Blocked: Encodable, Sendable {
            var key: String
            var title: String
            var reason: String
        }
        var enabled: Bool
        var backlog: String
        public var state: String
        var paused: Bool
        var windowEndsAt: Date?
        var itemsByState: [String: Int]
        public var inFlight: [InFlight]
        var blocked: [Blocked]
        var backlogError: String?
        var lastImportAt: Date?
        var updatedAt: Date
        var items: [BacklogItem]
        enum CodingKeys: String, CodingKey {
            case enabled, backlog, state, paused, blocked, items
            case windowEndsAt = "window_ends_at"
            case itemsByState = "items_by_state"
            case inFlight = "in_flight"
            case backlogError = "backlog_error"
            case lastImportAt = "last_import_at"
            case updatedAt = "updated_at"
        }
    }

    let env: ServiceEnvironment
    let pipeline: any PipelineStore
    let workspace: Workspace?
    let configuration: Configuration
    let logger: Logger
    let wake = WakeSignal()
    /// Fingerprint of the backlog as last imported, and the last parse error.
    let backlogState = Locked<(fingerprint: String?, error: String?, importedAt: Date?)>((nil, nil, nil))
    /// The parse error last logged: a broken file is logged once per change, not every pass.
    let loggedBacklogError = Locked<String?>(nil)
    /// Each item's (state, phase, iteration) at the last pass, to log what moved; and whether
    /// "backlog finished" was said for the current set of items.
    let lastSeen = Locked<(items: [String: ItemProgress], finishedSaid: Bool)?>(nil)

    struct ItemProgress: Equatable {
        var state: ItemState
        var phase: String?
        var iteration: Int
    }

    /// Why the backlog file does not parse now (`file:line: reason`), or nil.
    public var backlogError: String? { backlogState.value.error }

    public init(env: ServiceEnvironment, pipeline: any PipelineStore, workspace: Workspace?) {
        self.env = env
        self.pipeline = pipeline
        self.workspace = workspace
        let pm = env.config.projectManager
        self.configuration = Configuration(
            backlog: pm.backlog, parallelItems: pm.parallelItems, hours: pm.hours, worktreeRetention: pm.worktreeRetention)
        self.logger = env.logs.logger("project_manager")
    }

    public var isEnabled: Bool { !configuration.backlog.isEmpty }

    /// Startup: the backlog must parse (a malformed one stops startup), the workspace must be a
    /// clean repository, and the overnight window is opened or resumed.
    public func prepare() async throws {
        guard isEnabled else { return }
        if let workspace { try await workspace.validate() }
        if let error = try await importIfChanged(force: true) { throw error }
        try await openWindow()
    }

    func openWindow() async throws {
        let now = env.now()
        guard configuration.hours > 0 else {
            try await pipeline.setPipelineValue(PipelineKeys.windowEndsAt, nil)
            try await pipeline.setPipelineValue(PipelineKeys.windowHours, nil)
            return
        }
        // A restart in the middle of a window keeps it; otherwise a new one opens now.
        let hours = "\(configuration.hours)"
        if try await pipeline.pipelineValue(PipelineKeys.windowHours) == hours,
            let end = try await pipeline.pipelineValue(PipelineKeys.windowEndsAt).flatMap(Double.init),
            end > now.timeIntervalSince1970
        {
            logger.info("resuming the overnight window until \(Timestamp.format(Date(timeIntervalSince1970: end)))")
            return
        }
        let end = now.addingTimeInterval(configuration.hours)
        try await pipeline.setPipelineValue(PipelineKeys.windowHours, hours)
        try await pipeline.setPipelineValue(PipelineKeys.windowEndsAt, "\(end.timeIntervalSince1970)")
        logger.info("overnight window open until \(Timestamp.format(end))")
    }

    public func pause() async throws {
        try await pipeline.setPipelineValue(PipelineKeys.paused, "1")
        logger.info("paused: no new work will be created")
        wake.signal()
    }

    public func resume() async throws {
        try await pipeline.setPipelineValue(PipelineKeys.paused, nil)
        logger.info("resumed")
        wake.signal()
    }

    public func run() async throws {
        guard isEnabled else {
            try? await gracefulShutdown()
            return
        }
        env.health.setRunning("project_manager", true)
        defer { env.health.setRunning("project_manager", false) }
        let events = env.events.subscribe()
        let clock = env.clock
        let interval = configuration.interval
        await cancelWhenGracefulShutdown {
            // The passes, the event watcher and the ticker are children of one group: they end together.
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    for await change in events
                    where [.finished, .cancelled, .rescued, .retried, .decided, .expired].contains(change.kind) {
                        self.wake.signal()
                    }
                }
                group.addTask {
                    while !Task.isCancelled {
                        do { try await clock.sleep(for: .seconds(interval)) } catch { return }
                        self.wake.signal()
                    }
                }
                while !Task.isCancelled {
                    do {
                        _ = try await self.runOnce()
                    } catch {
                        self.logger.error("project manager pass failed: \(error)")
                    }
                    await self.wake.wait()
                }
                group.cancelAll()
            }
        }
    }

    /// What one pass did.
    public struct PassResult: Sendable, Equatable {
        public var imported: Bool = false
        public var started: [String] = []
        public var created: [String] = []
    }

    /// One pass: re-import a changed backlog, catch items up, start new items, write the view.
    @discardableResult
    public func runOnce() async throws -> PassResult {
        var result = PassResult()
        if let error = try await importIfChanged(force: false) {
            let text = error.description
            if loggedBacklogError.value != text {
                loggedBacklogError.withLock { $0 = text }
                logger.error("\(text); keeping the last good import until the file is fixed")
            }
        } else {
            if loggedBacklogError.value != nil {
                loggedBacklogError.withLock { $0 = nil }
                logger.info("the backlog parses again")
            }
            result.imported = true
        }
        let now = env.now()
        for task in try await env.ledger.reconcileItems(in: pipeline, now: now) {
            result.created.append(task.id)
        }
        for item in try await pipeline.startableItems(parallel: configuration.parallelItems) {
            var workdir: String?
            var branch: String?
            if let workspace {
                do {
                    (workdir, branch) = try await workspace.ensureWorktree(slug: item.slug)
                } catch {
                    logger.error("cannot create the worktree of item \(item.key): \(error)")
                    continue
                }
            }
            if let task = try await env.ledger.startItem(
                in: pipeline, key: item.key, parallel: configuration.parallelItems, workdir: workdir, branch: branch,
                now: env.now())
            {
                result.started.append(item.key)
                logger.info(
                    "started item \(item.key) \"\(item.title)\" with \(task.phase ?? task.taskType.rawValue)",
                    metadata: ["task.id": "\(task.id)"])
            }
        }
        try await cleanWorktrees()
        let status = try await status()
        logProgress(status.items)
        try? AtomicFile.writeJSON(status, to: env.paths.projectManagerState)
        env.health.beat("project_manager", at: env.now())
        return result
    }

    /// Logs at INFO what moved since the last pass: phase changes, items done or blocked (with
    /// the reason), and once, the backlog finished. The store moves items inside the
    /// transactions that end tasks; this is where an operator watching the log hears of it.
    func logProgress(_ items: [BacklogItem]) {
        var current: [String: ItemProgress] = [:]
        for item in items { current[item.key] = ItemProgress(state: item.state, phase: item.phase, iteration: item.iteration) }
        let finished = !items.isEmpty && items.allSatisfy { $0.state == .done || $0.state == .blocked }
        let seen = lastSeen.value
        lastSeen.withLock { $0 = (current, finished) }
        // The first pass after a start only takes stock: what happened before was logged then.
        guard let (previous, finishedSaid) = seen else { return }
        for item in items {
            // New items are announced when they start ("started item ..."), not here.
            guard let before = previous[item.key], let now = current[item.key], before != now else { continue }
            let label = "item \(item.key) \"\(item.title)\""
            let meta: Logger.Metadata = ["item": "\(item.key)", "phase": "\(item.phase ?? "")"]
            switch item.state {
            case .done where before.state != .done:
                logger.info("\(label) done", metadata: meta)
            case .blocked where before.state != .blocked:
                logger.info("\(label) blocked: \(item.blockedReason ?? "no reason recorded")", metadata: meta)
            case .active where before.state != .queued && (before.phase != now.phase || before.iteration != now.iteration):
                let from = before.phase.map { "\($0) → " } ?? ""
                let iteration = now.iteration > 1 ? " (iteration \(now.iteration))" : ""
                logger.info("\(label) phase \(from)\(now.phase ?? "?")\(iteration)", metadata: meta)
            default:
                break
            }
        }
        if finished && !finishedSaid {
            let done = items.filter { $0.state == .done }.count
            logger.info("backlog finished: \(done) item(s) done, \(items.count - done) blocked")
        }
    }

    /// Imports the backlog when its content changed; returns the parse error, if any.
    func importIfChanged(force: Bool) async throws -> BacklogError? {
        let parsed: (entries: [BacklogEntry], fingerprint: String)
        do {
            parsed = try Self.readBacklog(configuration.backlog)
        } catch let error as BacklogError {
            backlogState.withLock { $0.error = error.description }
            return error
        }
        if !force && backlogState.value.fingerprint == parsed.fingerprint {
            backlogState.withLock { $0.error = nil }  // the file is back to what was imported
            return nil
        }
        let summary = try await pipeline.importBacklog(parsed.entries, now: env.now())
        backlogState.withLock { $0 = (parsed.fingerprint, nil, env.now()) }
        if !summary.added.isEmpty || !summary.updated.isEmpty {
            logger.info(
                "imported the backlog: \(summary.added.count) new, \(summary.updated.count) changed, \(summary.unchanged) unchanged"
            )
        }
        return nil
    }

    /// Parses the backlog file or directory; the fingerprint changes whenever its content does.
    static func readBacklog(_ path: String) throws -> (entries: [BacklogEntry], fingerprint: String) {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw BacklogError(file: path, line: nil, reason: "no such file or directory (project_manager.backlog)")
        }
        if isDir.boolValue {
            let names = ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).filter { $0.hasSuffix(".md") }
            var files: [(name: String, text: String)] = []
            for name in names {
                let full = (path as NSString).appendingPathComponent(name)
                guard let text = try? String(contentsOfFile: full, encoding: .utf8) else {
                    throw BacklogError(file: full, line: nil, reason: "cannot read it as UTF-8 text")
                }
                files.append((name, text))
            }
            let fingerprint = files.sorted { $0.name < $1.name }.map { "\($0.name)\u{0}\($0.text)" }.joined(separator: "\u{1}")
            return (try BacklogParser.parseDirectory(files, directory: path), fingerprint)
        }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw BacklogError(file: path, line: nil, reason: "cannot read it as UTF-8 text")
        }
        return (try BacklogParser.parseNumbered(text, file: path), text)
    }

    /// Removes worktrees of items that finished longer ago than the retention.
    func cleanWorktrees() async throws {
        guard let workspace, configuration.worktreeRetention > 0 else { return }
        let cutoff = env.now().addingTimeInterval(-configuration.worktreeRetention)
        for item in try await pipeline.items() where item.state == .done {
            guard let dir = item.workdir, let finished = item.finishedAt, finished < cutoff,
                FileManager.default.fileExists(atPath: dir)
            else { continue }
            do {
                try await workspace.removeWorktree(dir)
                logger.info("removed the worktree of finished item \(item.key) (its branch \(item.branch ?? "") stays)")
            } catch {
                logger.warning("cannot remove worktree \(dir): \(error)")
            }
        }
    }

    public func status() async throws -> Status {
        let items = try await pipeline.items()
        let paused = try await pipeline.pipelineValue(PipelineKeys.paused) == "1"
        let windowEnd = try await pipeline.pipelineValue(PipelineKeys.windowEndsAt).flatMap(Double.init).map(
            Date.init(timeIntervalSince1970:))
        var byState = Dictionary(uniqueKeysWithValues: ItemState.allCases.map { ($0.rawValue, 0) })
        for i in items { byState[i.state.rawValue, default: 0] += 1 }
        var inFlight: [Status.InFlight] = []
        for i in items where i.state == .active {
            let taskStatus = try? await i.currentTaskID.asyncMap { try await env.store.get($0).status.rawValue }
            inFlight.append(
                .init(
                    key: i.key, title: i.title, phase: i.phase, iteration: i.iteration, currentTaskID: i.currentTaskID,
                    taskStatus: taskStatus ?? nil, branch: i.branch))
        }
        let now = env.now()
        let state: String
        if !isEnabled {
            state = "disabled"
        } else if paused {
            state = "paused"
        } else if let windowEnd, now >= windowEnd {
            state = "window_closed"
        } else if items.allSatisfy({ $0.state == .done || $0.state == .blocked }) {
            state = "idle"
        } else {
            state = "running"
        }
        let b = backlogState.value
        return Status(
            enabled: isEnabled, backlog: configuration.backlog, state: state, paused: paused, windowEndsAt: windowEnd,
            itemsByState: byState, inFlight: inFlight,
            blocked: items.filter { $0.state == .blocked }.map {
                .init(key: $0.key, title: $0.title, reason: $0.blockedReason ?? "")
            },
            backlogError: b.error, lastImportAt: b.importedAt, updatedAt: now, items: items)
    }
}

extension Optional {
    func asyncMap<T>(_ f: (Wrapped) async throws -> T) async rethrows -> T? {
        guard let v = self else { return nil }
        return try await f(v)
    }
}
