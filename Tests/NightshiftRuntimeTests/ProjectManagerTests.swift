import Foundation
import NightshiftCore
import NightshiftRuntime
import NightshiftStore
import NightshiftTesting
import Testing

/// The project manager as a service over a real store, with the real agent runner running
/// `/bin/sh` agents: items flow through their phases, fix loops stop at max_iterations,
/// dependencies, decisions, live backlog edits, pause and the overnight window.
@Suite("ProjectManager service", .timeLimit(.minutes(3)))
struct ProjectManagerTests {
    static let phases = ["spec", "impl", "test", "review"]
    static let threeItems = "# Backlog\n\n1. Add a --json flag\n2. Retry webhooks\n3. Reject repeated keys\n"

    /// An agent that passes every phase and leaves a summary naming the phase and the item.
    static let passingAgent =
        #"printf '{"summary":"%s of item %s"}' "$NIGHTSHIFT_TASK_TYPE" "$NIGHTSHIFT_BACKLOG_ITEM" > "$NIGHTSHIFT_RESULT_FILE""#

    /// Checks that `tasks` (one item's, oldest first) ran `expected` phases in order, each the
    /// child of the one before, and each started only after its parent finished.
    static func expectPhaseChain(_ tasks: [AgentTask], _ expected: [String], sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(tasks.map { "\($0.phase ?? "?")\($0.iteration ?? 0)" } == expected, sourceLocation: sourceLocation)
        #expect(tasks.first?.parentID == nil, sourceLocation: sourceLocation)
        for (parent, child) in zip(tasks, tasks.dropFirst()) {
            #expect(child.parentID == parent.id, sourceLocation: sourceLocation)
            if let finished = parent.finishedAt, let started = child.startedAt {
                #expect(child.createdAt >= finished, sourceLocation: sourceLocation)
                #expect(started >= finished, sourceLocation: sourceLocation)
            } else {
                Issue.record("task \(parent.id) or \(child.id) never ran", sourceLocation: sourceLocation)
            }
        }
    }

    @Test("a 3-item backlog finishes every item in phase order, with no duplicate tasks")
    func threeItemsInPhaseOrder() async throws {
        let h = try PMHarness(backlog: Self.threeItems, agent: Self.passingAgent)
        let pm = h.projectManager()
        let items = try await h.run(pm) {
            let items = try await h.waitUntilSettled()
            // The operator view catches up with the end of the run.
            try await RuntimeHarness.waitUntil("the state file to show 3 done items") {
                (h.stateFile()?["items_by_state"] as? [String: Int])?["done"] == 3
            }
            return items
        }
        #expect(items.map(\.key) == ["1", "2", "3"])
        #expect(items.allSatisfy { $0.state == .done && $0.blockedReason == nil && $0.finishedAt != nil })
        let all = try await h.allTasks()
        #expect(all.count == 12)
        #expect(PMHarness.duplicates(all).isEmpty)
        #expect(all.allSatisfy { $0.status == .completed && $0.attempt == 1 })
        for item in items {
            let tasks = try await h.tasks(of: item.key)
            Self.expectPhaseChain(tasks, ["spec1", "impl1", "test1", "review1"])
            #expect(tasks.map(\.taskType) == [.spec, .impl, .test, .review])
            #expect(tasks[1].direction.contains("Specification summary: spec of item \(item.key)"))
            #expect(tasks[2].direction.contains("Implementation summary: impl of item \(item.key)"))
            #expect(item.lastSummary == "review of item \(item.key)")
            #expect(item.currentTaskID == tasks.last?.id)
        }
        let state = try #require(h.stateFile())
        #expect(state["state"] as? String == "idle")
        #expect((state["in_flight"] as? [Any])?.isEmpty == true)
    }

