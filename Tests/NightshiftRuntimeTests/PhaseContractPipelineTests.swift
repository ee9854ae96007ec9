import Foundation
import NightshiftCore
import NightshiftRuntime
import NightshiftStore
import NightshiftTesting
import Testing

/// Output contracts through the real agent runner and project manager with `/bin/sh` agents:
/// a completed task whose summary or worktree files miss the phase's contract loops back to
/// the same phase with the missing parts named, passes once they are there, is bounded by
/// max_iterations, and leaves its trace in the task history.
@Suite("phase output contracts", .timeLimit(.minutes(3)))
struct PhaseContractPipelineTests {
    /// Spec summaries: the first spec of an item has no `## Verification`, later ones do.
    /// Every other phase passes with a plain summary.
    static let specAgent = """
        if [ "$NIGHTSHIFT_TASK_TYPE" = spec ]; then
          marker="$PM_SHARED/spec-ran-$NIGHTSHIFT_BACKLOG_ITEM"
          if [ ! -e "$marker" ]; then
            : > "$marker"
            printf '{"summary":"## Risks\\\\nnone"}' > "$NIGHTSHIFT_RESULT_FILE"
          else
            printf '{"summary":"## Risks\\\\nnone\\\\n\\\\n## Verification\\\\nswift test"}' > "$NIGHTSHIFT_RESULT_FILE"
          fi
          exit 0
        fi
        printf '{"summary":"%s done"}' "$NIGHTSHIFT_TASK_TYPE" > "$NIGHTSHIFT_RESULT_FILE"
        """

    static let specContract = PhaseContract(summary: .init(headings: ["## Verification", "## Risks"]))

    @Test(
        "a spec whose summary lacks ## Verification runs spec again with that heading named, then passes and advances to impl")
    func summaryContractLoopsOnce() async throws {
        let h = try PMHarness(backlog: "1. Add a --json flag\n", agent: Self.specAgent) {
            $0.projectManager.contracts = ["spec": Self.specContract]
            $0.projectManager.maxIterations = 3
        }
        let items = try await h.run(h.projectManager()) { try await h.waitUntilSettled() }
        #expect(items.map(\.state) == [.done], "\(items.map { $0.blockedReason ?? "" })")

        let tasks = try await h.tasks(of: "1")
        #expect(
            tasks.map { "\($0.phase ?? "?")\($0.iteration ?? 0)/\($0.status.rawValue)" } == [
                "spec1/failed", "spec2/completed", "impl2/completed", "test2/completed", "review2/completed",
            ])
        guard tasks.count == 5 else { return }
        let (missed, passed, impl) = (tasks[0], tasks[1], tasks[2])
        #expect(missed.errorClass == "contract_unmet")
        #expect(missed.error == "the spec output does not meet its contract; missing: heading \"## Verification\" in the summary")
        #expect(missed.attempt == 1, "a contract miss is not retried as an attempt")
        #expect(missed.summary == "## Risks\nnone", "the summary is kept")
        #expect(passed.parentID == missed.id)
        #expect(passed.direction.contains("heading \"## Verification\" in the summary"))
        #expect(!passed.direction.contains("heading \"## Risks\""), "only what was missing is named")
        #expect(passed.direction.hasPrefix("Write a short specification for this backlog item"))
        #expect(impl.direction.contains("Specification summary: ## Risks\nnone\n\n## Verification\nswift test"))

