import Foundation
import NightshiftCore
import NightshiftTesting
import Testing

/// `PipelinePlan` after a task whose output missed its phase's contract (`contract_unmet`): the
/// same phase again with the missing parts named, bounded by max_iterations.
@Suite("PipelinePlan: output contracts")
struct PipelinePlanContractTests {
    typealias P = PipelinePlanTests

    static let missing = ["heading \"## Verification\" in the summary", "file docs/spec.md (not found)"]

    /// A task of `phase` that completed its attempt but missed its contract, as the runner records it.
    static func unmet(_ phase: String, iteration: Int? = 1, missing: [String] = missing) -> AgentTask {
        P.ended(
            phase, .failed, iteration: iteration, summary: "did \(phase)", errorClass: ErrorClass.contractUnmet.rawValue,
            error: PhaseContract.error(phase: phase, missing: missing))
    }

    @Test("a spec that missed its contract runs spec again, one iteration on, its direction naming each missing part")
    func specLoopsBack() throws {
        let task = Self.unmet("spec")
        let r = try #require(P.run(P.plan().next(after: task, item: P.item())))
        #expect(r.phase == "spec")
        #expect(r.type == .spec)
        #expect(r.executor == nil)
        #expect(r.iteration == 2)
        #expect(r.direction.hasPrefix("Write a short specification for this backlog item"), "the spec template, not a fix")
        #expect(r.direction.contains("Item: Add a --json flag"))
        for part in Self.missing { #expect(r.direction.contains(part), "\(part)") }
        #expect(r.direction.contains("the output of the last spec task (\(task.id)) was not accepted"))
        #expect(r.direction.contains("Iteration 2"))
    }

    @Test("a contract loop of impl keeps the impl template (not impl_fix) and the spec summary")
    func implLoopKeepsImplTemplate() throws {
        var item = P.item(iteration: 2)
        item.lastSummary = "the spec says: add --json"
        let r = try #require(P.run(P.plan().next(after: Self.unmet("impl", iteration: 2), item: item)))
        #expect(r.phase == "impl")
        #expect(r.iteration == 3)
        #expect(r.direction.hasPrefix("Implement this backlog item."))
        #expect(r.direction.contains("Specification summary: the spec says: add --json"))
        #expect(!r.direction.contains("The last check failed"))
        #expect(r.direction.contains("heading \"## Verification\" in the summary"))
    }

    @Test("a check phase that missed its contract runs itself again, not impl")
    func checkPhaseLoopsToItself() throws {
        for phase in ["test", "review"] {
            let r = try #require(P.run(P.plan().next(after: Self.unmet(phase), item: P.item())))
            #expect(r.phase == phase)
            #expect(r.iteration == 2)
        }
        let verify = try #require(P.run(P.plan(verify: true).next(after: Self.unmet("verify"), item: P.item())))
        #expect(verify.phase == "verify" && verify.executor == PipelinePlan.verifyExecutor && verify.type == .test)
    }

    @Test("a custom template gets the note appended, wherever its placeholders are")
    func customTemplate() throws {
        let plan = P.plan(templates: ["spec": "SPEC {title} it={iteration} fb=[{feedback}]"])
        let r = try #require(P.run(plan.next(after: Self.unmet("spec"), item: P.item(title: "T"))))
        #expect(r.direction.hasPrefix("SPEC T it=2 fb=[]\n\nIteration 2: "))
        #expect(r.direction.hasSuffix("Your output must contain each missing part exactly as named."))
    }

    @Test("at max_iterations the item is blocked, naming the phase, the task and what is still missing")
    func boundedByMaxIterations() throws {
        let plan = P.plan(maxIterations: 3)
        #expect(P.run(plan.next(after: Self.unmet("spec", iteration: 2), item: P.item(iteration: 2)))?.iteration == 3)
        let last = Self.unmet("spec", iteration: 3)
        let reason = try #require(P.blockedReason(plan.next(after: last, item: P.item(iteration: 3))))
        #expect(reason.hasPrefix("spec output still misses its contract after 3 iterations (task \(last.id)): "))
        for part in Self.missing { #expect(reason.contains(part)) }
        #expect(P.blockedReason(P.plan(maxIterations: 1).next(after: Self.unmet("spec"), item: P.item())) != nil)
    }

    @Test("the iteration counts from the task, else the item, like fix loops")
    func iterationSource() throws {
        let plan = P.plan(maxIterations: 9)
        #expect(P.run(plan.next(after: Self.unmet("spec", iteration: 4), item: P.item(iteration: 1)))?.iteration == 5)
        #expect(P.run(plan.next(after: Self.unmet("spec", iteration: nil), item: P.item(iteration: 3)))?.iteration == 4)
    }

    @Test("a phase that is no longer in phases blocks instead of looping")
    func unknownPhase() throws {
        let reason = try #require(P.blockedReason(P.plan().next(after: Self.unmet("docs"), item: P.item())))
        #expect(reason.contains("ran phase docs, which is not in project_manager.phases"))
    }

    @Test("the note survives a long item and a long list of missing parts, within the direction limit")
    func noteSurvivesTruncation() throws {
        let long = P.item(String(repeating: "a", count: 6000))
        let r = try #require(P.run(P.plan().next(after: Self.unmet("spec"), item: long)))
        #expect(r.direction.unicodeScalars.count <= TaskValidation.directionLimit)
        #expect(r.direction.contains("[truncated]"))
        for part in Self.missing { #expect(r.direction.contains(part)) }
        #expect((try? TaskValidation.direction(r.direction).get()) != nil)

        let many = (1...400).map { "heading \"## Section \($0)\" in the summary" }
        let huge = try #require(P.run(P.plan().next(after: Self.unmet("spec", missing: many), item: long)))
        #expect(huge.direction.unicodeScalars.count <= TaskValidation.directionLimit)
        #expect(huge.direction.contains("heading \"## Section 1\" in the summary"))
        #expect(huge.direction.contains("Item: aaaa"), "the item's text keeps half the room")
    }

    @Test("a completed task advances as before; other failures of spec still block")
    func otherOutcomesUnchanged() throws {
        let next = try #require(P.run(P.plan().next(after: P.ended("spec", .completed, summary: "s"), item: P.item())))
        #expect(next.phase == "impl" && next.iteration == 1)
        let failed = P.ended("spec", .failed, errorClass: "exit_code", error: "agent exited with code 1")
        #expect(P.blockedReason(P.plan().next(after: failed, item: P.item()))?.hasPrefix("spec failed") == true)
    }
}