    @Test("a failing item is blocked after max_iterations with the reason; the others finish")
    func failingItemIsBounded() async throws {
        let agent = """
            if [ "$NIGHTSHIFT_TASK_TYPE" = review ] && [ "$NIGHTSHIFT_BACKLOG_ITEM" = 2 ]; then
              printf '{"verdict":"fail","feedback":"no test covers the retry limit (attempt %s)"}' "$NIGHTSHIFT_ATTEMPT" > "$NIGHTSHIFT_RESULT_FILE"
              exit 0
            fi
            printf '{"summary":"ok"}' > "$NIGHTSHIFT_RESULT_FILE"
            """
        let h = try PMHarness(backlog: Self.threeItems, agent: agent) { $0.projectManager.maxIterations = 2 }
        let pm = h.projectManager()
        let items = try await h.run(pm) { try await h.waitUntilSettled() }
        #expect(items.map(\.state) == [.done, .blocked, .done])
        let blocked = items[1]
        let reason = try #require(blocked.blockedReason)
        #expect(reason.contains("still failing after 2 iterations"))
        #expect(reason.contains("no test covers the retry limit"))

        let tasks = try await h.tasks(of: "2")
        Self.expectPhaseChain(tasks, ["spec1", "impl1", "test1", "review1", "impl2", "test2", "review2"])
        #expect(tasks.map(\.status) == [.completed, .completed, .completed, .failed, .completed, .completed, .failed])
        #expect(tasks[3].verdict == "fail" && tasks[3].errorClass == "review_failed")
        #expect(tasks[3].attempt == 1, "a failing verdict is not retried")
        #expect(tasks[4].direction.contains("review failed: no test covers the retry limit"))
        #expect(reason.contains("review task \(tasks[6].id)"))
        #expect(blocked.currentTaskID == tasks[6].id)
        for key in ["1", "3"] { Self.expectPhaseChain(try await h.tasks(of: key), ["spec1", "impl1", "test1", "review1"]) }
        #expect(PMHarness.duplicates(try await h.allTasks()).isEmpty)

        let status = try await pm.status()
        let json = try JSONSerialization.jsonObject(with: JSONEncoder.nightshift().encode(status)) as? [String: Any]
        let listed = try #require(json?["blocked"] as? [[String: Any]])
        #expect(listed.count == 1)
        #expect(listed.first?["key"] as? String == "2")
        #expect(listed.first?["reason"] as? String == reason)
        #expect((json?["items_by_state"] as? [String: Int]) == ["queued": 0, "active": 0, "done": 2, "blocked": 1])
    }

    @Test("dependency order: item 2 (after: 1) starts only after item 1 is done; item 3 does not wait")
    func dependencyOrder() async throws {
        let h = try PMHarness(
            backlog: "1. Build the parser\n2. Use the parser (after: 1)\n3. Unrelated docs\n", agent: Self.passingAgent)
        let items = try await h.run(h.projectManager()) { try await h.waitUntilSettled() }
        #expect(items.allSatisfy { $0.state == .done })
        let one = items[0]
        let two = items[1]
        let three = items[2]
        let oneDone = try #require(one.finishedAt)
        let twoStarted = try #require(two.startedAt)
        #expect(twoStarted >= oneDone)
        let firstOfTwo = try #require(try await h.tasks(of: "2").first)
        #expect(firstOfTwo.createdAt >= oneDone)
        let lastOfOne = try #require(try await h.tasks(of: "1").last)
        #expect(try #require(firstOfTwo.startedAt) >= (try #require(lastOfOne.finishedAt)))
        // Item 3 took the free slot while item 2 waited.
        #expect(try #require(three.startedAt) < oneDone)
    }

