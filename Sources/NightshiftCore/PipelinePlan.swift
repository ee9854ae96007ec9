import Foundation

/// The project manager's rules as a pure value: which task an item needs next, given the task
/// that just ended. The store applies the answer in the same transaction that recorded the end.
public struct PipelinePlan: Sendable, Equatable {
    /// What to do with an item.
    public enum Step: Sendable, Equatable {
        /// Create the task for `phase` (iteration counts fix loops, from 1).
        case run(phase: String, taskType: TaskType, executor: String?, iteration: Int, direction: String)
        case done
        case blocked(String)
    }

    /// The name of the optional phase that runs `verify_command` after impl.
    public static let verifyPhase = "verify"
    /// The executor that runs `verify_command`.
    public static let verifyExecutor = "verify"

    public var phases: [String]
    public var maxIterations: Int
    public var templates: [String: String]
    /// The merge queue is on (`project_manager.land` with a workspace): an item whose last
    /// phase passes joins it instead of just ending.
    public var land = false

    public init(phases: [String], maxIterations: Int, templates: [String: String], verify: Bool) {
        var p = phases
        if verify, let impl = p.firstIndex(of: TaskType.impl.rawValue), !p.contains(Self.verifyPhase) {
            p.insert(Self.verifyPhase, at: impl + 1)
        }
        self.phases = p
        self.maxIterations = maxIterations
        self.templates = templates
    }

    public init(config: NightshiftConfig) {
        self.init(
            phases: config.projectManager.phases, maxIterations: config.projectManager.maxIterations,
            templates: config.projectManager.templates, verify: !config.projectManager.verifyCommand.isEmpty)
        land = config.projectManager.land != .off && !config.runner.workspace.isEmpty
    }

    public static let defaultTemplates: [String: String] = [
        "spec":
            "Write a short specification for this backlog item: what to change, how to test it, and the risks.\n\nItem: {item}",
        "impl": "Implement this backlog item.\n\nItem: {item}\n\nSpecification summary: {previous_summary}",
        "impl_fix":
            "Fix this backlog item (iteration {iteration}). The last check failed.\n\nItem: {item}\n\nWhat failed:\n{feedback}",
        "verify": "Run the project's verification for: {title}",
        "merge": "Resolve the merge conflict of this backlog item's branch (attempt {iteration}).\n\n{feedback}\n\nItem: {title}",
        "test": "Write and run tests for this backlog item.\n\nItem: {item}\n\nImplementation summary: {previous_summary}",
        "review":
            "Review the change for this backlog item. Write {\"verdict\": \"pass\"} or {\"verdict\": \"fail\", \"feedback\": \"...\"} to $NIGHTSHIFT_RESULT_FILE.\n\nItem: {item}\n\nSummary so far: {previous_summary}",
    ]

    /// Phases whose failure sends the item back to impl (a fix loop) instead of blocking it.
    public func isCheckPhase(_ phase: String) -> Bool {
        guard let i = phases.firstIndex(of: phase), let impl = phases.firstIndex(of: TaskType.impl.rawValue) else { return false }
        return i > impl
    }

    /// The first task of an item.
    public func first(for item: BacklogItem) -> Step {
        guard let phase = phases.first else { return .done }
        return run(phase, item: item, iteration: 1, previousSummary: nil, feedback: nil)
    }

