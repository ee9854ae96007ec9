import Foundation
import NightshiftCore
import NightshiftRuntime
import NightshiftStore
import NightshiftTesting
import Testing

/// Work in a worktree is never lost: every cleanup path saves a planted untracked file to a
/// WIP ref (read back with `git show`), never removes a dirty worktree, and never commits a secret.
@Suite("Worktree safety", .timeLimit(.minutes(3)))
struct WorktreeSafetyTests {
    static let planted = "notes-left-by-the-agent.txt"

    /// A repository on `main` and a harness with worktrees and auto-commit.
    static func harness(
        backlog: String = "1. Only item\n", agent: String, clock: MutableNow? = nil,
        configure: (inout NightshiftConfig) -> Void = { _ in }
    ) throws -> (PMHarness, repo: String, repoDir: TemporaryDirectory) {
        let repoDir = try TemporaryDirectory(prefix: "nightshift-wip-repo")
        let repo = repoDir.path("project")
        try PMGit.makeRepository(at: repo)
        let h = try PMHarness(backlog: backlog, agent: agent, clock: clock) { c in
            c.runner.workspace = repo
            c.runner.maxAttempts = 1
            c.projectManager.phases = ["impl"]
            c.projectManager.autoCommit = true
            configure(&c)
        }
        return (h, repo, repoDir)
    }

    /// The WIP refs of the item with `slug`.
    static func wipRefs(_ repo: String, slug: String) throws -> [String] {
        try PMGit.lines(["for-each-ref", "--format=%(refname)", "refs/nightshift/wip/\(slug)/"], in: repo)
    }

    /// Waits for a WIP ref of `slug` whose tree holds the planted file with `content`.
    static func expectSaved(
        _ repo: String, slug: String, content: String, sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        var found: String?
        try await RuntimeHarness.waitUntil("a WIP ref holding the planted file") {
            for ref in try wipRefs(repo, slug: slug) where (try? PMGit.run(["show", "\(ref):\(planted)"], in: repo)) == content {
                found = ref
                return true
            }
            return false
        }
        let ref = try #require(found, sourceLocation: sourceLocation)
        #expect(ref.hasPrefix("refs/nightshift/wip/\(slug)/"), sourceLocation: sourceLocation)
        // The WIP commit's parent is the branch tip; the branch did not move to it.
        let branchTip = try PMGit.run(["rev-parse", "nightshift/\(slug)"], in: repo)
        #expect(try PMGit.run(["rev-parse", "\(ref)^"], in: repo) == branchTip, sourceLocation: sourceLocation)
        #expect(try PMGit.run(["rev-parse", ref], in: repo) != branchTip, sourceLocation: sourceLocation)
    }

    /// An agent that plants an untracked file, says so, then blocks until released (or up to a minute).
    static let plantAndBlock = """
        echo "left by $NIGHTSHIFT_TASK_ID" > \(planted)
        touch "$PM_SHARED/planted"
        n=0; while [ ! -f "$PM_SHARED/release" ]; do n=$((n+1)); [ $n -gt 1200 ] && exit 3; sleep 0.05; done
        """