    @Test("a decision pauses its item only; the decision resumes it to done")
    func decisionPausesOneItem() async throws {
        let agent = """
            if [ "$NIGHTSHIFT_BACKLOG_ITEM" = 1 ] && [ "$NIGHTSHIFT_TASK_TYPE" = impl ]; then
              if [ -z "$NIGHTSHIFT_DECISION" ]; then
                printf '{"status":"needs_decision","decision_prompt":"REST or gRPC?"}' > "$NIGHTSHIFT_RESULT_FILE"
                exit 0
              fi
              printf '{"summary":"went with %s"}' "$NIGHTSHIFT_DECISION" > "$NIGHTSHIFT_RESULT_FILE"
              exit 0
            fi
            printf '{"summary":"ok"}' > "$NIGHTSHIFT_RESULT_FILE"
            """
        let h = try PMHarness(backlog: Self.threeItems, agent: agent)
        let pm = h.projectManager()
        try await h.run(pm) {
            let items = try await h.waitForItems("items 2 and 3 to finish") { items in
                items.count == 3 && items[1].state == .done && items[2].state == .done
            }
            let waiting = items[0]
            #expect(waiting.state == .active)
            #expect(waiting.phase == "impl")
            let asked = try await h.waitForStatus(try #require(waiting.currentTaskID), [.needsDecision])
            #expect(asked.decisionPrompt == "REST or gRPC?")
            #expect(try await h.tasks(of: "1").count == 2, "nothing after the waiting impl")
            let status = try await pm.status()
            let json = try JSONSerialization.jsonObject(with: JSONEncoder.nightshift().encode(status)) as? [String: Any]
            let inFlight = try #require(json?["in_flight"] as? [[String: Any]])
            #expect(inFlight.count == 1)
            #expect(inFlight.first?["task_status"] as? String == "needs_decision")
            #expect(inFlight.first?["phase"] as? String == "impl")

            _ = try await h.env.ledger.decide(id: asked.id, decision: "REST", by: "test", now: Date())
            try await h.waitForItems("item 1 to finish after the decision") { $0.first?.state == .done }
        }
        let tasks = try await h.tasks(of: "1")
        Self.expectPhaseChain(tasks, ["spec1", "impl1", "test1", "review1"])
        #expect(tasks[1].attempt == 1)  // the resumed run continues the attempt that asked
        #expect(tasks[1].decision == "REST")
        #expect(tasks[1].summary == "went with REST")
        #expect(tasks[2].direction.contains("Implementation summary: went with REST"))
        #expect(PMHarness.duplicates(try await h.allTasks()).isEmpty)
    }

    @Test("an item appended to the backlog file while running is picked up without a restart")
    func backlogEditedWhileRunning() async throws {
        let h = try PMHarness(backlog: "1. First item\n", agent: Self.passingAgent)
        try await h.run(h.projectManager()) {
            try await h.waitForItems("item 1 to finish") { $0.count == 1 && $0[0].state == .done }
            // Item 1's text changes too: a done item keeps the text it ran with.
            try h.writeBacklog("1. First item, reworded\n2. Second item\n")
            try await h.waitForItems("the appended item to finish", timeout: 60) { $0.count == 2 && $0[1].state == .done }
        }
        let items = try await h.items()
        #expect(items.map(\.title) == ["First item", "Second item"])
        #expect(try await h.tasks(of: "1").count == 4)
        Self.expectPhaseChain(try await h.tasks(of: "2"), ["spec1", "impl1", "test1", "review1"])
    }

    @Test("a malformed backlog at prepare() throws a BacklogError naming file:line and imports nothing")
    func malformedBacklogAtPrepare() async throws {
        let h = try PMHarness(backlog: "1. Good item\n2. Another good one\nthis line is prose\n", agent: Self.passingAgent)
        let pm = h.projectManager()
        do {
            try await pm.prepare()
            Issue.record("prepare() accepted a malformed backlog")
        } catch let error as BacklogError {
            #expect(error.file == h.backlogPath)
            #expect(error.line == 3)
            #expect(error.description.contains("\(h.backlogPath):3"))
            #expect(error.reason.contains("this line is prose"))
        }
        #expect(try await h.items().isEmpty)
        #expect(try await h.allTasks().isEmpty)
    }

    @Test("a missing backlog file at prepare() is a BacklogError naming the path")
    func missingBacklogAtPrepare() async throws {
        let h = try PMHarness(backlog: "1. x\n", agent: Self.passingAgent)
        try FileManager.default.removeItem(atPath: h.backlogPath)
        await #expect(throws: BacklogError.self) { try await h.projectManager().prepare() }
    }

    @Test("a backlog broken while running keeps the last good import and shows the error until it is fixed")
    func malformedBacklogWhileRunning() async throws {
        let good = "1. Good item\n2. Second\n"
        let h = try PMHarness(backlog: good, agent: Self.passingAgent)
        let pm = h.projectManager()
        try await pm.prepare()
        try await pm.pause()
        try h.writeBacklog(good + "3. Third (after: 7)\n")
        try await pm.runOnce()
        #expect(try await h.items().map(\.key) == ["1", "2"])
        let error = try #require(try await pm.status().backlogErrorText)
        #expect(error.contains("\(h.backlogPath):3"))
        #expect((h.stateFile()?["backlog_error"] as? String)?.contains(":3") == true)

        // Back to the good file: the error is gone.
        try h.writeBacklog(good)
        try await pm.runOnce()
        #expect(try await pm.status().backlogErrorText == nil)
        #expect(h.stateFile()?["backlog_error"] == nil)
    }

    @Test("project_manager_state.json is valid JSON with items by state, in-flight items, recent progress and the state")
    func stateFile() async throws {
        let h = try PMHarness(backlog: Self.threeItems, agent: Self.passingAgent)
        let pm = h.projectManager()
        try await pm.prepare()
        let pass = try await pm.runOnce()
        #expect(pass.started == ["1", "2"])
        let state = try #require(h.stateFile())
        #expect(state["items_by_state"] as? [String: Int] == ["queued": 1, "active": 2, "done": 0, "blocked": 0])
        #expect(state["state"] as? String == "running")
        #expect(state["paused"] as? Bool == false)
        #expect(state["enabled"] as? Bool == true)
        #expect(state["backlog"] as? String == h.backlogPath)
        let inFlight = try #require(state["in_flight"] as? [[String: Any]])
        #expect(inFlight.map { $0["key"] as? String } == ["1", "2"])
        #expect(
            inFlight.allSatisfy {
                $0["phase"] as? String == "spec" && $0["iteration"] as? Int == 1 && $0["task_status"] as? String == "pending"
            })
        #expect(state["items"] == nil, "every item is in the API's pipeline-status, not in the file")
        let recent = try #require(state["recent"] as? [[String: Any]])
        #expect(recent.map { "\($0["event"] as? String ?? "") \($0["key"] as? String ?? "")" } == ["started 2", "started 1"])
        let mode = try FileManager.default.attributesOfItem(atPath: h.paths.projectManagerState)[.posixPermissions] as? Int
        #expect(mode.map { $0 & 0o077 } == 0, "the view is private to the operator")
    }

