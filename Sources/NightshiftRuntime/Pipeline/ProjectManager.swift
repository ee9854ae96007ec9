import Foundation
import Logging
import NightshiftCore
import NightshiftStore
import ServiceLifecycle

#if canImport(Glibc)
    import Glibc
#endif

/// Turns the backlog into the night's work: imports it (again whenever the file changes),
/// starts up to `parallel_items` items whose dependencies are done, and moves items along when
/// their tasks end (the store does that in the same transaction; this service catches up after
/// a pause or a closed window). A pass costs the same for 5 items or 5,000: it reads counts,
/// the active items and the startable ones, never the whole backlog, and rewrites
/// `project_manager_state.json` (bounded) only when what it shows changed.
public final class ProjectManager: Service, Sendable {
    public struct Configuration: Sendable {
        /// Backlog file or directory; "" disables the project manager.
        public var backlog: String
        public var parallelItems: Int
        /// Stop creating work this long after the window opened; 0 = no limit.
        public var hours: Double
        /// How often the backlog file is checked for changes, finished worktrees are cleaned up
        /// and the fallback pass runs; passes woken by a task's end skip the first two.
        public var interval: Double = 2
        public var worktreeRetention: Double
        /// How many blocked items and progress lines the state file lists (counts cover the rest).
        public var stateListLimit = 20
        /// The state file is rewritten on change, and after this long without one so that its
        /// `updated_at` shows the project manager is alive.
        public var stateRefresh: Double = 10
        /// Passes woken by a task's end write the state file at most this often (each write is
        /// an fsync); the ticker's passes write whatever is left, and so does shutdown.
        public var stateMinInterval: Double = 1
    }

    /// The `project_manager` section of pipeline-status, and project_manager_state.json.
    public struct Status: Encodable, Sendable {
        public struct InFlight: Encodable, Sendable, Equatable {
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
        public struct Blocked: Encodable, Sendable, Equatable {
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
        /// The merge queue, when `project_manager.land` is on.
        public var landing: LandingView?
        enum CodingKeys: String, CodingKey {
            case enabled, backlog, state, paused, blocked, items, landing
            case windowEndsAt = "window_ends_at"
            case itemsByState = "items_by_state"
            case inFlight = "in_flight"
            case backlogError = "backlog_error"
            case lastImportAt = "last_import_at"
            case updatedAt = "updated_at"
        }
    }

    /// `project_manager_state.json`: what an operator reads, bounded whatever the backlog's size
    /// (the API's pipeline-status has every item).
    public struct StateFile: Encodable, Sendable, Equatable {
        var enabled: Bool
        var backlog: String
        public var state: String
        var paused: Bool
        var windowEndsAt: Date?
        var itemsByState: [String: Int]
        public var inFlight: [Status.InFlight]
        /// The first blocked items in backlog order (`items_by_state.blocked` counts them all).
        var blocked: [Status.Blocked]
        /// What moved lately, newest first.
        var recent: [Progress]
        var backlogError: String?
        var lastImportAt: Date?
        var updatedAt: Date
        enum CodingKeys: String, CodingKey {
            case enabled, backlog, state, paused, blocked, recent
            case windowEndsAt = "window_ends_at"
            case itemsByState = "items_by_state"
            case inFlight = "in_flight"
            case backlogError = "backlog_error"
            case lastImportAt = "last_import_at"
            case updatedAt = "updated_at"
        }
    }

    /// One line of progress: an item started, changed phase, finished or was blocked.
    public struct Progress: Encodable, Sendable, Equatable {
        var at: Date
        var key: String
        var title: String
        var event: String
        var phase: String?
        var detail: String?
    }

