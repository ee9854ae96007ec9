import Foundation
import Logging
import NightshiftCore
import Subprocess
import SystemPackage

/// Per-item git worktrees: each backlog item works on its own branch `nightshift/<slug>` in its
/// own directory under the state dir, so parallel workers never mix their changes.
public struct Workspace: Sendable {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// The operator's repository (`runner.workspace`).
    public let repository: String
    /// Where worktrees live (`<state_dir>/worktrees`).
    public let root: String

    public init(repository: String, root: String) {
        self.repository = (repository as NSString).standardizingPath
        self.root = root
    }

    /// Runs git; throws with its output when it fails.
    @discardableResult
    public static func git(_ arguments: [String], in dir: String) async throws -> String {
        let result: ExecutionResult<Void, StringOutput<UTF8>, CombinedErrorOutput>
        do {
            result = try await Subprocess.run(
                .name("git"), arguments: Arguments(arguments),
                environment: .inherit.updating(["GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"]),
                workingDirectory: FilePath(dir), output: .string(limit: 4 * 1024 * 1024), error: .combinedWithOutput)
        } catch {
            throw Failure(description: "cannot run git \(arguments.joined(separator: " ")) in \(dir): \(error)")
        }
        let out = result.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
        guard case .exited(0) = result.terminationStatus else {
            throw Failure(
                description:
                    "git \(arguments.joined(separator: " ")) failed in \(dir): \(out.isEmpty ? "\(result.terminationStatus)" : out)"
            )
        }
        return out
    }

    /// The repository must exist, be a git work tree, have a commit, and be clean.
    public func validate() async throws {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: repository, isDirectory: &isDir), isDir.boolValue else {
            throw Failure(description: "runner.workspace: \(repository) does not exist")
        }
        guard (try? await Self.git(["rev-parse", "--is-inside-work-tree"], in: repository)) == "true" else {
            throw Failure(description: "runner.workspace: \(repository) is not a git repository")
        }
        guard (try? await Self.git(["rev-parse", "--verify", "HEAD"], in: repository)) != nil else {
            throw Failure(description: "runner.workspace: \(repository) has no commit yet; worktrees branch from HEAD")
        }
        let dirty = try await Self.git(["status", "--porcelain", "--untracked-files=normal"], in: repository)
        if !dirty.isEmpty {
            // `git` output comes trimmed, so the first line may have lost the blank of its
            // status column: the name is what follows the status word.
            let files = dirty.split(separator: "\n").prefix(10).map {
                String($0.split(separator: " ", maxSplits: 1).last ?? $0)
            }
            throw Failure(
                description:
                    "runner.workspace: \(repository) has uncommitted changes (\(files.joined(separator: ", "))); commit or stash them first"
            )
        }
    }

    /// The item's worktree and branch, created from `startPoint` (the repository's HEAD, or the
    /// merge queue's base branch) on first use and reused after.
    public func ensureWorktree(slug: String, from startPoint: String = "HEAD") async throws -> (path: String, branch: String) {
        let branch = "nightshift/\(slug)"
        let path = (root as NSString).appendingPathComponent(slug)
        try AtomicFile.ensureDirectory(root)
        if FileManager.default.fileExists(atPath: (path as NSString).appendingPathComponent(".git")) { return (path, branch) }
        let branchExists = (try? await Self.git(["rev-parse", "--verify", "refs/heads/\(branch)"], in: repository)) != nil
        _ = try? await Self.git(["worktree", "prune"], in: repository)
        if branchExists {
            try await Self.git(["worktree", "add", path, branch], in: repository)
        } else {
            try await Self.git(["worktree", "add", "-b", branch, path, startPoint], in: repository)
        }
        return (path, branch)
    }

    /// Commits everything changed in `worktree`; false when there was nothing to commit.
    /// Throws `WorktreeSafety.SecretBlocked` (nothing committed) when the staged diff holds a
    /// secret the redactor's rules match.
    public static func commitAll(in worktree: String, message: String, redactor: Redactor = Redactor()) async throws -> Bool {
        try await git(["add", "-A"], in: worktree)
        if try await git(["status", "--porcelain"], in: worktree).isEmpty { return false }
        let secrets = try await WorktreeSafety.stagedSecrets(in: worktree, indexFile: nil, redactor: redactor)
        if !secrets.isEmpty { throw WorktreeSafety.SecretBlocked(findings: secrets) }
        try await git(
            [
                "-c", "user.name=Nightshift", "-c", "user.email=nightshift@localhost", "commit", "--no-verify", "-q", "-m",
                message,
            ], in: worktree)
        return true
    }

    public static func push(in worktree: String, branch: String) async throws {
        try await git(["push", "-q", "-u", "origin", branch], in: worktree)
    }

    /// Removes a worktree that is clean (its branch stays); git refuses, and this throws, when
    /// it has changes. Cleanup paths go through `WorktreeSafety.retire`, which saves them first.
    public func removeWorktree(_ path: String) async throws {
        try await Self.git(["worktree", "remove", path], in: repository)
    }

    /// Retires a worktree safely (`WorktreeSafety.retire`).
    public func retireWorktree(
        _ path: String, slug: String, reason: String, redactor: Redactor, now: Date, push: Bool = false
    ) async throws -> WorktreeSafety.Retirement {
        try await WorktreeSafety.retire(
            worktree: path, slug: slug, repository: repository, reason: reason, redactor: redactor, now: now, push: push)
    }
}