    @Test("snapshot saves tracked edits, staged files and untracked files without touching the branch, index or files")
    func snapshotTouchesNothing() async throws {
        let dir = try TemporaryDirectory(prefix: "nightshift-wip-unit")
        let repo = dir.path("project")
        try PMGit.makeRepository(at: repo)
        try Data("edited\n".utf8).write(to: URL(fileURLWithPath: repo + "/README.md"))
        try Data("staged\n".utf8).write(to: URL(fileURLWithPath: repo + "/staged.txt"))
        try PMGit.run(["add", "staged.txt"], in: repo)
        try Data("untracked\n".utf8).write(to: URL(fileURLWithPath: repo + "/" + Self.planted))
        let head = try PMGit.run(["rev-parse", "HEAD"], in: repo)
        let status = try PMGit.run(["status", "--porcelain"], in: repo)
        let now = Date(timeIntervalSince1970: 1_796_000_000)
        let snap = try #require(
            try await WorktreeSafety.snapshot(worktree: repo, slug: "1-item", reason: "test", redactor: Redactor(), now: now))
        #expect(snap.ref.hasPrefix("refs/nightshift/wip/1-item/"))
        #expect(try PMGit.run(["show", "\(snap.ref):README.md"], in: repo) == "edited")
        #expect(try PMGit.run(["show", "\(snap.ref):staged.txt"], in: repo) == "staged")
        #expect(try PMGit.run(["show", "\(snap.ref):\(Self.planted)"], in: repo) == "untracked")
        #expect(try PMGit.run(["rev-parse", "HEAD"], in: repo) == head)
        #expect(try PMGit.run(["status", "--porcelain"], in: repo) == status, "index and files as they were")
        // The same content again is not saved twice.
        #expect(
            try await WorktreeSafety.snapshot(worktree: repo, slug: "1-item", reason: "again", redactor: Redactor(), now: now)
                == nil)
        let listed = try await WorktreeSafety.list(repository: repo)
        #expect(listed.map(\.ref) == [snap.ref])
        #expect(listed.first?.slug == "1-item")
    }

    @Test("retire keeps a dirty worktree (its changes in a WIP ref) and one in the middle of a rebase; removes a clean one")
    func retireOnlyClean() async throws {
        let dir = try TemporaryDirectory(prefix: "nightshift-wip-unit")
        let repo = dir.path("project")
        try PMGit.makeRepository(at: repo)
        let ws = Workspace(repository: repo, root: dir.path("worktrees"))
        let (path, _) = try await ws.ensureWorktree(slug: "1-item")
        try Data("wip\n".utf8).write(to: URL(fileURLWithPath: path + "/" + Self.planted))
        let now = Date()
        let kept = try await ws.retireWorktree(path, slug: "1-item", reason: "test", redactor: Redactor(), now: now)
        guard case .kept(let why, let wip) = kept else {
            Issue.record("a dirty worktree was removed")
            return
        }
        #expect(why.contains("uncommitted changes"))
        #expect(try PMGit.run(["show", "\(try #require(wip).ref):\(Self.planted)"], in: repo) == "wip")
        #expect(FileManager.default.fileExists(atPath: path + "/" + Self.planted))
        // removeWorktree alone refuses too (no --force any more).
        await #expect(throws: Workspace.Failure.self) { try await ws.removeWorktree(path) }
        #expect(FileManager.default.fileExists(atPath: path + "/" + Self.planted))

        // Mid-rebase: kept, whatever its files.
        try FileManager.default.removeItem(atPath: path + "/" + Self.planted)
        try Data("branch side\n".utf8).write(to: URL(fileURLWithPath: path + "/README.md"))
        try PMGit.run(["commit", "-qam", "branch edit"], in: path)
        try Data("main side\n".utf8).write(to: URL(fileURLWithPath: repo + "/README.md"))
        try PMGit.run(["commit", "-qam", "main edit"], in: repo)
        #expect(throws: PMGit.Failure.self) { try PMGit.run(["rebase", "main"], in: path) }
        let midRebase = try await ws.retireWorktree(path, slug: "1-item", reason: "test", redactor: Redactor(), now: now)
        if case .kept(let why, _) = midRebase {
            #expect(why.contains("rebase"), "\(why)")
        } else {
            Issue.record("a worktree in the middle of a rebase was removed")
        }
        try PMGit.run(["rebase", "--abort"], in: path)
        #expect(
            try await ws.retireWorktree(path, slug: "1-item", reason: "test", redactor: Redactor(), now: now) == .removed)
        #expect(!FileManager.default.fileExists(atPath: path))
        #expect(try PMGit.run(["rev-parse", "nightshift/1-item"], in: repo).count == 40, "the branch stays")
    }

    @Test("retention: a finished item's worktree with a planted file is kept, the file saved as a WIP ref")
    func retentionPath() async throws {
        let clock = MutableNow()
        let (h, repo, repoDir) = try Self.harness(agent: "echo work > work.txt", clock: clock) {
            $0.projectManager.worktreeRetention = 60
        }
        defer { repoDir.remove() }
        let pm = h.projectManager(repository: repo)
        let item = try await h.run(pm) { try await h.waitUntilSettled()[0] }
        let worktree = try #require(item.workdir)
        try Data("retention\n".utf8).write(to: URL(fileURLWithPath: worktree + "/" + Self.planted))
        clock.advance(by: 61)
        try await pm.runOnce()
        try await Self.expectSaved(repo, slug: item.slug, content: "retention")
        #expect(FileManager.default.fileExists(atPath: worktree + "/" + Self.planted), "a dirty worktree is kept")
    }

    @Test("a failed attempt: what it left is saved as a WIP ref")
    func failedAttemptPath() async throws {
        let (h, repo, repoDir) = try Self.harness(agent: "echo failed-attempt > \(Self.planted); exit 1")
        defer { repoDir.remove() }
        let pm = h.projectManager(repository: repo)
        let item = try await h.run(pm) {
            let items = try await h.waitUntilSettled()
            try await Self.expectSaved(repo, slug: items[0].slug, content: "failed-attempt")
            return items[0]
        }
        #expect(item.state == .blocked)
        #expect(FileManager.default.fileExists(atPath: try #require(item.workdir) + "/" + Self.planted))
    }

    @Test("a cancel: what the running agent left is saved as a WIP ref")
    func cancelPath() async throws {
        let (h, repo, repoDir) = try Self.harness(agent: Self.plantAndBlock)
        defer { repoDir.remove() }
        let pm = h.projectManager(repository: repo)
        try await h.run(pm) {
            try await RuntimeHarness.waitUntil("the agent to plant") {
                FileManager.default.fileExists(atPath: h.shared + "/planted")
            }
            let task = try #require(try await h.allTasks().first)
            _ = try await h.env.ledger.cancel(id: task.id, reason: "test", by: "api", now: Date())
            let item = try await h.item("1")
            try await Self.expectSaved(repo, slug: item.slug, content: "left by \(task.id)")
        }
    }

    @Test("shutdown saves what a running agent left; the next start saves what appeared since (a rescued attempt's work)")
    func shutdownAndStartupPaths() async throws {
        let (h, repo, repoDir) = try Self.harness(agent: Self.plantAndBlock)
        defer { repoDir.remove() }
        let pm = h.projectManager(repository: repo)
        let task = try await h.run(pm) {
            try await RuntimeHarness.waitUntil("the agent to plant") {
                FileManager.default.fileExists(atPath: h.shared + "/planted")
            }
            return try #require(try await h.allTasks().first)
        }
        let item = try await h.item("1")
        try await Self.expectSaved(repo, slug: item.slug, content: "left by \(task.id)")
        // A later start (the attempt is rescued then) saves the worktree as it finds it.
        let worktree = try #require(item.workdir)
        try Data("after the stop\n".utf8).write(to: URL(fileURLWithPath: worktree + "/" + Self.planted))
        try await h.projectManager(repository: repo).prepare()
        try await Self.expectSaved(repo, slug: item.slug, content: "after the stop")
        #expect(try Self.wipRefs(repo, slug: item.slug).count == 2)
    }

    @Test("a staged secret blocks the auto-commit: the task asks for a decision naming file and line, value masked")
    func secretBlocksAutoCommit() async throws {
        let secret = "sk-proj-abcdefghijklmnopqrstuvwxyz012345"
        let (h, repo, repoDir) = try Self.harness(agent: "printf 'name = demo\\nkey = \(secret)\\n' > settings.ini")
        defer { repoDir.remove() }
        let pm = h.projectManager(repository: repo)
        let task = try await h.run(pm) {
            try await RuntimeHarness.waitUntil("the task to ask for a decision") {
                try await h.allTasks().first?.status == .needsDecision
            }
            return try #require(try await h.allTasks().first)
        }
        let prompt = try #require(task.decisionPrompt)
        #expect(prompt.contains("settings.ini:2"), "\(prompt)")
        #expect(prompt.contains("sk-****"), "\(prompt)")
        #expect(!prompt.contains(secret))
        let item = try await h.item("1")
        #expect(try PMGit.lines(["log", "--format=%s", "main..nightshift/\(item.slug)"], in: repo).isEmpty, "nothing committed")
        // And a WIP snapshot refuses the same change: no ref is written.
        let worktree = try #require(item.workdir)
        await #expect(throws: WorktreeSafety.SecretBlocked.self) {
            try await WorktreeSafety.snapshot(
                worktree: worktree, slug: item.slug, reason: "test", redactor: Redactor(), now: Date())
        }
        #expect(try Self.wipRefs(repo, slug: item.slug).isEmpty)
    }
}