        // The history says which attempt missed what, and which met the contract.
        let missedEvents = try await h.store.events(taskID: missed.id)
        let finished = try #require(missedEvents.first { $0.kind == .finished })
        #expect(finished.toStatus == .failed)
        #expect(finished.detail["error_class"] == .string("contract_unmet"))
        #expect(finished.detail["contract"] == .string("unmet"))
        #expect(finished.detail["contract_missing"] == .array([.string("heading \"## Verification\" in the summary")]))
        let passedFinish = try #require(try await h.store.events(taskID: passed.id).first { $0.kind == .finished })
        #expect(passedFinish.detail["contract"] == .string("met"))
        #expect(passedFinish.detail["contract_missing"] == nil)
        // Phases without a contract record nothing about one.
        let implFinish = try #require(try await h.store.events(taskID: impl.id).first { $0.kind == .finished })
        #expect(implFinish.detail["contract"] == nil)
    }

    @Test("a spec that never meets its contract blocks the item after max_iterations, naming what is still missing")
    func boundedByMaxIterations() async throws {
        let agent = "printf '{\"summary\":\"no sections at all\"}' > \"$NIGHTSHIFT_RESULT_FILE\""
        let h = try PMHarness(backlog: "1. Add a --json flag\n2. Retry webhooks\n", agent: agent) {
            $0.projectManager.contracts = ["spec": Self.specContract]
            $0.projectManager.maxIterations = 2
            $0.projectManager.phases = ["spec", "impl"]
        }
        let items = try await h.run(h.projectManager()) { try await h.waitUntilSettled() }
        #expect(items.map(\.state) == [.blocked, .blocked])
        for item in items {
            let tasks = try await h.tasks(of: item.key)
            #expect(
                tasks.map { "\($0.phase ?? "?")\($0.iteration ?? 0)/\($0.status.rawValue)" } == ["spec1/failed", "spec2/failed"])
            let reason = try #require(item.blockedReason)
            #expect(reason.hasPrefix("spec output still misses its contract after 2 iterations (task \(tasks.last?.id ?? "")): "))
            #expect(reason.contains("heading \"## Verification\" in the summary; heading \"## Risks\" in the summary"))
        }
    }

    @Test(
        "a file contract in the item's worktree: a missing file, then a file without its heading, then the file; only the passing output is committed"
    )
    func fileContract() async throws {
        let repoDir = try TemporaryDirectory(prefix: "nightshift-repo")
        let repo = repoDir.path("project")
        try PMGit.makeRepository(at: repo)
        // Spec attempt n of the item: 1 writes no file, 2 a spec without "## Risks", 3 the spec.
        let agent = """
            if [ "$NIGHTSHIFT_TASK_TYPE" = spec ]; then
              n=$(cat "$PM_SHARED/specs" 2>/dev/null || echo 0); n=$((n+1)); echo "$n" > "$PM_SHARED/specs"
              mkdir -p docs
              [ "$n" -ge 2 ] && printf '# Spec\\n\\n## Verification\\nswift test\\n' > docs/spec.md
              [ "$n" -ge 3 ] && printf '\\n## Risks\\nnone\\n' >> docs/spec.md
            fi
            printf '{"summary":"%s done"}' "$NIGHTSHIFT_TASK_TYPE" > "$NIGHTSHIFT_RESULT_FILE"
            """
        let h = try PMHarness(backlog: "1. Add a --json flag\n", agent: agent) {
            $0.runner.workspace = repo
            $0.projectManager.autoCommit = true
            $0.projectManager.phases = ["spec", "impl"]
            $0.projectManager.maxIterations = 5
            $0.projectManager.contracts = [
                "spec": PhaseContract(files: [
                    .init(path: "docs/spec.md", requirements: .init(headings: ["## Verification", "## Risks"]))
                ])
            ]
        }
        let items = try await h.run(h.projectManager(repository: repo)) { try await h.waitUntilSettled(timeout: 90) }
        #expect(items.map(\.state) == [.done], "\(items.map { $0.blockedReason ?? "" })")
        let tasks = try await h.tasks(of: "1")
        #expect(
            tasks.map { "\($0.phase ?? "?")\($0.iteration ?? 0)/\($0.status.rawValue)" } == [
                "spec1/failed", "spec2/failed", "spec3/completed", "impl3/completed",
            ])
        guard tasks.count == 4 else { return }
        #expect(
            tasks[0].error
                == "the spec output does not meet its contract; missing: file docs/spec.md (not found); heading \"## Verification\" in docs/spec.md; heading \"## Risks\" in docs/spec.md"
        )
        #expect(tasks[1].direction.contains("file docs/spec.md (not found)"))
        #expect(tasks[1].error == "the spec output does not meet its contract; missing: heading \"## Risks\" in docs/spec.md")
        #expect(tasks[2].direction.contains("heading \"## Risks\" in docs/spec.md"))
        #expect(!tasks[2].direction.contains("not found"))

        // One commit for the spec that met its contract (with the whole file), one for impl.
        let item = items[0]
        let branch = try #require(item.branch)
        let log = try PMGit.lines(["log", "--reverse", "--format=%s", "main..\(branch)"], in: repo)
        #expect(log == ["[nightshift] spec \(tasks[2].id): Add a --json flag"], "impl changed nothing: \(log)")
        #expect(
            try PMGit.run(["show", "\(branch):docs/spec.md"], in: repo)
                == "# Spec\n\n## Verification\nswift test\n\n## Risks\nnone")
    }
}
