import Foundation
import NightshiftCore
import NightshiftTesting
import Testing

/// The project manager's pure rules: which task an item needs next after a task ends.
@Suite("PipelinePlan")
struct PipelinePlanTests {
    static let phases = ["spec", "impl", "test", "review"]

    static func plan(maxIterations: Int = 3, templates: [String: String] = [:], verify: Bool = false) -> PipelinePlan {
        PipelinePlan(phases: phases, maxIterations: maxIterations, templates: templates, verify: verify)
    }

    static func item(
        _ body: String = "Add a --json flag\nso scripts can read it", title: String = "Add a --json flag", iteration: Int = 1
    ) -> BacklogItem {
        var i = BacklogItem(
            entry: BacklogEntry(key: "1", position: 0, title: title, body: body, after: [], file: "b.md", line: 1),
            now: MutableNow.defaultStart)
        i.state = .active
        i.iteration = iteration
        return i
    }

    /// A task of `phase` that ended with `status`.
    static func ended(
        _ phase: String, _ status: TaskStatus, iteration: Int? = 1, summary: String? = nil, errorClass: String? = nil,
        error: String? = nil, feedback: String? = nil, tail: String? = nil
    ) -> AgentTask {
        var t = AgentTask.make(type: TaskType(phase), backlogItem: "1", phase: phase, iteration: iteration)
        t.status = status
        t.summary = summary
        t.errorClass = errorClass
        t.error = error
        t.feedback = feedback
        t.outputTail = tail
        return t
    }

    /// The fields of a `.run` step, or nil (with an issue recorded) for any other step.
    static func run(
        _ step: PipelinePlan.Step, sourceLocation: SourceLocation = #_sourceLocation
    )
        -> (phase: String, type: TaskType, executor: String?, iteration: Int, direction: String)?
    {
        guard case .run(let phase, let type, let executor, let iteration, let direction) = step else {
            Issue.record("expected a run step, got \(step)", sourceLocation: sourceLocation)
            return nil
        }
        return (phase, type, executor, iteration, direction)
    }

    static func blockedReason(_ step: PipelinePlan.Step, sourceLocation: SourceLocation = #_sourceLocation) -> String? {
        guard case .blocked(let reason) = step else {
            Issue.record("expected a blocked step, got \(step)", sourceLocation: sourceLocation)
            return nil
        }
        return reason
    }

    @Test("the first step is the first phase, iteration 1, with the item's text in the direction")
    func firstStep() throws {
        let r = try #require(Self.run(Self.plan().first(for: Self.item())))
        #expect(r.phase == "spec")
        #expect(r.type == .spec)
        #expect(r.executor == nil)
        #expect(r.iteration == 1)
        #expect(r.direction.contains("Add a --json flag\nso scripts can read it"))
        #expect(r.direction.hasPrefix("Write a short specification"))
    }

    @Test("custom phases: the first is whatever the config lists first")
    func customFirstPhase() throws {
        let plan = PipelinePlan(phases: ["impl", "review"], maxIterations: 2, templates: [:], verify: false)
        #expect(try #require(Self.run(plan.first(for: Self.item()))).phase == "impl")
    }

    @Test("a completed phase leads to the next one, same iteration, with its summary in the direction")
    func completedLeadsToNext() throws {
        let plan = Self.plan()
        var r = try #require(
            Self.run(plan.next(after: Self.ended("spec", .completed, summary: "SPEC: change report.swift"), item: Self.item())))
        #expect(r.phase == "impl")
        #expect(r.type == .impl)
        #expect(r.iteration == 1)
        #expect(r.direction.hasPrefix("Implement this backlog item."))
        #expect(r.direction.contains("Specification summary: SPEC: change report.swift"))

