import NightshiftCore
import Testing

@Suite("TaskID")
struct TaskIDTests {
    @Test("generated ids are valid: task_ and 16 lower-case hex characters")
    func generatedIsValid() {
        for _ in 0..<1000 {
            let id = TaskID.generate()
            #expect(TaskID.isValid(id), "\(id)")
            #expect(id.count == 21)
            #expect(id.hasPrefix("task_"))
            #expect(id.dropFirst(5).allSatisfy { $0.isHexDigit && !$0.isUppercase })
        }
    }

    @Test("10,000 generated ids are all different")
    func unique() {
        let ids = (0..<10_000).map { _ in TaskID.generate() }
        #expect(Set(ids).count == ids.count)
    }

    @Test(
        "invalid ids are refused",
        arguments: [
            "", "task_", "task_0123456789abcde", "task_0123456789abcdef0", "task_0123456789ABCDEF",
            "Task_0123456789abcdef", "job_0123456789abcdef", "task-0123456789abcdef", "task_0123456789abcdeg",
            " task_0123456789abcdef", "task_0123456789abcdef ", "0123456789abcdef", "task_０123456789abcdef",
        ])
    func invalid(id: String) {
        #expect(!TaskID.isValid(id))
    }

    @Test("valid examples are accepted", arguments: ["task_0000000000000000", "task_ffffffffffffffff", "task_0123456789abcdef"])
    func valid(id: String) {
        #expect(TaskID.isValid(id))
    }
}
