import Foundation
import NightshiftCore
import NightshiftRuntime
import NightshiftStore
import NightshiftTesting
import Testing

/// The merge queue against real git: the project manager and the runner run `/bin/sh` agents
/// in per-item worktrees of a throwaway repository whose `main` is checked out, as the
/// operator's would be; items land by rebase, verify and fast-forward.
@Suite("Merge queue", .timeLimit(.minutes(3)))
struct LandingTests {
    /// A repository on `main` and a harness landing on it: auto-commit on, phases [impl] (plus
    /// verify with `verify`), the agent script getting the task id as $1 and the direction as $2.
    static func harness(
        backlog: String, agent: String, verify: String = "", configure: (inout NightshiftConfig) -> Void = { _ in }
    ) throws -> (PMHarness, repo: String, repoDir: TemporaryDirectory) {
        let repoDir = try TemporaryDirectory(prefix: "nightshift-land-repo")
        let repo = repoDir.path("project")
        try PMGit.makeRepository(at: repo)
        let h = try PMHarness(backlog: backlog, agent: "REPO=\(repo)\n" + agent) { c in
            c.runner.workspace = repo
            c.runner.maxAttempts = 1
            c.projectManager.phases = ["impl"]
            c.projectManager.autoCommit = true
            c.projectManager.land = .local
            c.projectManager.parallelItems = 3
            // A worker for every item in flight: an agent that waits for an earlier item to land
            // must never hold the worker that earlier item needs (claim order breaks ties by id).
            c.runner.workers = 3
            c.projectManager.verifyCommand = verify
            let command = c.runner.executors["default"]?.command ?? ""
            c.runner.executors["default"]?.command = command + " {direction}"
            configure(&c)
        }
        return (h, repo, repoDir)
    }

    /// Waits for the agent of item `n` (a shell fragment): until item `n - 1`'s file is on
    /// the checked-out main, so the items finish (and queue) in backlog order whatever the timing.
    static func waitForLanded(_ file: String) -> String {
        """
        n=0; while [ ! -f "$REPO/\(file)" ]; do n=$((n+1)); if [ $n -gt 1200 ]; then echo "never landed: \(file)" >&2; exit 3; fi; sleep 0.05; done
        """
    }

    @Test("three items touching different files land in order on main, each rebased onto the one before")
    func threeItemsLandInOrder() async throws {
        let agent = """
            item="$NIGHTSHIFT_BACKLOG_ITEM"
            if [ "$item" = 2 ]; then \(Self.waitForLanded("file-1.txt")); fi
            if [ "$item" = 3 ]; then \(Self.waitForLanded("file-2.txt")); fi
            echo "work of item $item" > "file-$item.txt"
            """
        let (h, repo, repoDir) = try Self.harness(
            backlog: "1. First item\n2. Second item\n3. Third item\n", agent: agent, verify: "test -f README.md")
        defer { repoDir.remove() }
        let initial = try PMGit.run(["rev-parse", "main"], in: repo)
        let pm = h.projectManager(repository: repo)
        let items = try await h.run(pm) {
            try await h.waitForItems("every item to land", timeout: 90) { items in
                items.count == 3 && items.allSatisfy { $0.landState == .landed || $0.landState == .waiting }
            }
        }
        #expect(items.map(\.landState) == [.landed, .landed, .landed], "\(items.map { $0.landDetail ?? "" })")
        // Each landed on the head the one before left.
        #expect(items[0].landedFrom == initial)
        #expect(items[1].landedFrom == items[0].landedTo)
        #expect(items[2].landedFrom == items[1].landedTo)
        #expect(try PMGit.run(["rev-parse", "main"], in: repo) == items[2].landedTo)
        // History is linear, in backlog order, one commit per item.
        let subjects = try PMGit.lines(["log", "--reverse", "--first-parent", "--format=%s", "main"], in: repo)
        #expect(subjects.count == 4)
        #expect(subjects.first == "initial commit")
        for (i, title) in ["First item", "Second item", "Third item"].enumerated() {
            #expect(subjects.count > i + 1 && subjects[i + 1].hasSuffix(": \(title)"), "\(subjects)")
        }
        #expect(try PMGit.lines(["rev-list", "--merges", "main"], in: repo).isEmpty)
        // The operator's checkout followed the fast-forwards and stays clean.
        #expect(try PMGit.run(["rev-parse", "--abbrev-ref", "HEAD"], in: repo) == "main")
        #expect(try PMGit.run(["status", "--porcelain"], in: repo) == "")
        for n in 1...3 {
            #expect(try String(contentsOfFile: "\(repo)/file-\(n).txt", encoding: .utf8) == "work of item \(n)\n")
        }
        let status = try await pm.status()
        #expect(status.landing?.lastLanded?.key == "3")
        #expect(status.landing?.lastLanded?.to == items[2].landedTo)
        #expect(status.landing?.queue == [])
        #expect(status.landing?.baseBranch == "main")
        // The wire shape is the one api/openapi.yaml gives LandingView (additionalProperties: false).
        let landing = try #require(try JSONValue(encoding: status).objectValue?["landing"]?.objectValue)
        #expect(Set(landing.keys) == ["mode", "base_branch", "queue", "last_landed", "conflicts_ahead"])
        #expect(Set(landing["last_landed"]?.objectValue?.keys.map { $0 } ?? []) == ["key", "title", "from", "to", "at"])
    }