        r = try #require(
            Self.run(
                plan.next(after: Self.ended("impl", .completed, iteration: 2, summary: "did it"), item: Self.item(iteration: 2))))
        #expect(r.phase == "test")
        #expect(r.iteration == 2)
        #expect(r.direction.contains("Implementation summary: did it"))

        r = try #require(Self.run(plan.next(after: Self.ended("test", .completed), item: Self.item())))
        #expect(r.phase == "review")
        #expect(r.type == .review)
    }

    @Test("without a summary of its own, the next phase gets the item's last summary, else (none)")
    func previousSummaryFallback() throws {
        var item = Self.item()
        item.lastSummary = "from an earlier phase"
        let plan = Self.plan()
        let withItem = try #require(Self.run(plan.next(after: Self.ended("spec", .completed), item: item)))
        #expect(withItem.direction.contains("Specification summary: from an earlier phase"))
        let none = try #require(Self.run(plan.next(after: Self.ended("spec", .completed), item: Self.item())))
        #expect(none.direction.contains("Specification summary: (none)"))
    }

    @Test("the last phase completing means the item is done")
    func lastPhaseDone() {
        #expect(Self.plan().next(after: Self.ended("review", .completed), item: Self.item()) == .done)
    }

    @Test("a completed task of a phase the config does not list blocks the item")
    func unknownPhase() throws {
        let reason = try #require(Self.blockedReason(Self.plan().next(after: Self.ended("heal", .completed), item: Self.item())))
        #expect(reason.contains("heal, which is not in project_manager.phases"))
    }

    @Test("a failed test sends the item back to impl, iteration + 1, with the failure and the output tail")
    func failedTestFixLoop() throws {
        let tail = String(repeating: "x", count: 3000) + "\nAssertionError: expected 3, got 4\n"
        let task = Self.ended(
            "test", .failed, iteration: 1, errorClass: "exit_code", error: "agent exited with code 1", tail: tail)
        let r = try #require(Self.run(Self.plan().next(after: task, item: Self.item())))
        #expect(r.phase == "impl")
        #expect(r.type == .impl)
        #expect(r.iteration == 2)
        #expect(r.direction.hasPrefix("Fix this backlog item (iteration 2)."))
        #expect(r.direction.contains("Item: Add a --json flag\nso scripts can read it"))
        #expect(r.direction.contains("test failed: agent exited with code 1"))
        #expect(r.direction.contains("Output tail:\n"))
        #expect(r.direction.contains("AssertionError: expected 3, got 4"))
        // Only the end of a long tail is kept.
        #expect(!r.direction.contains(String(repeating: "x", count: 1600)))
        #expect(r.direction.contains(String(repeating: "x", count: 1400)))
    }

    @Test("a failed review sends the item back to impl with the reviewer's feedback")
    func failedReviewFixLoop() throws {
        let task = Self.ended(
            "review", .failed, iteration: 2, errorClass: "review_failed", error: "needs tests", feedback: "add a test for --json")
        let r = try #require(Self.run(Self.plan().next(after: task, item: Self.item(iteration: 2))))
        #expect(r.phase == "impl")
        #expect(r.iteration == 3)
        #expect(r.direction.contains("review failed: add a test for --json"))
        #expect(!r.direction.contains("Output tail"))
    }

    @Test("the task's iteration counts, not the item's; a task without one uses the item's")
    func iterationSource() throws {
        let plan = Self.plan(maxIterations: 9)
        let fromTask = try #require(
            Self.run(plan.next(after: Self.ended("test", .failed, iteration: 4), item: Self.item(iteration: 1))))
        #expect(fromTask.iteration == 5)
        let fromItem = try #require(
            Self.run(plan.next(after: Self.ended("test", .failed, iteration: nil), item: Self.item(iteration: 3))))
        #expect(fromItem.iteration == 4)
    }

    @Test("at max_iterations a failing check blocks the item with the reason and the last feedback")
    func iterationCap() throws {
        let plan = Self.plan(maxIterations: 3)
        #expect(
            Self.run(plan.next(after: Self.ended("review", .failed, iteration: 2, feedback: "f"), item: Self.item(iteration: 2)))?
                .iteration == 3)
        let task = Self.ended("review", .failed, iteration: 3, error: "the review failed", feedback: "still no tests")
        let reason = try #require(Self.blockedReason(plan.next(after: task, item: Self.item(iteration: 3))))
        #expect(reason.contains("still failing after 3 iterations"))
        #expect(reason.contains("review task \(task.id)"))
        #expect(reason.contains("still no tests"))
    }

    @Test("max_iterations 1: the first failed check blocks")
    func singleIteration() throws {
        let plan = Self.plan(maxIterations: 1)
        #expect(Self.blockedReason(plan.next(after: Self.ended("test", .failed), item: Self.item())) != nil)
    }

    @Test("a failed spec or impl blocks the item (no fix loop before there is something to check)")
    func failedSpecOrImplBlocks() throws {
        for phase in ["spec", "impl"] {
            let task = Self.ended(phase, .failed, errorClass: "exit_code", error: "agent exited with code 3")
            let reason = try #require(Self.blockedReason(Self.plan().next(after: task, item: Self.item())))
            #expect(reason == "\(phase) failed (task \(task.id), exit_code): agent exited with code 3")
        }
    }

    @Test("a decision timeout blocks the item, whatever the phase")
    func decisionTimeoutBlocks() throws {
        for phase in ["spec", "review"] {
            let task = Self.ended(
                phase, .failed, errorClass: "decision_timeout", error: "no decision arrived within the decision timeout")
            let reason = try #require(Self.blockedReason(Self.plan().next(after: task, item: Self.item())))
            #expect(reason.contains("no decision arrived for task \(task.id)"))
        }
    }

    @Test("a cancelled task blocks the item, naming the task and phase")
    func cancelledBlocks() throws {
        let task = Self.ended("test", .cancelled)
        let reason = try #require(Self.blockedReason(Self.plan().next(after: task, item: Self.item())))
        #expect(reason == "task \(task.id) (test) was cancelled by an operator")
    }

    @Test("a task that has not ended never advances the item")
    func notEnded() {
        for status in [TaskStatus.pending, .running, .needsDecision] {
            guard case .blocked(let reason) = Self.plan().next(after: Self.ended("impl", status), item: Self.item()) else {
                Issue.record("expected blocked for \(status)")
                continue
            }
            #expect(reason.hasPrefix("internal:"))
        }
    }

    @Test("check phases are those after impl")
    func checkPhases() {
        let plan = Self.plan(verify: true)
        #expect(!plan.isCheckPhase("spec"))
        #expect(!plan.isCheckPhase("impl"))
        #expect(plan.isCheckPhase("verify"))
        #expect(plan.isCheckPhase("test"))
        #expect(plan.isCheckPhase("review"))
        #expect(!plan.isCheckPhase("heal"))
    }

    // MARK: verify

    @Test("with verify on, a verify phase follows impl: task type test, executor verify")
    func verifyPhase() throws {
        let plan = Self.plan(verify: true)
        #expect(plan.phases == ["spec", "impl", "verify", "test", "review"])
        let r = try #require(Self.run(plan.next(after: Self.ended("impl", .completed), item: Self.item())))
        #expect(r.phase == "verify")
        #expect(r.type == .test)
        #expect(r.executor == PipelinePlan.verifyExecutor)
        #expect(r.direction == "Run the project's verification for: Add a --json flag")
        let afterVerify = try #require(Self.run(plan.next(after: Self.ended("verify", .completed), item: Self.item())))
        #expect(afterVerify.phase == "test")
        #expect(afterVerify.executor == nil)
        let failed = try #require(
            Self.run(plan.next(after: Self.ended("verify", .failed, error: "swift test failed"), item: Self.item())))
        #expect(failed.phase == "impl")
        #expect(failed.iteration == 2)
        #expect(failed.direction.contains("verify failed: swift test failed"))
    }

    @Test("verify off, or no impl phase: no verify phase")
    func noVerifyPhase() {
        #expect(Self.plan(verify: false).phases == Self.phases)
        #expect(
            PipelinePlan(phases: ["spec", "review"], maxIterations: 2, templates: [:], verify: true).phases == ["spec", "review"])
        #expect(
            PipelinePlan(phases: ["impl", "verify", "review"], maxIterations: 2, templates: [:], verify: true).phases == [
                "impl", "verify", "review",
            ])
    }

    @Test("from config: phases, max_iterations, templates; verify_command turns verify on")
    func fromConfig() {
        var c = NightshiftConfig()
        c.projectManager.phases = ["impl", "review"]
        c.projectManager.maxIterations = 7
        c.projectManager.templates = ["impl": "do {title}"]
        #expect(
            PipelinePlan(config: c)
                == PipelinePlan(phases: ["impl", "review"], maxIterations: 7, templates: ["impl": "do {title}"], verify: false))
        c.projectManager.verifyCommand = "swift test"
        #expect(PipelinePlan(config: c).phases == ["impl", "verify", "review"])
    }

    // MARK: Templates and limits

    @Test("templates override the built-ins; every placeholder is filled")
    func templatesOverride() throws {
        let plan = Self.plan(templates: [
            "spec": "[{phase}#{iteration}] {title} :: {item} :: {previous_summary}",
            "impl_fix": "FIX {title} it={iteration}: {feedback}",
        ])
        let first = try #require(Self.run(plan.first(for: Self.item("body text", title: "T"))))
        #expect(first.direction == "[spec#1] T :: body text :: (none)")
        let fix = try #require(
            Self.run(plan.next(after: Self.ended("test", .failed, error: "boom"), item: Self.item("b", title: "T"))))
        #expect(fix.direction == "FIX T it=2: test failed: boom")
        // Phases without an override keep the built-in template.
        let impl = try #require(Self.run(plan.next(after: Self.ended("spec", .completed, summary: "s"), item: Self.item())))
        #expect(impl.direction.hasPrefix("Implement this backlog item."))
    }

    @Test("a phase with neither a template nor a built-in gets a generic direction")
    func genericTemplate() throws {
        let plan = PipelinePlan(phases: ["docs"], maxIterations: 1, templates: [:], verify: false)
        let r = try #require(Self.run(plan.first(for: Self.item("write the docs", title: "Docs"))))
        #expect(r.type == TaskType("docs"))
        #expect(r.direction == "docs for this backlog item: write the docs")
    }

    @Test("the direction is capped at 5000 characters, marked as truncated, and still valid")
    func directionCap() throws {
        let body = String(repeating: "a", count: 6000)
        let r = try #require(Self.run(Self.plan().first(for: Self.item(body))))
        #expect(r.direction.count <= TaskValidation.directionLimit)
        #expect(TaskValidation.directionLimit == 5000)
        #expect(r.direction.hasSuffix("[truncated]"))
        let fix = try #require(
            Self.run(
                Self.plan().next(
                    after: Self.ended("test", .failed, feedback: String(repeating: "f", count: 9000)), item: Self.item())))
        #expect(fix.direction.count <= 5000)
        let short = try #require(Self.run(Self.plan().first(for: Self.item(String(repeating: "a", count: 100)))))
        #expect(!short.direction.contains("[truncated]"))
    }
}
