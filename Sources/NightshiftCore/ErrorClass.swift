/// Why a task failed (`error_class`): the shared vocabulary of the runner, the store, the
/// rescuer, the API and the reports. Open like an HTTP status: agents and future executors may
/// report classes of their own, so it is a string with the known ones named here.
public struct ErrorClass: OpenVocabulary {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    /// The agent exited non-zero.
    public static let exitCode: ErrorClass = "exit_code"
    /// The result file broke its schema.
    public static let badResult: ErrorClass = "bad_result"
    /// The result file said `status: failed`.
    public static let agentReported: ErrorClass = "agent_reported"
    /// Claude Code's result line said `is_error`.
    public static let agentError: ErrorClass = "agent_error"
    /// A review said `verdict: fail` (never retried; the pipeline loops back to impl).
    public static let reviewFailed: ErrorClass = "review_failed"
    /// The agent completed, but its output misses what the phase's contract requires
    /// (`project_manager.contracts`); never retried: the pipeline runs the phase again.
    public static let contractUnmet: ErrorClass = "contract_unmet"
    public static let signal: ErrorClass = "signal"
    /// Past `runner.task_timeout`.
    public static let timeout: ErrorClass = "timeout"
    /// No output for `runner.stall_timeout`.
    public static let stalled: ErrorClass = "stalled"
    public static let spawnFailed: ErrorClass = "spawn_failed"
    public static let executorMissing: ErrorClass = "executor_missing"
    /// Auto-commit of the task's changes failed.
    public static let commitFailed: ErrorClass = "commit_failed"
    public static let cancelled: ErrorClass = "cancelled"
    /// Nobody answered within `project_manager.decision_timeout`.
    public static let decisionTimeout: ErrorClass = "decision_timeout"
    /// Its daemon died; rescued at the next start.
    public static let orphaned: ErrorClass = "orphaned"
    /// Its lease lapsed; rescued.
    public static let leaseExpired: ErrorClass = "lease_expired"

    /// A task's metered cost reached its cap (`budget.per_task_usd` or a raised `budget_usd`),
    /// or Claude's `--max-budget-usd` stopped it: the task asks whether to go on.
    public static let budgetExceeded: ErrorClass = "budget_exceeded"
    /// The account's usage limit: back to pending until the reset, without using an attempt.
    public static let usageLimited: ErrorClass = "usage_limited"
    /// A structured agent said nothing (no message, no tool call) for `runner.idle_timeout`
    /// while it may still print (unlike `stalled`: no output at all).
    public static let idle: ErrorClass = "idle"
    /// More assistant turns than the executor's `max_turns`.
    public static let maxTurns: ErrorClass = "max_turns"
    /// A structured agent exited without its result line.
    public static let noResult: ErrorClass = "no_result"

    public static let known: [ErrorClass] = [
        .exitCode, .badResult, .agentReported, .agentError, .reviewFailed, .contractUnmet, .signal, .timeout, .stalled,
        .spawnFailed, .executorMissing, .commitFailed, .cancelled, .decisionTimeout, .orphaned, .leaseExpired,
        .budgetExceeded, .usageLimited, .idle, .maxTurns, .noResult,
    ]
}
