import Foundation
import NightshiftCore
import Subprocess
import SystemPackage

/// Work in an item's worktree is never thrown away. Before any path removes a worktree (or
/// when one may be abandoned: a cancel, a failed or rescued attempt, shutdown), its uncommitted
/// changes, untracked files included (ignored files are not), are committed to a WIP ref
/// `refs/nightshift/wip/<slug>/<stamp>` through a temporary index: the item's branch, its index
/// and its files stay exactly as they were, and the operator's checkout is never touched. A
/// worktree is removed only when clean (no changes, no rebase or merge under way, on its
/// branch), and then without `--force`.
public enum WorktreeSafety {
    /// The prefix of every WIP ref.
    public static let wipPrefix = "refs/nightshift/wip/"

    /// A staged change holds something the redactor's rules match: nothing was committed.
    public struct SecretBlocked: Error, CustomStringConvertible, Sendable {
        /// Where, by which rule, the value masked.
        public var findings: [SecretFinding]
        /// One line per finding: `file:line: rule (masked)`, at most 10.
        public var listing: String {
            let lines = findings.prefix(10).map { "\($0.file):\($0.line): \($0.rule.rawValue) (\($0.masked))" }
            let more = findings.count > 10 ? "\n… \(findings.count - 10) more" : ""
            return lines.joined(separator: "\n") + more
        }
        public var description: String { "the staged changes hold a secret, nothing was committed:\n" + listing }
    }

    /// A WIP snapshot that was written.
    public struct Snapshot: Sendable, Equatable {
        public var ref: String
        public var commit: String
    }

    /// What `retire` did with a worktree.
    public enum Retirement: Sendable, Equatable {
        /// Removed: it was clean (a dirty worktree is never removed).
        case removed
        /// Kept, and why; `wip` names the snapshot of its changes when there were any.
        case kept(reason: String, wip: Snapshot?)
    }

    /// Runs git in `dir` with extra environment; throws with its output when it fails.
    @discardableResult
    static func git(_ arguments: [String], in dir: String, environment extra: [String: String] = [:]) async throws -> String {
        let (code, out) = try await run(arguments, in: dir, environment: extra)
        guard code == 0 else {
            throw Workspace.Failure(
                description: "git \(arguments.joined(separator: " ")) failed in \(dir): \(out.isEmpty ? "exit \(code)" : out)")
        }
        return out
    }

    /// Runs git in `dir`: its exit code (a signal counts as 128 + it) and its output.
    static func run(
        _ arguments: [String], in dir: String, environment extra: [String: String] = [:]
    ) async throws -> (
        code: Int32, output: String
    ) {
        let result: ExecutionResult<Void, StringOutput<UTF8>, CombinedErrorOutput>
        var env: [Environment.Key: String?] = ["GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"]
        for (k, v) in extra { env[Environment.Key(stringLiteral: k)] = v }
        do {
            result = try await Subprocess.run(
                .name("git"), arguments: Arguments(["-c", "core.quotePath=false"] + arguments),
                environment: .inherit.updating(env), workingDirectory: FilePath(dir),
                output: .string(limit: 16 * 1024 * 1024), error: .combinedWithOutput)
        } catch {
            throw Workspace.Failure(description: "cannot run git \(arguments.joined(separator: " ")) in \(dir): \(error)")
        }
        let out = result.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
        switch result.terminationStatus {
        case .exited(let code): return (code, out)
        case .signaled(let sig): return (128 + sig, out)
        }
    }

    /// The secrets the redactor's rules find in the lines `git diff --cached HEAD` adds, with
    /// the index at `indexFile` (the worktree's own when nil).
    public static func stagedSecrets(in worktree: String, indexFile: String?, redactor: Redactor) async throws -> [SecretFinding]
    {
        let env = indexFile.map { ["GIT_INDEX_FILE": $0] } ?? [:]
        let diff = try await git(
            ["diff", "--cached", "HEAD", "--no-color", "--no-ext-diff", "--unified=0", "--text"], in: worktree, environment: env)
        let guardian = SecretGuard(stateDir: worktree, redactor: redactor)
        return guardian.scanDiff(Array(diff.utf8), under: "").map { f in
            var finding = f
            if finding.file.hasPrefix("/") { finding.file.removeFirst() }
            return finding
        }
    }

    /// True when the worktree has changes `git add -A` would stage (untracked files count).
    public static func isDirty(_ worktree: String) async throws -> Bool {
        !(try await git(["status", "--porcelain", "--untracked-files=all"], in: worktree)).isEmpty
    }

