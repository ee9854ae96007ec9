import Foundation
import Logging
import NightshiftCore
import NightshiftStore

/// The merge queue (`project_manager.land`): items whose phases passed land on the base branch
/// one at a time, in backlog order. For each: rebase its branch onto the base head in its own
/// worktree, run `verify_command` there, then fast-forward the base branch (and push it with
/// `land: push`). A conflict aborts the rebase (the worktree is clean again) and gives the item
/// a `merge` task naming the files and both sides' commits; past `max_merge_attempts` it waits
/// for `retry` or `skip`. A failing verify is a fix loop to impl. Items in conflict or waiting
/// do not hold up the ones behind them. The project manager runs it beside its passes.
public final class MergeQueue: Sendable {
    public struct Configuration: Sendable {
        public var mode: LandMode
        /// The branch items land on; "" = the repository's current branch, found by `prepare()`.
        public var baseBranch: String
        public var maxMergeAttempts: Int
        /// Run in the rebased worktree before the fast-forward; "" = none.
        public var verifyCommand: String
        /// Wall-clock limit of the verify run, seconds.
        public var verifyTimeout: Double
        public var killGrace: Double
        /// Landed items' worktrees are retired at once unless worktrees are kept (retention 0).
        public var retireLanded: Bool

        public init(config: NightshiftConfig) {
            let pm = config.projectManager
            mode = pm.land
            baseBranch = pm.baseBranch
            maxMergeAttempts = pm.maxMergeAttempts
            verifyCommand = pm.verifyCommand
            verifyTimeout = config.runner.taskTimeout
            killGrace = config.runner.killGrace
            retireLanded = pm.worktreeRetention > 0
        }
    }

    /// What one landing attempt came to.
    public enum Outcome: Sendable, Equatable {
        case landed(key: String, from: String, to: String)
        case conflict(key: String, mergeTask: String?)
        case verifyFailed(key: String, fixTask: String?)
        case waiting(key: String, reason: String)
        /// Put back in the queue (the base moved under it, or a stop interrupted it).
        case requeued(key: String, reason: String)
    }

    /// Refused to fast-forward: the operator's checkout of the base has changes.
    struct Refusal: Error, CustomStringConvertible {
        var description: String
    }

    let env: ServiceEnvironment
    let store: any LandingStore & PipelineStore
    let workspace: Workspace
    public let configuration: Configuration
    let logger: Logger
    let policy: LandingPolicy
    /// Signalled when an item may have joined the queue or a branch moved (a task ended).
    public let wake = WakeSignal()
    let base = Locked<String?>(nil)

    public init(env: ServiceEnvironment, store: any LandingStore & PipelineStore, workspace: Workspace) {
        self.env = env
        self.store = store
        self.workspace = workspace
        self.configuration = Configuration(config: env.config)
        self.logger = env.logs.logger("project_manager")
        self.policy = LandingPolicy(maxMergeAttempts: configuration.maxMergeAttempts)
    }

    public var isEnabled: Bool { configuration.mode != .off }

    /// The base branch items land on (after `prepare()`).
    public var baseBranch: String? { base.value }

    /// Finds the base branch (it must exist), and queues again what a stop interrupted.
    public func prepare() async throws {
        guard isEnabled else { return }
        var name = configuration.baseBranch
        if name.isEmpty {
            guard
                let current = try? await WorktreeSafety.git(["symbolic-ref", "--short", "-q", "HEAD"], in: workspace.repository)
            else {
                throw Workspace.Failure(
                    description:
                        "project_manager.base_branch: \(workspace.repository) has a detached HEAD; name the branch to land on")
            }
            name = current
        }
        guard
            (try? await WorktreeSafety.git(["rev-parse", "--verify", "-q", "refs/heads/\(name)"], in: workspace.repository))
                != nil
        else {
            throw Workspace.Failure(description: "project_manager.base_branch: no branch \(name) in \(workspace.repository)")
        }
        base.withLock { $0 = name }
        for key in try await store.requeueInterruptedLandings(now: env.now()) {
            logger.notice("item \(key): its landing was interrupted by a stop; queued again")
            if let item = try await store.items(keys: [key]).first, let dir = item.workdir {
                await abortRebase(in: dir)
            }
        }
    }

    /// Lands items until the queue has nothing queued; returns when signalled work is done.
    func run() async {
        guard isEnabled else { return }
        while !Task.isCancelled {
            do {
                try await refreshPreviews()
                while !Task.isCancelled, try await runOnce() != nil {}
            } catch {
                logger.error("merge queue pass failed: \(error)")
            }
            await wake.wait()
        }
    }

