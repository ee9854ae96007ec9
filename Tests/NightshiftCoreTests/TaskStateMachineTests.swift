import NightshiftCore
import Testing

/// The lifecycle table of DESIGN.md (plus `decline`: a budget stop answered with anything but
/// `continue`), written out by hand so the test does not repeat the code.
private let designTable: [TaskStatus: [TaskEvent: TaskStatus]] = [
    .pending: [.claim: .running, .cancel: .cancelled],
    .running: [
        .succeed: .completed, .fail: .failed, .askDecision: .needsDecision, .requeue: .pending, .cancel: .cancelled,
    ],
    .needsDecision: [.decide: .pending, .decisionTimeout: .failed, .decline: .failed, .cancel: .cancelled],
    .completed: [:],
    .failed: [.retry: .pending],
    .cancelled: [:],
]

@Suite("TaskStateMachine")
struct TaskStateMachineTests {
    @Test("next(from:on:) matches the DESIGN.md table", arguments: TaskStatus.allCases, TaskEvent.allCases)
    func nextMatchesTable(status: TaskStatus, event: TaskEvent) {
        #expect(TaskStateMachine.next(from: status, on: event) == designTable[status]?[event])
    }

    @Test("the table covers every status and lists twelve legal transitions")
    func tableIsComplete() {
        #expect(Set(designTable.keys) == Set(TaskStatus.allCases))
        #expect(designTable.values.map(\.count).reduce(0, +) == 12)
        let legal = TaskStatus.allCases.flatMap { s in TaskEvent.allCases.compactMap { TaskStateMachine.next(from: s, on: $0) } }
        #expect(legal.count == 12)
    }

    @Test("sources(of:) lists exactly the statuses the table allows", arguments: TaskEvent.allCases)
    func sourcesAgree(event: TaskEvent) {
        let expected = TaskStatus.allCases.filter { designTable[$0]?[event] != nil }
        #expect(TaskStateMachine.sources(of: event) == expected)
        #expect(!expected.isEmpty, "every event is legal from somewhere")
    }

    @Test("completed and cancelled accept no event; failed accepts only retry")
    func terminalStatuses() {
        for event in TaskEvent.allCases {
            #expect(TaskStateMachine.next(from: .completed, on: event) == nil)
            #expect(TaskStateMachine.next(from: .cancelled, on: event) == nil)
            #expect((TaskStateMachine.next(from: .failed, on: event) != nil) == (event == .retry))
        }
        #expect(TaskStatus.allCases.filter(\.isTerminal) == [.completed, .failed, .cancelled])
    }

    @Test("status raw values are the snake_case strings of the API and the CHECK constraint")
    func statusRawValues() {
        #expect(
            TaskStatus.allCases.map(\.rawValue) == ["pending", "running", "needs_decision", "completed", "failed", "cancelled"])
    }
}