    /// An agent that edits line 1 of README.md (item 2 after item 1 landed, so the second
    /// always conflicts); `merge` is what it does for a merge task.
    static func overlappingAgent(merge: String) -> String {
        """
        item="$NIGHTSHIFT_BACKLOG_ITEM"
        case "$2" in
        "Resolve the merge conflict"*)
          echo "$2" > "$PM_SHARED/merge-direction-$1"
          \(merge)
          exit $? ;;
        esac
        if [ "$item" = 2 ]; then \(Self.waitForLanded("one.txt")); fi
        printf '# README by item %s\\n' "$item" > README.md
        echo "$item" > "$( [ "$item" = 1 ] && echo one || echo two ).txt"
        """
    }

    @Test("two items editing the same line: merge tasks, then a wait with the conflict summary; skip leaves it unlanded")
    func conflictThenDecision() async throws {
        let (h, repo, repoDir) = try Self.harness(
            backlog: "1. Write the README\n2. Rewrite the README\n",
            agent: Self.overlappingAgent(merge: "echo 'cannot resolve this' >&2; false"))
        defer { repoDir.remove() }
        let pm = h.projectManager(repository: repo)
        let items = try await h.run(pm) {
            try await h.waitForItems("item 1 to land and item 2 to wait", timeout: 90) { items in
                items.count == 2 && items[0].landState == .landed && items[1].landState == .waiting
            }
        }
        let second = items[1]
        let tasks = try await h.tasks(of: "2")
        let merges = tasks.filter { $0.phase == PipelinePlan.mergePhase }
        #expect(merges.map(\.iteration) == [1, 2], "max_merge_attempts (2) merge tasks")
        #expect(merges.allSatisfy { $0.status == .failed && $0.taskType == .impl })
        #expect(second.landAttempts == 2)
        // The direction names the conflicting file and both sides' commits.
        let direction = try #require(merges.first?.direction)
        #expect(direction.contains("README.md"))
        #expect(direction.contains("Rewrite the README"), "the item's own commit")
        #expect(direction.contains("Write the README"), "the base's commit since the fork")
        #expect(direction.contains(try #require(items[0].landedTo).prefix(12)))
        // The wait names the conflict too; main holds only item 1's work.
        let detail = try #require(second.landDetail)
        #expect(detail.contains("README.md") && detail.contains("retry") && detail.contains("skip"))
        #expect(second.mergeConflicts == ["README.md"])
        #expect(try PMGit.run(["rev-parse", "main"], in: repo) == items[0].landedTo)
        #expect(try PMGit.run(["show", "main:README.md"], in: repo) == "# README by item 1")
        // The aborted rebase left the worktree clean, on its branch.
        let worktree = try #require(second.workdir)
        #expect(try PMGit.run(["status", "--porcelain"], in: worktree) == "")
        #expect(try PMGit.run(["rev-parse", "--abbrev-ref", "HEAD"], in: worktree) == "nightshift/\(second.slug)")
        let view = try #require(try await pm.status().landing)
        #expect(view.queue.map(\.key) == ["2"])
        #expect(view.queue.first?.state == .waiting)
        let entry = try #require(try JSONValue(encoding: view).objectValue?["queue"]?.arrayValue?.first?.objectValue)
        #expect(Set(entry.keys) == ["key", "title", "state", "attempts", "detail", "merge_conflicts"])
        // The monitor's status report names the wait too.
        let monitor = Monitor(env: h.env, store: h.store, notifier: nil, projectManager: pm, apiURL: Locked<String?>(nil))
        _ = try await monitor.runOnce()
        let report = try String(contentsOfFile: h.paths.statusReportText, encoding: .utf8)
        #expect(report.contains("item 2 waits in the merge queue (nightshift pm land 2 retry|skip)"), "\(report)")

        // skip: it stays unlanded; a second skip is refused, nothing changes.
        let skipped = try await pm.decideLanding(key: "2", decision: .skip)
        #expect(skipped.landState == .skipped)
        await #expect(throws: StoreError.self) { try await pm.decideLanding(key: "2", decision: .skip) }
        await #expect(throws: StoreError.self) { try await pm.decideLanding(key: "nope", decision: .retry) }
        #expect(try await h.item("2").landState == .skipped)
        #expect(try PMGit.run(["rev-parse", "main"], in: repo) == items[0].landedTo)
    }