    let env: ServiceEnvironment
    let pipeline: any PipelineStore
    let workspace: Workspace?
    /// The merge queue (`project_manager.land`); nil when off or without a workspace.
    public let queue: MergeQueue?
    public let configuration: Configuration
    let logger: Logger
    let wake = WakeSignal()
    /// Fingerprint of the backlog as last imported, and the last parse error.
    let backlogState = Locked<(fingerprint: String?, error: String?, importedAt: Date?)>((nil, nil, nil))
    /// The file stamps of the backlog as last read and what the read gave; while they stay the
    /// same (and were not racy), a pass does not read the file again.
    let backlogRead = Locked<(stamp: BacklogStamp, error: BacklogError?)?>(nil)
    /// The parse error last logged: a broken file is logged once per change, not every pass.
    let loggedBacklogError = Locked<String?>(nil)
    /// The active items' (state, phase, iteration) at the last pass, to log what moved; and
    /// whether "backlog finished" was said for the current set of items.
    let lastSeen = Locked<(items: [String: ItemProgress], finishedSaid: Bool)?>(nil)
    /// Progress lines for the state file, newest first.
    let recent = Locked<[Progress]>([])
    /// The state file as last written (and when), to write it only on change; and a newer view
    /// held back by `stateMinInterval`.
    let lastWritten = Locked<(file: StateFile, at: Date)?>(nil)
    let heldBack = Locked<StateFile?>(nil)
    /// Worktrees of items finished before this were looked at already.
    let cleanedBefore = Locked<Date?>(nil)
    /// The overview at the last pass: a pass that finds it changed says so on the event bus.
    let lastOverview = Locked<PipelineOverview?>(nil)
    /// Set by the ticker: the next pass also does the periodic work.
    let tickDue = Locked(false)

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
        if let workspace, pm.land != .off, let landing = pipeline as? any LandingStore & PipelineStore {
            self.queue = MergeQueue(env: env, store: landing, workspace: workspace)
        } else {
            self.queue = nil
        }
    }

    public var isEnabled: Bool { !configuration.backlog.isEmpty }