    /// What follows `task`, which just ended (completed, failed or cancelled), for `item`.
    public func next(after task: AgentTask, item: BacklogItem) -> Step {
        let phase = task.phase ?? task.taskType.rawValue
        let iteration = max(1, task.iteration ?? item.iteration)
        switch task.status {
        case .completed:
            guard let i = phases.firstIndex(of: phase) else {
                return .blocked("its task \(task.id) ran phase \(phase), which is not in project_manager.phases")
            }
            guard i + 1 < phases.count else { return .done }
            return run(
                phases[i + 1], item: item, iteration: iteration, previousSummary: task.summary ?? item.lastSummary, feedback: nil)
        case .failed:
            if task.errorClass == ErrorClass.decisionTimeout.rawValue {
                return .blocked("no decision arrived for task \(task.id) within the decision timeout")
            }
            if task.errorClass == ErrorClass.contractUnmet.rawValue { return contractLoop(after: task, item: item) }
            guard isCheckPhase(phase) else {
                return .blocked(
                    "\(phase) failed (task \(task.id), \(task.errorClass ?? "error")): \(task.error ?? "no error recorded")")
            }
            guard iteration < maxIterations else {
                return .blocked(
                    "still failing after \(maxIterations) iterations; last: \(phase) task \(task.id): \(task.feedback ?? task.error ?? "failed")"
                )
            }
            var feedback = "\(phase) failed: \(task.feedback ?? task.error ?? "no reason given")"
            if let tail = task.outputTail, !tail.isEmpty { feedback += "\n\nOutput tail:\n" + String(tail.suffix(1500)) }
            return run(
                TaskType.impl.rawValue, item: item, iteration: iteration + 1, previousSummary: item.lastSummary,
                feedback: feedback)
        case .cancelled:
            return .blocked("task \(task.id) (\(phase)) was cancelled by an operator")
        case .pending, .running, .needsDecision:
            return .blocked("internal: task \(task.id) has not ended")
        }
    }

    /// A task whose output missed its phase's contract: the same phase again, one iteration
    /// on, its direction naming what was missing (the task's `error`); blocked at
    /// `max_iterations`, which contract loops share with fix loops.
    func contractLoop(after task: AgentTask, item: BacklogItem) -> Step {
        let phase = task.phase ?? task.taskType.rawValue
        let iteration = max(1, task.iteration ?? item.iteration)
        let missed = task.error ?? "the \(phase) output does not meet its contract"
        guard phases.contains(phase) else {
            return .blocked("its task \(task.id) ran phase \(phase), which is not in project_manager.phases")
        }
        guard iteration < maxIterations else {
            return .blocked(
                "\(phase) output still misses its contract after \(maxIterations) iterations (task \(task.id)): \(missed)")
        }
        let note =
            "Iteration \(iteration + 1): the output of the last \(phase) task (\(task.id)) was not accepted, because "
            + missed + ". Your output must contain each missing part exactly as named."
        return run(
            phase, item: item, iteration: iteration + 1, previousSummary: item.lastSummary, feedback: nil, contractNote: note)
    }

    /// The step that creates `phase`'s task. A `contractNote` goes at the end of the direction
    /// whatever the template, and survives the length limit.
    func run(
        _ phase: String, item: BacklogItem, iteration: Int, previousSummary: String?, feedback: String?,
        contractNote: String? = nil
    ) -> Step {
        let isVerify = phase == Self.verifyPhase
        let key = (phase == TaskType.impl.rawValue && feedback != nil) ? "impl_fix" : phase
        let template = templates[key] ?? Self.defaultTemplates[key] ?? "{phase} for this backlog item: {item}"
        var text = template
        for (placeholder, value) in [
            ("{item}", item.body), ("{title}", item.title), ("{phase}", phase), ("{iteration}", "\(iteration)"),
            ("{previous_summary}", previousSummary ?? "(none)"), ("{feedback}", feedback ?? ""),
        ] {
            text = text.replacingOccurrences(of: placeholder, with: value)
        }
        // The note keeps at most half the room, so the item's text is never cut away entirely.
        var tail = contractNote.map { "\n\n" + $0 } ?? ""
        if tail.unicodeScalars.count > TaskValidation.directionLimit / 2 {
            tail =
                String(String.UnicodeScalarView(tail.unicodeScalars.prefix(TaskValidation.directionLimit / 2 - 20)))
                + " [truncated]"
        }
        let limit = TaskValidation.directionLimit - tail.unicodeScalars.count
        if text.unicodeScalars.count > limit {
            text = String(String.UnicodeScalarView(text.unicodeScalars.prefix(max(0, limit - 20)))) + "\n[truncated]"
        }
        text += tail
        return .run(
            phase: phase, taskType: isVerify ? .test : TaskType(phase), executor: isVerify ? Self.verifyExecutor : nil,
            iteration: iteration, direction: text)
    }
}