    @Test("a human fixes the conflicted branch and says retry: it lands without another rebase")
    func humanFixThenRetry() async throws {
        let (h, repo, repoDir) = try Self.harness(
            backlog: "1. Write the README\n2. Rewrite the README\n",
            agent: Self.overlappingAgent(merge: "false")
        ) { $0.projectManager.maxMergeAttempts = 0 }
        defer { repoDir.remove() }
        let pm = h.projectManager(repository: repo)
        try await h.run(pm) {
            let items = try await h.waitForItems("item 2 to wait", timeout: 90) { items in
                items.count == 2 && items[1].landState == .waiting
            }
            #expect(try await h.tasks(of: "2").filter { $0.phase == PipelinePlan.mergePhase }.isEmpty, "no merge attempts")
            // The human merges main into the branch, keeping the item's line.
            let worktree = try #require(items[1].workdir)
            _ = try? PMGit.run(["merge", "-q", "--no-edit", "main"], in: worktree)
            try Data("# README by item 2\n".utf8).write(to: URL(fileURLWithPath: worktree + "/README.md"))
            try PMGit.run(["add", "README.md"], in: worktree)
            try PMGit.run(["commit", "-q", "--no-edit"], in: worktree)
            _ = try await pm.decideLanding(key: "2", decision: .retry)
            let landed = try await h.waitForItems("item 2 to land after the retry") { $0[1].landState == .landed }
            #expect(landed[1].landedFrom == landed[0].landedTo)
            #expect(try PMGit.run(["show", "main:README.md"], in: repo) == "# README by item 2")
            #expect(try PMGit.run(["show", "main:one.txt"], in: repo) == "1")
        }
    }

    @Test("a merge agent that rebases with -X theirs resolves the conflict: the item lands after one merge task")
    func agentResolvesConflict() async throws {
        let (h, repo, repoDir) = try Self.harness(
            backlog: "1. Write the README\n2. Rewrite the README\n",
            agent: Self.overlappingAgent(
                merge: "git -c user.name=A -c user.email=a@localhost rebase -q -X theirs main"))
        defer { repoDir.remove() }
        let pm = h.projectManager(repository: repo)
        let items = try await h.run(pm) {
            try await h.waitForItems("both items to land", timeout: 90) { items in
                items.count == 2 && items.allSatisfy { $0.landState == .landed || $0.landState == .waiting }
            }
        }
        #expect(items.map(\.landState) == [.landed, .landed], "\(items.map { $0.landDetail ?? "" })")
        #expect(try await h.tasks(of: "2").filter { $0.phase == PipelinePlan.mergePhase }.count == 1)
        #expect(try PMGit.run(["show", "main:README.md"], in: repo) == "# README by item 2")
        #expect(try PMGit.lines(["rev-list", "--merges", "main"], in: repo).isEmpty)
    }

    @Test("a verify that fails only after the rebase sends the item back to impl; the fix lands")
    func verifyFailsAfterRebase() async throws {
        // Item 2's verify needs one.txt gone... it fails once item 1 is on main, until impl
        // (iteration 2) writes fixed.txt.
        let agent = """
            item="$NIGHTSHIFT_BACKLOG_ITEM"
            if [ "$item" = 2 ]; then \(Self.waitForLanded("one.txt")); fi
            if [ "$item" = 2 ] && [ -f two.txt ]; then echo fixed > fixed.txt; fi
            echo "$item" > "$( [ "$item" = 1 ] && echo one || echo two ).txt"
            """
        let verify =
            #"if [ -f one.txt ] && [ -f two.txt ] && [ ! -f fixed.txt ]; then echo "two.txt clashes with one.txt"; exit 1; fi"#
        let (h, repo, repoDir) = try Self.harness(backlog: "1. One\n2. Two\n", agent: agent, verify: verify)
        defer { repoDir.remove() }
        let pm = h.projectManager(repository: repo)
        let items = try await h.run(pm) {
            try await h.waitForItems("both items to land", timeout: 90) { items in
                items.count == 2
                    && items.allSatisfy { $0.landState == .landed || $0.landState == .waiting || $0.state == .blocked }
            }
        }
        #expect(items.map(\.landState) == [.landed, .landed], "\(items.map { $0.landDetail ?? $0.blockedReason ?? "" })")
        let phases = try await h.tasks(of: "2").map { "\($0.phase ?? "?")\($0.iteration ?? 0)" }
        #expect(phases == ["impl1", "verify1", "impl2", "verify2"])
        let fix = try #require(try await h.tasks(of: "2").first { $0.phase == "impl" && $0.iteration == 2 })
        #expect(fix.direction.contains("two.txt clashes with one.txt"))
        #expect(try PMGit.run(["show", "main:fixed.txt"], in: repo) == "fixed")
    }