    /// Lands the first queued item (backlog order); nil when none is queued, the pipeline is
    /// paused or past its window, or the queue is off.
    @discardableResult
    public func runOnce() async throws -> Outcome? {
        guard isEnabled, let baseBranch = base.value else { return nil }
        let o = try await store.overview(blockedLimit: 0)
        if o.paused { return nil }
        if let end = o.windowEndsAt, env.now() >= end { return nil }
        guard let next = try await store.landingQueue().first(where: { $0.landState == .queued }) else { return nil }
        guard try await store.setLandState(key: next.key, from: [.queued], to: .rebasing, detail: nil, now: env.now()) else {
            return nil
        }
        let outcome = await land(next, onto: baseBranch)
        switch outcome {
        case .landed(let key, let from, let to):
            logger.info("item \(key) landed on \(baseBranch): \(from.prefix(12))..\(to.prefix(12))", metadata: ["item": "\(key)"])
        case .conflict(let key, let task):
            logger.warning(
                "item \(key): rebase onto \(baseBranch) conflicts; \(task.map { "merge task \($0)" } ?? "no merge task")",
                metadata: ["item": "\(key)"])
        case .verifyFailed(let key, let task):
            logger.warning(
                "item \(key): verify failed after rebasing; \(task.map { "fix task \($0)" } ?? "no fix task")",
                metadata: ["item": "\(key)"])
        case .waiting(let key, let reason):
            logger.warning("item \(key) waits for a decision: \(reason)", metadata: ["item": "\(key)"])
        case .requeued(let key, let reason):
            logger.info("item \(key) queued again: \(reason)", metadata: ["item": "\(key)"])
        }
        return outcome
    }

    /// One item from rebasing to landed (or to why not). Every end is recorded in the store.
    func land(_ item: BacklogItem, onto baseBranch: String) async -> Outcome {
        let key = item.key
        do {
            let dir = try await worktree(of: item)
            // Work the phases left uncommitted (auto_commit off) lands too, secret-checked.
            do {
                _ = try await Workspace.commitAll(
                    in: dir, message: "[nightshift] land: \(item.title)", redactor: env.redactor)
            } catch let blocked as WorktreeSafety.SecretBlocked {
                return await wait(
                    key, from: .rebasing, "its uncommitted changes hold a secret, not committed:\n\(blocked.listing)")
            }
            let repo = workspace.repository
            let old = try await WorktreeSafety.git(["rev-parse", "refs/heads/\(baseBranch)"], in: repo)
            if try await Git.status(["merge-base", "--is-ancestor", old, "HEAD"], in: dir).code != 0 {
                let rebase = try await Git.status(
                    [
                        "-c", "user.name=Nightshift", "-c", "user.email=nightshift@localhost", "-c", "core.hooksPath=/dev/null",
                        "rebase", "--no-autostash", old,
                    ], in: dir, environment: ["GIT_EDITOR": "true", "GIT_SEQUENCE_EDITOR": "true"])
                if rebase.code != 0 {
                    return try await conflict(item, in: dir, base: baseBranch, head: old, output: rebase.output)
                }
            }
            guard try await store.setLandState(key: key, from: [.rebasing], to: .verifying, detail: nil, now: env.now()) else {
                return .requeued(key: key, reason: "it left the rebasing state meanwhile")
            }
            if !configuration.verifyCommand.isEmpty {
                let (passed, tail) = await verify(item, in: dir)
                if !passed {
                    let changes = try await store.recordVerifyFailure(key: key, feedback: tail, now: env.now())
                    let task = env.ledger.announce(changes)
                    return .verifyFailed(key: key, fixTask: task?.id)
                }
            }
            let new = try await WorktreeSafety.git(["rev-parse", "HEAD"], in: dir)
            do {
                try await fastForward(baseBranch, from: old, to: new, item: item)
            } catch let refusal as Refusal {
                return await wait(key, from: .verifying, refusal.description)
            } catch {
                // The base moved under it (an operator commit): queue again, rebase anew.
                _ = try await store.setLandState(
                    key: key, from: [.verifying], to: .queued, detail: "the base moved while landing: \(error)", now: env.now())
                return .requeued(key: key, reason: "the base moved while landing")
            }
            var detail: String?
            if configuration.mode == .push {
                do {
                    try await WorktreeSafety.git(
                        ["push", "-q", "origin", "refs/heads/\(baseBranch):refs/heads/\(baseBranch)"], in: repo)
                } catch {
                    detail = "landed locally; pushing \(baseBranch) failed: \(error)"
                    logger.error("item \(key): \(detail ?? "")")
                }
            }
            _ = try await store.recordLanded(key: key, from: old, to: new, detail: detail, now: env.now())
            if configuration.retireLanded {
                await retire(item, dir: dir)
            }
            return .landed(key: key, from: old, to: new)
        } catch {
            await abortRebase(in: item.workdir ?? "")
            return await wait(key, from: [.rebasing, .verifying], "landing failed: \(error)")
        }
    }

