import Foundation

/// `project_manager.land`: what happens to an item's branch once its last phase passed.
public enum LandMode: String, Sendable, Equatable, CaseIterable {
    /// Branches stay as they are (the default).
    case off
    /// The merge queue rebases, verifies and fast-forwards the base branch in the repository.
    case local
    /// As `local`, then pushes the base branch (and WIP refs) to `origin`.
    case push
}

/// Where an item is in the merge queue (`backlog_items.land_state`); nil while it is not in it.
public enum LandState: String, Codable, Sendable, CaseIterable {
    /// Waiting its turn (queue order is backlog order).
    case queued
    /// Its branch is being rebased onto the base head.
    case rebasing
    /// `verify_command` runs on the rebased branch.
    case verifying
    /// The base branch was fast-forwarded to it (`landed_from..landed_to`).
    case landed
    /// The rebase conflicted; a `merge` phase task resolves it.
    case conflict
    /// The queue cannot go on without a human: `retry` or `skip` (`nightshift pm land`).
    case waiting
    /// An operator chose not to land it.
    case skipped

    /// States in which the item still occupies the queue.
    public static let inQueue: [LandState] = [.queued, .rebasing, .verifying, .conflict, .waiting]
}

/// An operator's answer to an item waiting in the merge queue.
public enum LandDecision: String, Sendable, CaseIterable {
    /// Put it back in the queue with a fresh budget of merge attempts (after fixing the branch, or not).
    case retry
    /// Leave it unlanded; its branch and worktree stay.
    case skip
}

/// What a rebase onto the base head ran into: the files and both sides' commits, for the
/// `merge` task's direction and the decision prompt.
public struct MergeConflict: Sendable, Equatable {
    public var branch: String
    public var baseBranch: String
    /// The base head the branch was rebased onto.
    public var baseHead: String
    public var files: [String]
    /// `sha subject` lines: the item's commits not on the base.
    public var ours: [String]
    /// `sha subject` lines: the base's commits since the branch forked.
    public var theirs: [String]

    public init(branch: String, baseBranch: String, baseHead: String, files: [String], ours: [String], theirs: [String]) {
        self.branch = branch
        self.baseBranch = baseBranch
        self.baseHead = baseHead
        self.files = files
        self.ours = ours
        self.theirs = theirs
    }

    /// A few lines naming the files and both sides (at most 20 commits each).
    public var summary: String {
        func list(_ lines: [String]) -> String {
            let shown = lines.prefix(20).map { "  " + $0 }.joined(separator: "\n")
            return lines.count > 20 ? shown + "\n  … \(lines.count - 20) more" : shown
        }
        return """
            Rebasing \(branch) onto \(baseBranch) (\(baseHead.prefix(12))) conflicts in: \(files.isEmpty ? "(no file named)" : files.joined(separator: ", "))
            Commits of \(branch) not on \(baseBranch):
            \(list(ours))
            Commits of \(baseBranch) since \(branch) forked:
            \(list(theirs))
            """
    }

    /// The `merge` task's feedback: what happened and what the agent must leave behind.
    public var instructions: String {
        summary + """


            The worktree is clean (the failed rebase was aborted). Bring \(branch) up to date with \
            \(baseHead) (`git rebase \(baseHead)` and resolve each conflict, or `git merge \(baseHead)`), \
            keep both sides' intent, commit, and leave the worktree clean with \(baseHead) an ancestor of HEAD.
            """
    }
}

/// The merge queue's rules as pure values (STYLE 4): what a conflict leads to, and the steps
/// the store applies for it.
public struct LandingPolicy: Sendable, Equatable {
    public var maxMergeAttempts: Int

    public init(maxMergeAttempts: Int) { self.maxMergeAttempts = maxMergeAttempts }

    /// What a rebase conflict leads to, given how many merge tasks the item had since it last
    /// entered the queue (or since an operator said `retry`).
    public enum ConflictStep: Sendable, Equatable {
        /// A `merge` phase task, the `attempt`-th.
        case mergeTask(attempt: Int)
        /// Out of merge attempts: wait for `retry` or `skip`.
        case waitForDecision
    }

    public func afterConflict(mergeAttempts: Int) -> ConflictStep {
        mergeAttempts < maxMergeAttempts ? .mergeTask(attempt: mergeAttempts + 1) : .waitForDecision
    }

    /// The prompt an item waiting after its conflicts shows.
    public static func decisionPrompt(_ conflict: MergeConflict, attempts: Int) -> String {
        "The merge queue cannot land this item: \(attempts) merge task(s) did not resolve the conflict.\n"
            + conflict.summary
            + "\nFix the branch yourself and answer retry, or answer skip (nightshift pm land <item> retry|skip)."
    }
}

extension PipelinePlan {
    /// The phase of the tasks that resolve a rebase conflict (task type impl, so the impl
    /// executor runs them).
    public static let mergePhase = "merge"

    /// The `merge` task for `conflict` (the `attempt`-th).
    public func mergeStep(item: BacklogItem, conflict: MergeConflict, attempt: Int) -> Step {
        let step = run(Self.mergePhase, item: item, iteration: attempt, previousSummary: nil, feedback: conflict.instructions)
        guard case .run(let phase, _, let executor, let iteration, let direction) = step else { return step }
        return .run(phase: phase, taskType: .impl, executor: executor, iteration: iteration, direction: direction)
    }

    /// `verify_command` failed on the rebased branch: a fix iteration of impl, like any failing
    /// check (blocked past `max_iterations`).
    public func landingFix(item: BacklogItem, feedback: String) -> Step {
        let iteration = max(1, item.iteration)
        guard iteration < maxIterations else {
            return .blocked(
                "verify still fails after rebasing onto the base branch, after \(maxIterations) iterations: \(feedback)")
        }
        return run(
            TaskType.impl.rawValue, item: item, iteration: iteration + 1, previousSummary: item.lastSummary,
            feedback: "verify after rebasing onto the base branch failed:\n" + String(feedback.suffix(1500)))
    }
}

extension LandMode {
    /// Why `name` cannot be `project_manager.base_branch` (a short branch name, as git's
    /// check-ref-format would take it), or nil; "" (the repository's current branch) is fine.
    public static func branchNameProblem(_ name: String) -> String? {
        if name.isEmpty { return nil }
        if name.hasPrefix("refs/") { return "must be a branch name (main), not a ref (\(name))" }
        let bad: [Character] = [" ", "~", "^", ":", "?", "*", "[", "\\", "\t"]
        if name.contains(where: { bad.contains($0) || $0.isNewline }) || name.contains("..") || name.contains("@{")
            || name.hasPrefix("-") || name.hasPrefix("/") || name.hasSuffix("/") || name.hasSuffix(".lock")
            || name.hasSuffix(".") || name.contains("//")
        {
            return "\"\(name)\" is not a valid branch name"
        }
        if name.hasPrefix("nightshift/") { return "must not be one of the items' branches (nightshift/…)" }
        return nil
    }
}