    /// Startup: the backlog must parse (a malformed one stops startup), the workspace must be a
    /// clean repository, and the overnight window is opened or resumed.
    public func prepare() async throws {
        guard isEnabled else { return }
        if let workspace { try await workspace.validate() }
        try await queue?.prepare()
        if let error = try await importIfChanged(force: true) { throw error }
        // Attempts a stopped daemon left (rescued now) may have left work in their worktrees.
        await saveActiveWork(reason: "found at startup")
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
                    where [.finished, .cancelled, .rescued, .retried, .reprocessed, .decided, .expired].contains(change.kind) {
                        self.wake.signal()
                        self.queue?.wake.signal()
                        if let reason = Self.abandonedWork(change) { await self.saveWork(of: change.task, reason: reason) }
                    }
                }
                if let queue = self.queue {
                    group.addTask { await queue.run() }
                }
                group.addTask {
                    while !Task.isCancelled {
                        do { try await clock.sleep(for: .seconds(interval)) } catch { return }
                        self.tickDue.withLock { $0 = true }
                        self.wake.signal()
                        self.queue?.wake.signal()
                    }
                }
                var first = true
                while !Task.isCancelled {
                    let periodic =
                        first
                        || self.tickDue.withLock { due in
                            defer { due = false }
                            return due
                        }
                    first = false
                    do {
                        _ = try await self.runOnce(periodic: periodic)
                    } catch {
                        self.logger.error("project manager pass failed: \(error)")
                    }
                    await self.wake.wait()
                }
                group.cancelAll()
            }
        }
        if let file = heldBack.value { writeStateFile(file, periodic: true) }
        // Shutdown: what running agents left in their worktrees is saved (a detached task, so
        // that a cancelled run still gets to run git).
        await Task.detached { await self.saveActiveWork(reason: "shutdown") }.value
    }

    /// What one pass did.
    public struct PassResult: Sendable, Equatable {
        public var imported: Bool = false
        public var started: [String] = []
        public var created: [String] = []
    }

    /// One pass: catch items up, start new items, write the view if it changed. `periodic`
    /// (the ticker's passes, and every pass a test runs) also re-imports a changed backlog and
    /// removes old worktrees; passes woken by a task's end skip that.
    @discardableResult
    public func runOnce(periodic: Bool = true) async throws -> PassResult {
        var result = PassResult()
        if periodic {
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
        } else {
            result.imported = backlogState.value.error == nil
        }
        let now = env.now()
        for task in try await env.ledger.reconcileItems(in: pipeline, now: now) {
            result.created.append(task.id)
        }
        var startedItems: [BacklogItem] = []
        for item in try await pipeline.startableItems(parallel: configuration.parallelItems) {
            var workdir: String?
            var branch: String?
            if let workspace {
                do {
                    (workdir, branch) = try await workspace.ensureWorktree(slug: item.slug, from: queue?.baseBranch ?? "HEAD")
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
                startedItems.append(item)
                logger.info(
                    "started item \(item.key) \"\(item.title)\" with \(task.phase ?? task.taskType.rawValue)",
                    metadata: ["task.id": "\(task.id)"])
                note(item, "started", phase: task.phase)
            }
        }
        if periodic { try await cleanWorktrees() }
        let overview = try await pipeline.overview(blockedLimit: configuration.stateListLimit)
        try await logProgress(overview, started: startedItems)
        if lastOverview.withLock({ last in
            defer { last = overview }
            return last != overview
        }) {
            env.events.publishSignal(.backlog)
        }
        writeStateFile(stateFile(overview), periodic: periodic)
        env.health.beat("project_manager", at: env.now())
        return result
    }

    /// Writes the state file when what it shows changed, or when the last write is older than
    /// `stateRefresh`; a pass that is not `periodic` holds a change back for up to
    /// `stateMinInterval` after the last write. A failed write is tried again next pass.
    func writeStateFile(_ file: StateFile, periodic: Bool) {
        let now = env.now()
        if let last = lastWritten.value {
            let age = now.timeIntervalSince(last.at)
            var unchanged = file
            unchanged.updatedAt = last.file.updatedAt
            if unchanged == last.file && age < configuration.stateRefresh {
                heldBack.withLock { $0 = nil }
                return
            }
            if !periodic && age < configuration.stateMinInterval {
                heldBack.withLock { $0 = file }
                return
            }
        }
        guard (try? AtomicFile.writeJSON(file, to: env.paths.projectManagerState)) != nil else { return }
        lastWritten.withLock { $0 = (file, now) }
        heldBack.withLock { $0 = nil }
    }

    /// Adds a progress line for the state file.
    func note(_ item: BacklogItem, _ event: String, phase: String?, detail: String? = nil) {
        let line = Progress(at: env.now(), key: item.key, title: item.title, event: event, phase: phase, detail: detail)
        let limit = configuration.stateListLimit
        recent.withLock { lines in
            lines.insert(line, at: 0)
            if lines.count > limit { lines.removeLast(lines.count - limit) }
        }
    }

    /// Logs at INFO what moved since the last pass: phase changes, items done or blocked (with
    /// the reason), and once, the backlog finished. The store moves items inside the
    /// transactions that end tasks; this is where an operator watching the log hears of it.
    /// Only active items are tracked: those that left the set since the last pass (and those
    /// started in this one, which may have finished already) are read by key.
    func logProgress(_ overview: PipelineOverview, started: [BacklogItem]) async throws {
        var current: [String: ItemProgress] = [:]
        for item in overview.active {
            current[item.key] = ItemProgress(state: item.state, phase: item.phase, iteration: item.iteration)
        }
        let counts = overview.counts
        let finished = overview.total > 0 && counts[.queued, default: 0] == 0 && counts[.active, default: 0] == 0
        var startedNow: [String: ItemProgress] = [:]
        for item in started { startedNow[item.key] = ItemProgress(state: .queued, phase: nil, iteration: 0) }
        let seen = lastSeen.value
        // The first pass after a start only takes stock: what happened before was logged then.
        // The items it started are looked at again next pass (they may have finished already).
        guard let (seenItems, finishedSaid) = seen else {
            lastSeen.withLock { $0 = (current.merging(startedNow) { active, _ in active }, finished) }
            return
        }
        lastSeen.withLock { $0 = (current, finished) }
        let previous = seenItems.merging(startedNow) { seen, _ in seen }
        let departed = previous.keys.filter { current[$0] == nil }
        let moved = overview.active + (try await pipeline.items(keys: departed))
        for item in moved {
            // New items are announced when they start ("started item ..."), not here.
            guard let before = previous[item.key] else { continue }
            let now = ItemProgress(state: item.state, phase: item.phase, iteration: item.iteration)
            guard before != now else { continue }
            let label = "item \(item.key) \"\(item.title)\""
            let meta: Logger.Metadata = ["item": "\(item.key)", "phase": "\(item.phase ?? "")"]
            switch item.state {
            case .done where before.state != .done:
                logger.info("\(label) done", metadata: meta)
                note(item, "done", phase: item.phase)
            case .blocked where before.state != .blocked:
                let reason = item.blockedReason ?? "no reason recorded"
                logger.info("\(label) blocked: \(reason)", metadata: meta)
                note(item, "blocked", phase: item.phase, detail: reason)
            case .active where before.state != .queued && (before.phase != now.phase || before.iteration != now.iteration):
                let from = before.phase.map { "\($0) → " } ?? ""
                let iteration = now.iteration > 1 ? " (iteration \(now.iteration))" : ""
                logger.info("\(label) phase \(from)\(now.phase ?? "?")\(iteration)", metadata: meta)
                note(item, "phase", phase: now.phase, detail: now.iteration > 1 ? "iteration \(now.iteration)" : nil)
            default:
                break
            }
        }
        if finished && !finishedSaid {
            let done = counts[.done, default: 0]
            logger.info("backlog finished: \(done) item(s) done, \(overview.total - done) blocked")
        }
    }

    /// Imports the backlog when its content changed; returns the parse error, if any. The file
    /// is read only when its stamps (inode, size, mtime, ctime) changed since the last read.
    func importIfChanged(force: Bool) async throws -> BacklogError? {
        let stamp = BacklogStamp(configuration.backlog)
        if !force, let stamp, let last = backlogRead.value, last.stamp == stamp {
            if last.error == nil { backlogState.withLock { $0.error = nil } }
            return last.error
        }
        // Stamps read within a second of a change may miss a second change in the same tick of
        // the file system's clock: those are not remembered, so the next pass reads again. (Real
        // time here, not env.now(): it is compared with the file system's timestamps.)
        let remember: (BacklogError?) -> Void = { error in
            self.backlogRead.withLock { $0 = stamp.flatMap { $0.isSettled(at: Date()) ? ($0, error) : nil } }
        }
        let parsed: (entries: [BacklogEntry], fingerprint: String)
        do {
            parsed = try Self.readBacklog(configuration.backlog)
        } catch let error as BacklogError {
            backlogState.withLock { $0.error = error.description }
            remember(error)
            return error
        }
        if !force && backlogState.value.fingerprint == parsed.fingerprint {
            backlogState.withLock { $0.error = nil }  // the file is back to what was imported
            remember(nil)
            return nil
        }
        let summary = try await pipeline.importBacklog(parsed.entries, now: env.now())
        backlogState.withLock { $0 = (parsed.fingerprint, nil, env.now()) }
        remember(nil)
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

    /// Removes worktrees of items that finished longer ago than the retention. Each pass looks
    /// at the items that crossed the retention since the last one (all of them after a start).
    func cleanWorktrees() async throws {
        guard let workspace, configuration.worktreeRetention > 0 else { return }
        let cutoff = env.now().addingTimeInterval(-configuration.worktreeRetention)
        let since = cleanedBefore.value
        for item in try await pipeline.finishedItems(since: since, before: cutoff) {
            guard let dir = item.workdir, FileManager.default.fileExists(atPath: dir) else { continue }
            do {
                let result = try await workspace.retireWorktree(
                    dir, slug: item.slug, reason: "worktree_retention", redactor: env.redactor, now: env.now(),
                    push: env.config.projectManager.land == .push)
                switch result {
                case .removed:
                    logger.info("removed the worktree of finished item \(item.key) (its branch \(item.branch ?? "") stays)")
                case .kept(let why, _):
                    logger.warning("kept the worktree of finished item \(item.key): \(why)")
                }
            } catch {
                logger.warning("cannot remove worktree \(dir): \(error); it is tried again after a restart")
            }
        }
        cleanedBefore.withLock { $0 = max($0 ?? cutoff, cutoff) }
    }

    /// The overall state: disabled, paused, window_closed, idle (nothing queued or active) or running.
    func stateName(_ o: PipelineOverview, now: Date) -> String {
        if !isEnabled { return "disabled" }
        if o.paused { return "paused" }
        if let end = o.windowEndsAt, now >= end { return "window_closed" }
        if o.counts[.queued, default: 0] == 0 && o.counts[.active, default: 0] == 0 { return "idle" }
        return "running"
    }

    func inFlight(_ o: PipelineOverview) -> [Status.InFlight] {
        o.active.map {
            .init(
                key: $0.key, title: $0.title, phase: $0.phase, iteration: $0.iteration, currentTaskID: $0.currentTaskID,
                taskStatus: o.taskStatus[$0.key]?.rawValue, branch: $0.branch)
        }
    }

    func byState(_ o: PipelineOverview) -> [String: Int] {
        Dictionary(uniqueKeysWithValues: ItemState.allCases.map { ($0.rawValue, o.counts[$0, default: 0]) })
    }

    /// The bounded view for `project_manager_state.json`.
    func stateFile(_ o: PipelineOverview) -> StateFile {
        let now = env.now()
        let b = backlogState.value
        return StateFile(
            enabled: isEnabled, backlog: configuration.backlog, state: stateName(o, now: now), paused: o.paused,
            windowEndsAt: o.windowEndsAt, itemsByState: byState(o), inFlight: inFlight(o),
            blocked: o.blocked.map { .init(key: $0.key, title: $0.title, reason: $0.blockedReason ?? "") }, recent: recent.value,
            backlogError: b.error, lastImportAt: b.importedAt, updatedAt: now)
    }

    /// The full view (every item) for the API's pipeline-status; passes never build it.
    public func status() async throws -> Status {
        let o = try await pipeline.overview(blockedLimit: nil)
        let items = try await pipeline.items()
        let now = env.now()
        let b = backlogState.value
        return Status(
            enabled: isEnabled, backlog: configuration.backlog, state: stateName(o, now: now), paused: o.paused,
            windowEndsAt: o.windowEndsAt, itemsByState: byState(o), inFlight: inFlight(o),
            blocked: o.blocked.map { .init(key: $0.key, title: $0.title, reason: $0.blockedReason ?? "") },
            backlogError: b.error, lastImportAt: b.importedAt, updatedAt: now, items: items,
            landing: try await landingView())
    }
}

/// What identifies the backlog's content without reading it: inode, size, mtime and ctime of
/// the file, or of the directory and each `.md` file in it.
struct BacklogStamp: Equatable, Sendable {
    struct File: Equatable, Sendable {
        var name: String
        var inode: UInt64
        var size: Int64
        var modified: Double
        var changed: Double
    }
    var files: [File]

    /// nil when the path cannot be stat'ed (the read that follows reports why).
    init?(_ path: String) {
        guard let top = Self.fileStamp(path, name: "") else { return nil }
        files = [top]
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue else { return }
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).filter { $0.hasSuffix(".md") }.sorted()
        for name in names {
            guard let f = Self.fileStamp((path as NSString).appendingPathComponent(name), name: name) else { return nil }
            files.append(f)
        }
    }

    /// True when no file changed within a second of `now`: a later change shows in the stamps.
    func isSettled(at now: Date) -> Bool {
        files.allSatisfy { max($0.modified, $0.changed) < now.timeIntervalSince1970 - 1 }
    }

    static func fileStamp(_ path: String, name: String) -> File? {
        var s = stat()
        guard stat(path, &s) == 0 else { return nil }
        func seconds(_ t: timespec) -> Double { Double(t.tv_sec) + Double(t.tv_nsec) / 1e9 }
        return File(
            name: name, inode: UInt64(s.st_ino), size: Int64(s.st_size), modified: seconds(s.st_mtim), changed: seconds(s.st_ctim)
        )
    }
}
