/// What a monitor rule (or the watchdog, or a reader of a state file) found: the shared
/// vocabulary of monitor issues, fatal issues, alerts and the start gate. Each condition says
/// whether a daemon restart can fix it and whether it is fatal (no restart can).
public struct MonitorCondition: OpenVocabulary {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    public static let runnerStale: MonitorCondition = "runner_stale"
    public static let pmStale: MonitorCondition = "pm_stale"
    public static let noProgress: MonitorCondition = "no_progress"
    public static let stuckRunning: MonitorCondition = "stuck_running"
    public static let repeatedFailures: MonitorCondition = "repeated_failures"
    public static let lowSuccessRate: MonitorCondition = "low_success_rate"
    public static let needsDecisionWaiting: MonitorCondition = "needs_decision_waiting"
    public static let itemBlocked: MonitorCondition = "item_blocked"
    public static let diskFull: MonitorCondition = "disk_full"
    public static let diskLow: MonitorCondition = "disk_low"
    public static let logErrors: MonitorCondition = "log_errors"
    /// One log fingerprint in the lines of several tasks of the night's log run (issue 13).
    public static let logRecurring: MonitorCondition = "log_recurring"
    public static let staleVersion: MonitorCondition = "stale_version"
    public static let apiUnreachable: MonitorCondition = "api_unreachable"
    public static let databaseUnwritable: MonitorCondition = "database_unwritable"
    public static let executorMissing: MonitorCondition = "executor_missing"
    public static let backlogError: MonitorCondition = "backlog_error"
    /// A run or day spend cap is reached: no new task starts.
    public static let budgetExhausted: MonitorCondition = "budget_exhausted"
    /// A usage limit paused an executor until its reset.
    public static let executorPaused: MonitorCondition = "executor_paused"
    // Fatal issues reported outside the monitor's rules.
    public static let crashLoop: MonitorCondition = "crash_loop"
    public static let daemonRefusedToStart: MonitorCondition = "daemon_refused_to_start"
    public static let stateFileUnreadable: MonitorCondition = "state_file_unreadable"

    /// A daemon restart can fix it (the monitor may ask the watchdog for one).
    public var isRestartable: Bool { [.apiUnreachable, .staleVersion, .runnerStale].contains(self) }
    /// No restart fixes it: it goes to fatal_issues.json and a human must act.
    public var isFatal: Bool {
        [.databaseUnwritable, .executorMissing, .diskFull, .crashLoop, .daemonRefusedToStart, .stateFileUnreadable].contains(self)
    }
}