    @Test("paused: no new item starts and a finished phase does not hand off; resume catches up once")
    func pauseAndResume() async throws {
        let agent = """
            if [ "$NIGHTSHIFT_TASK_TYPE" = spec ] && [ "$NIGHTSHIFT_BACKLOG_ITEM" = 1 ]; then
              touch "$PM_SHARED/spec-running"
              n=0
              while [ ! -f "$PM_SHARED/go" ]; do n=$((n+1)); [ $n -gt 1200 ] && exit 9; sleep 0.05; done
            fi
            printf '{"summary":"ok"}' > "$NIGHTSHIFT_RESULT_FILE"
            """
        let h = try PMHarness(backlog: Self.threeItems, agent: agent) { $0.projectManager.parallelItems = 1 }
        let pm = h.projectManager()
        try await h.run(pm) {
            try await RuntimeHarness.waitUntil("item 1's spec to run") {
                FileManager.default.fileExists(atPath: h.shared + "/spec-running")
            }
            try await pm.pause()
            let spec = try await h.store.get(try #require(try await h.item("1").currentTaskID))
            _ = FileManager.default.createFile(atPath: h.shared + "/go", contents: nil)
            try await h.waitForStatus(spec.id, [.completed])
            // A pass after the phase ended, while paused: nothing new.
            let pass = try await pm.runOnce()
            #expect(pass.started.isEmpty && pass.created.isEmpty)
            #expect(try await h.tasks(of: "1").map(\.id) == [spec.id])
            #expect(try await h.items().map(\.state) == [.active, .queued, .queued])
            #expect(try await pm.status().stateText == "paused")
            #expect(h.stateFile()?["paused"] as? Bool == true)

            try await pm.resume()
            try await h.waitUntilSettled()
        }
        #expect(try await h.items().allSatisfy { $0.state == .done })
        Self.expectPhaseChain(try await h.tasks(of: "1"), ["spec1", "impl1", "test1", "review1"])
        #expect(PMHarness.duplicates(try await h.allTasks()).isEmpty)
    }

    @Test("the overnight window: a restart inside it keeps it; once it closes, no new work starts")
    func windowCloses() async throws {
        let clock = MutableNow()
        let h = try PMHarness(backlog: Self.threeItems, agent: Self.passingAgent, clock: clock) { $0.projectManager.hours = 3600 }
        let pm = h.projectManager()
        try await pm.prepare()
        let end = try #require(try await h.store.pipelineValue(PipelineKeys.windowEndsAt).flatMap(Double.init))
        #expect(end == clock.now.addingTimeInterval(3600).timeIntervalSince1970)
        #expect(try await pm.runOnce().started == ["1", "2"])

        // A restart half-way through keeps the window's end.
        clock.advance(by: 1800)
        let restarted = h.projectManager()
        try await restarted.prepare()
        #expect(try await h.store.pipelineValue(PipelineKeys.windowEndsAt).flatMap(Double.init) == end)

        // The window closes while item 1's spec runs: it finishes, nothing follows it.
        let spec = try await h.store.get(try #require(try await h.item("1").currentTaskID))
        _ = try await h.store.claimNext(owner: "runner", limit: 10, now: clock.now, lease: 60)
        clock.advance(by: 1801)
        let done = try await h.store.finish(id: spec.id, owner: "runner", outcome: AttemptOutcome(.completed), now: clock.now)
        #expect(done.status == .completed)
        let pass = try await restarted.runOnce()
        #expect(pass.started.isEmpty && pass.created.isEmpty)
        #expect(try await h.tasks(of: "1").count == 1)
        #expect(try await h.item("3").state == .queued)
        #expect(try await restarted.status().stateText == "window_closed")
        #expect(h.stateFile()?["state"] as? String == "window_closed")
    }

    @Test("verify_command runs after impl and gates the test phase: a failing verify sends the item back to impl")
    func verifyGatesTest() async throws {
        let scratch = try TemporaryDirectory()
        let verify = try scratch.write(
            """
            #!/bin/sh
            if [ ! -f "\(scratch.path("verified-once"))" ]; then touch "\(scratch.path("verified-once"))"; echo "FAIL: 1 test failed"; exit 1; fi
            echo "all tests passed"
            """, to: "verify.sh")
        let h = try PMHarness(backlog: "1. Only item\n", agent: Self.passingAgent) {
            $0.projectManager.verifyCommand = "/bin/sh \(verify)"
            $0.runner.maxAttempts = 1
        }
        let items = try await h.run(h.projectManager()) { try await h.waitUntilSettled() }
        #expect(items.map(\.state) == [.done])
        let tasks = try await h.tasks(of: "1")
        Self.expectPhaseChain(tasks, ["spec1", "impl1", "verify1", "impl2", "verify2", "test2", "review2"])
        #expect(tasks[2].executor == "verify" && tasks[2].taskType == .test && tasks[2].status == .failed)
        #expect(tasks[3].direction.contains("verify failed"))
        #expect(tasks[3].direction.contains("FAIL: 1 test failed"))
        #expect(tasks[4].outputTail?.contains("all tests passed") == true)
    }
}

/// Per-item git worktrees and auto-commit, against a real temporary repository.
@Suite("ProjectManager worktrees", .timeLimit(.minutes(3)))
struct ProjectManagerWorktreeTests {
    @Test("two items run in parallel, each in its own worktree and branch, one commit per changing task")
    func parallelWorktrees() async throws {
        let repoDir = try TemporaryDirectory(prefix: "nightshift-repo")
        let repo = repoDir.path("project")
        try PMGit.makeRepository(at: repo)
        let mainHead = try PMGit.run(["rev-parse", "HEAD"], in: repo)
        // Both specs wait for each other: the test only passes if the two items truly overlap.
        // Test tasks change nothing, so they must not produce a commit.
        let agent = """
            item="$NIGHTSHIFT_BACKLOG_ITEM"; type="$NIGHTSHIFT_TASK_TYPE"
            pwd > "$PM_SHARED/cwd-$NIGHTSHIFT_TASK_ID"
            if [ "$type" = spec ]; then
              touch "$PM_SHARED/spec-started-$item"
              n=0
              while [ ! -f "$PM_SHARED/spec-started-1" ] || [ ! -f "$PM_SHARED/spec-started-2" ]; do
                n=$((n+1)); if [ $n -gt 1200 ]; then echo "the other item never started" >&2; exit 3; fi
                sleep 0.05
              done
            fi
            if [ "$type" != test ]; then echo "$item $type" > "$type.txt"; fi
            """
        let h = try PMHarness(backlog: "1. Add a JSON flag\n2. Retry webhooks\n", agent: agent) {
            $0.runner.workspace = repo
            $0.projectManager.autoCommit = true
        }
        let pm = h.projectManager(repository: repo)
        let items = try await h.run(pm) { try await h.waitUntilSettled(timeout: 90) }
        #expect(items.map(\.state) == [.done, .done])

        for item in items {
            let worktree = h.paths.file("worktrees/\(item.slug)")
            let branch = "nightshift/\(item.slug)"
            #expect(item.workdir == worktree)
            #expect(item.branch == branch)
            #expect(try PMGit.run(["rev-parse", "--abbrev-ref", "HEAD"], in: worktree) == branch)
            #expect(try PMGit.run(["status", "--porcelain"], in: worktree) == "")

            let tasks = try await h.tasks(of: item.key)
            #expect(tasks.map(\.phase) == ["spec", "impl", "test", "review"])
            for t in tasks {
                #expect(t.status == .completed)
                let cwd = (try? String(contentsOfFile: h.shared + "/cwd-\(t.id)", encoding: .utf8))?
                    .trimmingCharacters(in: .whitespacesAndNewlines)
                #expect(
                    cwd.map { URL(fileURLWithPath: $0).resolvingSymlinksInPath().path }
                        == URL(fileURLWithPath: worktree).resolvingSymlinksInPath().path)
            }
            let committed = tasks.filter { $0.taskType != .test }
            let log = try PMGit.lines(["log", "--reverse", "--format=%s", "main..\(branch)"], in: repo)
            #expect(log == committed.map { "[nightshift] \($0.taskType) \($0.id): \(item.title)" })
            #expect(
                try PMGit.lines(["ls-tree", "-r", "--name-only", branch], in: repo) == [
                    "README.md", "impl.txt", "review.txt", "spec.txt",
                ])
            for type in ["spec", "impl", "review"] {
                #expect(try PMGit.run(["show", "\(branch):\(type).txt"], in: repo) == "\(item.key) \(type)")
            }
            // Each commit holds only its own task's file.
            for (t, sha) in zip(committed, try PMGit.lines(["log", "--reverse", "--format=%H", "main..\(branch)"], in: repo)) {
                #expect(try PMGit.lines(["show", "--name-only", "--format=", sha], in: repo) == ["\(t.taskType).txt"])
            }
        }
        // The operator's own tree never moved.
        #expect(try PMGit.run(["rev-parse", "HEAD"], in: repo) == mainHead)
        #expect(try PMGit.run(["rev-parse", "--abbrev-ref", "HEAD"], in: repo) == "main")
        #expect(try PMGit.run(["status", "--porcelain"], in: repo) == "")
        #expect(try PMGit.lines(["ls-files"], in: repo) == ["README.md"])
    }