    @Test("the base checked out with uncommitted changes: the queue refuses to touch it and waits; retry lands once clean")
    func dirtyCheckoutRefused() async throws {
        let (h, repo, repoDir) = try Self.harness(
            backlog: "1. Only item\n",
            agent: """
                n=0; while [ ! -f "$PM_SHARED/go" ]; do n=$((n+1)); [ $n -gt 1200 ] && exit 3; sleep 0.05; done
                echo work > work.txt
                """)
        defer { repoDir.remove() }
        let before = try PMGit.run(["rev-parse", "main"], in: repo)
        let pm = h.projectManager(repository: repo)
        try await h.run(pm) {
            // The operator edits the checked-out main while the item works.
            try Data("operator's edit\n".utf8).write(to: URL(fileURLWithPath: repo + "/README.md"))
            _ = FileManager.default.createFile(atPath: h.shared + "/go", contents: nil)
            let item = try await h.waitForItems("the item to wait") { $0.first?.landState == .waiting }[0]
            #expect(item.landDetail?.contains("uncommitted changes (README.md)") == true, "\(item.landDetail ?? "")")
            #expect(try PMGit.run(["rev-parse", "main"], in: repo) == before)
            #expect(try String(contentsOfFile: repo + "/README.md", encoding: .utf8) == "operator's edit\n")
            try PMGit.run(["checkout", "--", "README.md"], in: repo)
            _ = try await pm.decideLanding(key: "1", decision: .retry)
            try await h.waitForItems("the item to land") { $0.first?.landState == .landed }
            #expect(try PMGit.run(["show", "main:work.txt"], in: repo) == "work")
        }
    }

    @Test("a base branch that is not checked out moves by update-ref; the operator's branch and files stay")
    func baseNotCheckedOut() async throws {
        let (h, repo, repoDir) = try Self.harness(backlog: "1. Only item\n", agent: "echo work > work.txt") {
            $0.projectManager.baseBranch = "release"
        }
        defer { repoDir.remove() }
        try PMGit.run(["branch", "release"], in: repo)
        let pm = h.projectManager(repository: repo)
        let item = try await h.run(pm) {
            try await h.waitForItems("the item to land") { $0.first?.landState == .landed }[0]
        }
        #expect(try PMGit.run(["rev-parse", "release"], in: repo) == item.landedTo)
        #expect(try PMGit.run(["show", "release:work.txt"], in: repo) == "work")
        #expect(try PMGit.run(["rev-parse", "--abbrev-ref", "HEAD"], in: repo) == "main")
        #expect(try PMGit.run(["rev-parse", "main"], in: repo) == item.landedFrom, "main did not move")
        #expect(!FileManager.default.fileExists(atPath: repo + "/work.txt"))
    }

    @Test("the dry-run merge flags a coming conflict of an active item before it lands")
    func dryRunFlagsConflict() async throws {
        let (h, repo, repoDir) = try Self.harness(
            backlog: "1. Busy item\n",
            agent: """
                printf 'changed by the item\\n' > README.md
                git -c user.name=A -c user.email=a@localhost commit -qam 'item edit'
                touch "$PM_SHARED/edited"
                n=0; while [ ! -f "$PM_SHARED/release" ]; do n=$((n+1)); [ $n -gt 1200 ] && exit 3; sleep 0.05; done
                """)
        defer { repoDir.remove() }
        let pm = h.projectManager(repository: repo)
        try await h.run(pm) {
            try await RuntimeHarness.waitUntil("the agent to commit") {
                FileManager.default.fileExists(atPath: h.shared + "/edited")
            }
            try Data("changed on main\n".utf8).write(to: URL(fileURLWithPath: repo + "/README.md"))
            try PMGit.run(["commit", "-qam", "operator edit"], in: repo)
            let queue = try #require(pm.queue)
            try await queue.refreshPreviews()
            #expect(try await h.item("1").mergeConflicts == ["README.md"])
            let monitor = Monitor(env: h.env, store: h.store, notifier: nil, projectManager: pm, apiURL: Locked<String?>(nil))
            _ = try await monitor.runOnce()
            let report = try String(contentsOfFile: h.paths.statusReportText, encoding: .utf8)
            #expect(report.contains("item 1 will conflict with main in README.md (dry-run merge)"), "\(report)")
            #expect(try await pm.status().landing?.conflictsAhead.map { "\($0.key): \($0.files)" } == [#"1: ["README.md"]"#])
            _ = FileManager.default.createFile(atPath: h.shared + "/release", contents: nil)
            try await h.waitForItems("the item to reach the queue") {
                $0.first?.landState != nil && $0.first?.landState != .queued
            }
        }
    }
}
