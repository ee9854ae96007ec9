import Foundation
import NightshiftCore

extension AgentTask {
    /// A valid pending task with test-friendly defaults; name only what the test is about.
    public static func make(
        id: String = TaskID.generate(), type: TaskType = .impl, direction: String = "do the thing",
        priority: Int = 0, maxAttempts: Int = 3, executor: String? = nil, context: [String: JSONValue] = [:],
        backlogItem: String? = nil, phase: String? = nil, iteration: Int? = nil, parentID: String? = nil,
        dependsOn: [String] = [], now: Date = MutableNow.defaultStart
    ) -> AgentTask {
        AgentTask(
            id: id, taskType: type, direction: direction, priority: priority, maxAttempts: maxAttempts,
            executor: executor, context: context, backlogItem: backlogItem, phase: phase, iteration: iteration,
            parentID: parentID, dependsOn: dependsOn, now: now)
    }
}
