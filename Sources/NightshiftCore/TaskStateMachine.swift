/// Everything that can happen to a task. Each event is legal from a fixed set of statuses.
public enum TaskEvent: String, CaseIterable, Sendable, Hashable {
    /// A runner took the task (atomic; one winner).
    case claim
    /// The attempt exited 0 (and, for a review, did not say `verdict: fail`).
    case succeed
    /// The attempt failed with no attempts left, or for a reason a retry cannot fix.
    case fail
    /// The attempt failed (or was rescued) with attempts left: back to pending with backoff.
    case requeue
    /// The agent asked a human a question.
    case askDecision
    /// A human answered: the runner re-runs the task at once with the decision.
    case decide
    /// Nobody answered within `decision_timeout`.
    case decisionTimeout
    /// A human declined to go on (a budget stop answered with anything but `continue`).
    case decline
    /// An operator retries a failed task with fresh attempts.
    case retry
    /// An operator cancels the task; a running process group is torn down.
    case cancel
}

/// The task lifecycle of DESIGN.md as a pure function: every pair not listed is illegal.
public enum TaskStateMachine {
    /// The status a task moves to when `event` happens in `status`, or nil when that is illegal.
    public static func next(from status: TaskStatus, on event: TaskEvent) -> TaskStatus? {
        switch (status, event) {
        case (.pending, .claim): return .running
        case (.running, .succeed): return .completed
        case (.running, .fail): return .failed
        case (.running, .requeue): return .pending
        case (.running, .askDecision): return .needsDecision
        case (.needsDecision, .decide): return .pending
        case (.needsDecision, .decisionTimeout): return .failed
        case (.needsDecision, .decline): return .failed
        case (.failed, .retry): return .pending
        case (.pending, .cancel), (.running, .cancel), (.needsDecision, .cancel): return .cancelled
        default: return nil
        }
    }

    /// The one status `event` leads to from every status it is legal in (the lifecycle has no
    /// event whose target depends on where it came from).
    public static func target(of event: TaskEvent) -> TaskStatus {
        let targets = Set(sources(of: event).compactMap { next(from: $0, on: event) })
        precondition(targets.count == 1, "\(event) leads to \(targets)")
        return targets.first!
    }

    /// The event that records how an attempt ended, given its outcome and whether a retry may
    /// follow (attempts left and a retry delay).
    public static func attemptEnd(completed: Bool, askedDecision: Bool, mayRetry: Bool) -> TaskEvent {
        if completed { return .succeed }
        if askedDecision { return .askDecision }
        return mayRetry ? .requeue : .fail
    }

    /// The statuses from which `event` is legal (for CAS `WHERE status IN (...)` and messages).
    public static func sources(of event: TaskEvent) -> [TaskStatus] {
        TaskStatus.allCases.filter { next(from: $0, on: event) != nil }
    }
}