    @Test("a finished item's worktree is removed after worktree_retention; its branch stays")
    func worktreeRetention() async throws {
        let repoDir = try TemporaryDirectory(prefix: "nightshift-repo")
        let repo = repoDir.path("project")
        try PMGit.makeRepository(at: repo)
        // A frozen clock: nothing is old enough to clean up while the item runs.
        let clock = MutableNow()
        let h = try PMHarness(backlog: "1. Only item\n", agent: #"echo "$NIGHTSHIFT_TASK_TYPE" >> work.txt"#, clock: clock) {
            $0.runner.workspace = repo
            $0.projectManager.autoCommit = true
            $0.projectManager.worktreeRetention = 3600
        }
        let pm = h.projectManager(repository: repo)
        let item = try await h.run(pm) { try await h.waitUntilSettled()[0] }
        #expect(item.state == .done)
        #expect(FileManager.default.fileExists(atPath: try #require(item.workdir)))
        clock.advance(by: 3599)
        try await pm.runOnce()
        #expect(FileManager.default.fileExists(atPath: try #require(item.workdir)), "kept within the retention")
        clock.advance(by: 2)
        try await pm.runOnce()
        let worktree = try #require(item.workdir)
        #expect(!FileManager.default.fileExists(atPath: worktree))
        #expect(try PMGit.lines(["log", "--format=%s", "main..nightshift/\(item.slug)"], in: repo).count == 4)
        #expect(try !PMGit.run(["worktree", "list"], in: repo).contains(worktree))
    }