    /// The item's worktree, created again from its branch when a cleanup removed it.
    func worktree(of item: BacklogItem) async throws -> String {
        if let dir = item.workdir, FileManager.default.fileExists(atPath: (dir as NSString).appendingPathComponent(".git")) {
            return dir
        }
        return try await workspace.ensureWorktree(slug: item.slug).path
    }

    /// A failed rebase: the files and both sides are read, the rebase aborted (the worktree is
    /// clean again), and the store answers with a merge task or a wait.
    func conflict(_ item: BacklogItem, in dir: String, base: String, head: String, output: String) async throws -> Outcome {
        let files =
            (try? await WorktreeSafety.git(["diff", "--name-only", "--diff-filter=U"], in: dir))?
            .split(separator: "\n").map(String.init) ?? []
        await abortRebase(in: dir)
        guard !files.isEmpty else {
            return await wait(
                item.key, from: .rebasing, "the rebase onto \(base) failed without a conflict: \(output.suffix(800))")
        }
        let ours = try await Git.lines(["log", "--format=%h %s", "\(head)..HEAD"], in: dir)
        let fork = try await WorktreeSafety.git(["merge-base", head, "HEAD"], in: dir)
        let theirs = try await Git.lines(["log", "--format=%h %s", "\(fork)..\(head)"], in: dir)
        let conflict = MergeConflict(
            branch: item.branch ?? "nightshift/\(item.slug)", baseBranch: base, baseHead: head, files: files, ours: ours,
            theirs: theirs)
        // Did the last merge task take in the base head it was given? Then only the base moved on.
        var progressed = false
        if let previous = item.landConflictBase, previous != head {
            progressed = try await Git.status(["merge-base", "--is-ancestor", previous, "HEAD"], in: dir).code == 0
        }
        let changes = try await store.recordConflict(
            key: item.key, conflict: conflict, progressed: progressed, policy: policy, now: env.now())
        let task = env.ledger.announce(changes)
        if task == nil, let now = try await store.items(keys: [item.key]).first, now.landState == .waiting {
            return .waiting(key: item.key, reason: conflict.summary)
        }
        return .conflict(key: item.key, mergeTask: task?.id)
    }

    func wait(_ key: String, from: LandState, _ reason: String) async -> Outcome {
        await wait(key, from: [from], reason)
    }

    func wait(_ key: String, from: [LandState], _ reason: String) async -> Outcome {
        _ = try? await store.setLandState(key: key, from: from, to: .waiting, detail: reason, now: env.now())
        return .waiting(key: key, reason: reason)
    }

    func abortRebase(in dir: String) async {
        guard !dir.isEmpty, FileManager.default.fileExists(atPath: dir) else { return }
        if let why = try? await WorktreeSafety.operationInProgress(dir), why.contains("rebase") {
            _ = try? await WorktreeSafety.git(["rebase", "--abort"], in: dir)
        }
    }

    /// Runs `verify_command` in the worktree as an agent runs (own process group, timeout,
    /// redacted log at `<state_dir>/landing/<slug>.log`); passed, and the output's tail.
    func verify(_ item: BacklogItem, in dir: String) async -> (Bool, String) {
        var environment = ProcessInfo.processInfo.environment
        environment["NIGHTSHIFT_BACKLOG_ITEM"] = item.key
        environment["NIGHTSHIFT_TASK_ID"] = "task_landing"
        let log = env.paths.file("landing/\(item.slug).log")
        try? AtomicFile.ensureDirectory(env.paths.file("landing"))
        let launch = AgentLaunch(
            taskID: "task_landing", command: configuration.verifyCommand, environment: environment, workingDirectory: dir,
            logPath: log, timeout: configuration.verifyTimeout, stallTimeout: configuration.verifyTimeout,
            killGrace: configuration.killGrace, tailBytes: 8 * 1024)
        let report = await AgentProcess.run(
            launch, redactor: env.redactor, stopper: AttemptStopper(),
            header: "=== nightshift land \(item.key): \(configuration.verifyCommand) ===", onSpawn: { _ in true })
        switch report.end {
        case .exited(0): return (true, report.tail)
        case .exited(let code): return (false, "exit \(code)\n" + report.tail)
        case .signaled(let sig): return (false, "killed by signal \(sig)\n" + report.tail)
        case .timedOut, .stalled: return (false, "timed out after \(configuration.verifyTimeout)s\n" + report.tail)
        case .stopped(let why), .spawnFailed(let why): return (false, why + "\n" + report.tail)
        case .halted(let why): return (false, "\(why)\n" + report.tail)
        }
    }

