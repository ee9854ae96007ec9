import Foundation
import NightshiftCore
import NightshiftTesting
import Testing

@Suite("TaskValidation")
struct TaskValidationTests {
    @Test("a factory task has no problems")
    func validTask() {
        #expect(TaskValidation.problems(.make()).isEmpty)
    }

    @Test("direction is trimmed")
    func directionTrimmed() {
        #expect(TaskValidation.direction("  fix the bug\n\t") == .success("fix the bug"))
    }

    @Test("blank is ECMAScript's white space, what the contract's \\S pattern sees: U+0085 is text, U+FEFF is blank")
    func blankMatchesTheContract() {
        #expect(TaskValidation.direction("\u{85}") == .success("\u{85}"))
        #expect(
            TaskValidation.direction("\u{FEFF}\u{3000}\u{2028}")
                == .failure(.init(field: "direction", reason: "must not be empty")))
    }

    @Test("empty or whitespace-only directions are refused", arguments: ["", " ", "\n\t  \n"])
    func emptyDirection(direction: String) {
        #expect(TaskValidation.direction(direction) == .failure(.init(field: "direction", reason: "must not be empty")))
        #expect(TaskValidation.problems(.make(direction: direction)).map(\.field) == ["direction"])
    }

    @Test("5000 characters are allowed, 5001 are not; the limit applies after trimming")
    func directionLength() throws {
        #expect(TaskValidation.direction(String(repeating: "a", count: 5000)) == .success(String(repeating: "a", count: 5000)))
        #expect(TaskValidation.direction("  " + String(repeating: "a", count: 5000) + "  ").map(\.count) == .success(5000))
        guard case .failure(let p) = TaskValidation.direction(String(repeating: "a", count: 5001)) else {
            Issue.record("5001 characters were accepted")
            return
        }
        #expect(p.field == "direction")
        #expect(p.reason.contains("5001"))
    }

    @Test("type names: lower-case letters, digits, _ and -, starting with a letter, at most 32")
    func typeNames() {
        for good in ["spec", "impl", "a", "docs-2", "big_fix", String(repeating: "a", count: 32)] {
            #expect(TaskType.isValidName(good), "\(good)")
        }
        for bad in ["", "Spec", "2fix", "_x", "-x", "has space", "ünï", "a.b", String(repeating: "a", count: 33)] {
            #expect(!TaskType.isValidName(bad), "\(bad)")
        }
    }

    @Test("every broken field is reported, each by its JSON name")
    func allProblems() {
        var t = AgentTask.make(id: "nope", type: TaskType("Bad Type"), direction: " ", priority: 2_000_000, maxAttempts: 0)
        #expect(TaskValidation.problems(t).map(\.field) == ["id", "direction", "task_type", "priority", "max_attempts"])
        t.maxAttempts = 101
        t.priority = -1_000_001
        #expect(TaskValidation.problems(t).map(\.field).contains("max_attempts"))
        #expect(TaskValidation.problems(t).map(\.field).contains("priority"))
    }

    @Test("range edges are allowed")
    func rangeEdges() {
        #expect(TaskValidation.problems(.make(priority: 1_000_000, maxAttempts: 100)).isEmpty)
        #expect(TaskValidation.problems(.make(priority: -1_000_000, maxAttempts: 1)).isEmpty)
    }
}