    /// Commits the worktree's changes to a WIP ref without touching its branch, index or files.
    /// nil when there is nothing to save, or when the newest WIP ref of the item holds the same
    /// tree already. Throws `SecretBlocked` (nothing is written) when the changes hold a secret.
    @discardableResult
    public static func snapshot(
        worktree: String, slug: String, reason: String, redactor: Redactor, now: Date, push: Bool = false
    ) async throws -> Snapshot? {
        guard try await isDirty(worktree) else { return nil }
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent(
            "nightshift-wip-\(UUID().uuidString.lowercased())"
        ).path
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let env = ["GIT_INDEX_FILE": scratch]
        try await git(["read-tree", "HEAD"], in: worktree, environment: env)
        try await git(["add", "-A", "--", "."], in: worktree, environment: env)
        let tree = try await git(["write-tree"], in: worktree, environment: env)
        if tree == (try await git(["rev-parse", "HEAD^{tree}"], in: worktree)) { return nil }
        let findings = try await stagedSecrets(in: worktree, indexFile: scratch, redactor: redactor)
        if !findings.isEmpty { throw SecretBlocked(findings: findings) }
        let prefix = wipPrefix + slug + "/"
        if let newest = try await git(
            ["for-each-ref", "--sort=-refname", "--count=1", "--format=%(objectname)", prefix], in: worktree
        ).split(separator: "\n").first,
            (try? await git(["rev-parse", "\(newest)^{tree}"], in: worktree)) == tree
        {
            return nil
        }
        let message = "[nightshift] WIP \(slug): \(reason)"
        let commit = try await git(
            [
                "-c", "user.name=Nightshift", "-c", "user.email=nightshift@localhost", "commit-tree", tree, "-p", "HEAD", "-m",
                message,
            ], in: worktree)
        var ref = prefix + stamp(now)
        var n = 2
        while (try? await git(["rev-parse", "--verify", "--quiet", ref], in: worktree)) != nil {
            ref = prefix + stamp(now) + "-\(n)"
            n += 1
        }
        // The empty old value makes update-ref refuse to overwrite a ref that appeared meanwhile.
        try await git(["update-ref", "-m", message, ref, commit, ""], in: worktree)
        if push {
            // Best effort: the ref is saved locally whatever the remote says.
            _ = try? await git(["push", "-q", "origin", "\(ref):\(ref)"], in: worktree)
        }
        return Snapshot(ref: ref, commit: commit)
    }

    /// `20261203T041500Z`: sorts in time order, fits a ref name.
    static func stamp(_ date: Date) -> String {
        let text = Timestamp.format(date)  // 2026-12-03T04:15:00.123Z
        return String(text.prefix(19)).replacingOccurrences(of: "-", with: "").replacingOccurrences(of: ":", with: "") + "Z"
    }

    /// Why the worktree must not be removed even with its changes saved: a rebase, merge,
    /// cherry-pick or revert under way, or a detached HEAD; nil when none.
    static func operationInProgress(_ worktree: String) async throws -> String? {
        for (name, what) in [
            ("rebase-merge", "a rebase"), ("rebase-apply", "a rebase"), ("MERGE_HEAD", "a merge"),
            ("CHERRY_PICK_HEAD", "a cherry-pick"), ("REVERT_HEAD", "a revert"),
        ] {
            var path = try await git(["rev-parse", "--git-path", name], in: worktree)
            if !path.hasPrefix("/") { path = (worktree as NSString).appendingPathComponent(path) }
            if FileManager.default.fileExists(atPath: path) { return "\(what) is under way in it" }
        }
        if (try? await git(["symbolic-ref", "-q", "HEAD"], in: worktree)) == nil {
            return "its HEAD is detached (commits there are on no branch)"
        }
        return nil
    }

    /// The one way a worktree goes: its changes are saved to a WIP ref first; it is removed
    /// (without `--force`) only when clean, otherwise kept with the reason. A missing directory
    /// is pruned from git's list and counts as removed.
    public static func retire(
        worktree: String, slug: String, repository: String, reason: String, redactor: Redactor, now: Date, push: Bool = false
    ) async throws -> Retirement {
        guard FileManager.default.fileExists(atPath: (worktree as NSString).appendingPathComponent(".git")) else {
            _ = try? await git(["worktree", "prune"], in: repository)
            return .removed
        }
        var wip: Snapshot?
        do {
            wip = try await snapshot(worktree: worktree, slug: slug, reason: reason, redactor: redactor, now: now, push: push)
        } catch let blocked as SecretBlocked {
            return .kept(reason: blocked.description, wip: nil)
        }
        if let why = try await operationInProgress(worktree) { return .kept(reason: why, wip: wip) }
        if try await isDirty(worktree) {
            let saved = wip.map { "saved as \($0.ref)" } ?? "saved earlier under \(wipPrefix)\(slug)/"
            return .kept(reason: "it has uncommitted changes (\(saved))", wip: wip)
        }
        try await git(["worktree", "remove", worktree], in: repository)
        return .removed
    }

    /// One WIP ref, for `nightshift pm wip`.
    public struct WIPRef: Codable, Sendable, Equatable {
        public var ref: String
        public var slug: String
        public var commit: String
        public var createdAt: Date?
        public var subject: String
        enum CodingKeys: String, CodingKey {
            case ref, slug, commit, subject
            case createdAt = "created_at"
        }

        public init(ref: String, slug: String, commit: String, createdAt: Date?, subject: String) {
            self.ref = ref
            self.slug = slug
            self.commit = commit
            self.createdAt = createdAt
            self.subject = subject
        }
    }

    /// Every WIP ref of the repository, newest first.
    public static func list(repository: String) async throws -> [WIPRef] {
        let out = try await git(
            [
                "for-each-ref", "--sort=-creatordate", "--format=%(refname)%09%(objectname)%09%(creatordate:unix)%09%(subject)",
                String(wipPrefix.dropLast()),
            ], in: repository)
        return out.split(separator: "\n").compactMap { line in
            let parts = line.split(separator: "\t", maxSplits: 3, omittingEmptySubsequences: false).map(String.init)
            guard parts.count >= 3 else { return nil }
            let rest = parts[0].dropFirst(wipPrefix.count)
            guard let slash = rest.lastIndex(of: "/") else { return nil }
            return WIPRef(
                ref: parts[0], slug: String(rest[..<slash]), commit: parts[1],
                createdAt: Double(parts[2]).map(Date.init(timeIntervalSince1970:)), subject: parts.count > 3 ? parts[3] : "")
        }
    }
}