    /// Moves the base branch from `old` to `new` (a descendant) without touching anyone's
    /// work: where the base is checked out (the operator's repository or another worktree) by
    /// `git merge --ff-only` there, and only when it has no uncommitted changes to tracked
    /// files (`Refusal` otherwise); elsewhere by `git update-ref` with `old` as the guard.
    func fastForward(_ baseBranch: String, from old: String, to new: String, item: BacklogItem) async throws {
        let repo = workspace.repository
        let ref = "refs/heads/\(baseBranch)"
        let listing = try await WorktreeSafety.git(["worktree", "list", "--porcelain"], in: repo)
        var checkedOut: String?
        var current: String?
        for line in listing.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("worktree ") { current = String(line.dropFirst(9)) }
            if line == "branch \(ref)" { checkedOut = current }
        }
        guard let dir = checkedOut else {
            try await WorktreeSafety.git(["update-ref", "-m", "nightshift: land \(item.slug)", ref, new, old], in: repo)
            return
        }
        let dirty = try await WorktreeSafety.git(["diff", "--name-only", "HEAD"], in: dir)
        if !dirty.isEmpty {
            let files = dirty.split(separator: "\n").prefix(5).joined(separator: ", ")
            throw Refusal(
                description:
                    "\(baseBranch) is checked out in \(dir) with uncommitted changes (\(files)); nothing was touched. "
                    + "Commit or stash them, then: nightshift pm land \(item.key) retry")
        }
        guard try await WorktreeSafety.git(["rev-parse", ref], in: repo) == old else {
            throw Workspace.Failure(description: "\(baseBranch) moved")
        }
        let merged = try await Git.status(["merge", "--ff-only", "-q", new], in: dir)
        if merged.code != 0 {
            throw Refusal(
                description:
                    "git merge --ff-only in \(dir) refused (\(merged.output.suffix(400))); nothing was touched. "
                    + "Then: nightshift pm land \(item.key) retry")
        }
    }

    /// After landing, the worktree goes the safe way (its branch stays).
    func retire(_ item: BacklogItem, dir: String) async {
        do {
            let result = try await workspace.retireWorktree(
                dir, slug: item.slug, reason: "landed", redactor: env.redactor, now: env.now(), push: configuration.mode == .push)
            if case .kept(let why, _) = result { logger.notice("kept the worktree of landed item \(item.key): \(why)") }
        } catch {
            logger.warning("cannot retire the worktree of landed item \(item.key): \(error)")
        }
    }

    /// The dry-run merge (`git merge-tree --write-tree`) of each active or queued item's branch
    /// into the base head, again only when either moved: a coming conflict shows early.
    public func refreshPreviews() async throws {
        guard isEnabled, let baseBranch = base.value else { return }
        let repo = workspace.repository
        let head = try await WorktreeSafety.git(["rev-parse", "refs/heads/\(baseBranch)"], in: repo)
        let active = try await store.overview(blockedLimit: 0).active
        let queued = try await store.landingQueue().filter { $0.landState == .queued || $0.landState == .waiting }
        for item in active + queued {
            guard let branch = item.branch,
                let tip = try? await WorktreeSafety.git(["rev-parse", "-q", "--verify", "refs/heads/\(branch)"], in: repo)
            else { continue }
            let checked = "\(head) \(tip)"
            if item.mergeChecked == checked { continue }
            let result = try await Git.status(
                ["merge-tree", "--write-tree", "--name-only", "--no-messages", head, tip], in: repo)
            guard result.code == 0 || result.code == 1 else { continue }
            let files = result.code == 0 ? [] : Array(result.output.split(separator: "\n").dropFirst().map(String.init))
            try await store.recordMergePreview(key: item.key, conflicts: files, checked: checked)
            if !files.isEmpty, item.mergeConflicts != files {
                logger.warning(
                    "item \(item.key): its branch will conflict with \(baseBranch) in \(files.joined(separator: ", "))",
                    metadata: ["item": "\(item.key)"])
            }
        }
    }
}

/// git with its exit code, for the commands whose failure is an answer (merge-tree, rebase,
/// merge-base --is-ancestor).
enum Git {
    static func status(
        _ arguments: [String], in dir: String, environment: [String: String] = [:]
    ) async throws -> (
        code: Int32, output: String
    ) {
        try await WorktreeSafety.run(arguments, in: dir, environment: environment)
    }

    static func lines(_ arguments: [String], in dir: String) async throws -> [String] {
        try await WorktreeSafety.git(arguments, in: dir).split(separator: "\n").map(String.init)
    }
}
