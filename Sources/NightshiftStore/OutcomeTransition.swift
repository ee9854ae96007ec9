import Foundation
import NightshiftCore

/// What an attempt's outcome makes of a running task: the event, the status it leads to from
/// `running` (`TaskStateMachine`) and the fields that record why. Both stores write these with
/// a statement of their own dialect; the decision is this one.
public struct OutcomeTransition: Sendable, Equatable {
    public var event: TaskEvent
    public var status: TaskStatus
    /// Unix seconds: a retry's backoff, or the end of a usage-limit pause.
    public var notBefore: Double?
    public var errorClass: String?
    public var error: String?
    public var prompt: String?
    /// A usage-limit pause: the attempt does not count.
    public var paused: Bool

    /// Only a failure that may be retried depends on the attempts left: read them only then.
    public static func needsAttemptsLeft(_ outcome: AttemptOutcome) -> Bool {
        if case .failed(_, _, let delay) = outcome.kind, delay != nil { return true }
        return false
    }

    /// The end of task `id`'s attempt with `outcome`; `attemptsLeft` matters only when
    /// `needsAttemptsLeft` says so.
    public init(_ o: AttemptOutcome, id: String, attemptsLeft: Bool, now: Date) throws {
        let t = now.timeIntervalSince1970
        paused = false
        switch o.kind {
        case .completed:
            event = TaskStateMachine.attemptEnd(completed: true, askedDecision: false, mayRetry: false)
        case .failed(let cls, let message, let delay):
            errorClass = cls.rawValue
            error = message
            event = TaskStateMachine.attemptEnd(completed: false, askedDecision: false, mayRetry: delay != nil && attemptsLeft)
            if event == .requeue, let delay { notBefore = t + delay }
        case .needsDecision(let p):
            prompt = p
            errorClass = o.decisionClass?.rawValue
            event = TaskStateMachine.attemptEnd(completed: false, askedDecision: true, mayRetry: false)
        case .paused(let until, let cls, let message):
            errorClass = cls.rawValue
            error = message
            notBefore = until.timeIntervalSince1970
            event = .requeue
            paused = true
        }
        guard let status = TaskStateMachine.next(from: .running, on: event) else {
            throw StoreError.illegal(id, .running, event)
        }
        self.status = status
    }

    /// The finished (or rescued) event's detail.
    public func detail(_ o: AttemptOutcome, extra: [String: JSONValue], owner: String) -> [String: JSONValue] {
        o.eventDetail(
            extra, owner: owner, event: event, errorClass: errorClass, error: error, prompt: prompt, notBefore: notBefore)
    }

    /// Why a verdict is refused, or nil for none, pass or fail.
    public static func badVerdict(_ o: AttemptOutcome) -> StoreError? {
        guard let v = o.verdict, v != "pass", v != "fail" else { return nil }
        return StoreError(.invalid, "verdict must be pass or fail, got \(v)", field: "verdict")
    }
}