    /// The error `prepare()` throws for a workspace at `repository`.
    static func prepareFailure(repository: String) async throws -> (String, [BacklogItem]) {
        let h = try PMHarness(backlog: "1. Only item\n", agent: "true") { $0.runner.workspace = repository }
        do {
            try await h.projectManager(repository: repository).prepare()
        } catch let error as Workspace.Failure {
            return (error.description, try await h.items())
        }
        Issue.record("prepare() accepted the workspace \(repository)")
        return ("", [])
    }

    @Test("a dirty repository fails prepare() with the files named; nothing is imported")
    func dirtyRepository() async throws {
        let repoDir = try TemporaryDirectory(prefix: "nightshift-repo")
        let repo = repoDir.path("project")
        try PMGit.makeRepository(at: repo)
        try repoDir.write("scratch\n", to: "project/notes.txt")
        try repoDir.write("# edited\n", to: "project/README.md")
        let (message, items) = try await Self.prepareFailure(repository: repo)
        #expect(message.contains("runner.workspace"))
        // The first name whole (git's output comes trimmed, its status column with it).
        #expect(message.contains("uncommitted changes (README.md, notes.txt)"), "\(message)")
        #expect(items.isEmpty)
    }

    @Test("a directory that is not a git repository, or no directory at all, fails prepare() clearly")
    func notARepository() async throws {
        let dir = try TemporaryDirectory(prefix: "nightshift-plain")
        let (plain, _) = try await Self.prepareFailure(repository: dir.path)
        #expect(plain.contains("is not a git repository"))
        let (missing, _) = try await Self.prepareFailure(repository: dir.path("nope"))
        #expect(missing.contains("does not exist"))
        let empty = dir.path("empty")
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        try PMGit.run(["init", "-q"], in: empty)
        let (noCommit, _) = try await Self.prepareFailure(repository: empty)
        #expect(noCommit.contains("has no commit yet"))
    }
}

extension ProjectManager.Status {
    /// The encoded `state` and `backlog_error` (the fields are internal; tests read the JSON).
    var json: [String: Any] {
        (try? JSONEncoder.nightshift().encode(self)).flatMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] }
            ?? [:]
    }
    var stateText: String? { json["state"] as? String }
    var backlogErrorText: String? { json["backlog_error"] as? String }
}

extension PMHarness {
    /// Waits until the task reaches one of `statuses`.
    @discardableResult
    func waitForStatus(_ id: String, _ statuses: Set<TaskStatus>, timeout: Double = 30) async throws -> AgentTask {
        var task: AgentTask?
        try await RuntimeHarness.waitUntil("task \(id) to reach \(statuses.map(\.rawValue).sorted())", timeout: timeout) {
            task = try await self.store.get(id)
            return statuses.contains(task!.status)
        }
        return task!
    }
}
