import Foundation
import NightshiftCore

/// What the store needs to move backlog items along inside its own transactions, and the
/// parts of a pipeline step that are the same in every store (the task a step creates, the
/// notes it leaves); each store writes them with statements of its own dialect.
public struct PipelineHook: Sendable {
    public var plan: PipelinePlan
    /// `max_attempts` of the tasks it creates.
    public var maxAttempts: Int
    public init(plan: PipelinePlan, maxAttempts: Int) {
        self.plan = plan
        self.maxAttempts = maxAttempts
    }

    /// The task a `.run` step creates for `item` (before the store's validation).
    public func task(
        phase: String, type: TaskType, executor: String?, iteration: Int, direction: String, item: BacklogItem,
        parent: AgentTask?, now: Date
    ) -> AgentTask {
        var context: [String: JSONValue] = ["backlog_title": .string(item.title)]
        if let w = item.workdir { context["workdir"] = .string(w) }
        if let b = item.branch { context["branch"] = .string(b) }
        return AgentTask(
            taskType: type, direction: direction, maxAttempts: maxAttempts, executor: executor, context: context,
            backlogItem: item.key, phase: phase, iteration: iteration, parentID: parent?.id, now: now)
    }

    /// The `created` event's detail of a task the pipeline creates.
    public static func createdDetail(iteration: Int) -> [String: JSONValue] {
        ["by": .string("pipeline"), "iteration": .number(Double(iteration))]
    }

    /// What a step keeps as the item's last summary: the ended task's, when it completed.
    public static func summary(of parent: AgentTask?) -> String? {
        parent?.status == .completed ? parent?.summary : nil
    }

    /// The land detail of an item whose `merge` task ended (any way): it is queued again.
    public static func mergeEndedNote(_ task: AgentTask) -> String {
        task.status == .completed
            ? "merge task \(task.id) completed; rebasing again"
            : "merge task \(task.id) \(task.status.rawValue): \(task.error ?? "no error recorded"); rebasing again"
    }
}
