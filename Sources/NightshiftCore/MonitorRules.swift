import Foundation

/// How bad a finding is. Critical and high ones alert a human and fail the start gate.
public enum Severity: String, Codable, CaseIterable, Sendable, Comparable {
    case low, medium, high, critical
    var rank: Int { Severity.allCases.firstIndex(of: self)! }
    public static func < (a: Severity, b: Severity) -> Bool { a.rank < b.rank }
}

/// One problem a rule found in a snapshot.
public struct Finding: Codable, Sendable, Equatable {
    public var condition: MonitorCondition
    /// What it is about (a component, a task id, an item key, "pipeline").
    public var subject: String
    public var severity: Severity
    public var message: String
    public var suggestedAction: String

    enum CodingKeys: String, CodingKey {
        case condition, subject, severity, message
        case suggestedAction = "suggested_action"
    }

    public init(condition: MonitorCondition, subject: String, severity: Severity, message: String, suggestedAction: String) {
        self.condition = condition
        self.subject = subject
        self.severity = severity
        self.message = message
        self.suggestedAction = suggestedAction
    }
}

/// Everything the rules look at, gathered once per check.
public struct MonitorSnapshot: Sendable, Equatable {
    public struct RunningTask: Sendable, Equatable {
        public var id: String
        public var startedAt: Date?
        public var leaseExpiresAt: Date?
        public init(id: String, startedAt: Date?, leaseExpiresAt: Date?) {
            self.id = id
            self.startedAt = startedAt
            self.leaseExpiresAt = leaseExpiresAt
        }
    }
    public struct Waiting: Sendable, Equatable {
        public var id: String
        public var since: Date
        public var prompt: String
        public init(id: String, since: Date, prompt: String) {
            self.id = id
            self.since = since
            self.prompt = prompt
        }
    }
    public struct BlockedItem: Sendable, Equatable {
        public var key: String
        public var title: String
        public var reason: String
        public init(key: String, title: String, reason: String) {
            self.key = key
            self.title = title
            self.reason = reason
        }
    }

    public var now: Date
    public var counts: [TaskStatus: Int] = [:]
    /// When the oldest runnable pending task became runnable (created or not_before passed).
    public var oldestRunnableSince: Date?
    public var running: [RunningTask] = []
    /// Statuses of the most recent finished tasks, newest first (completed / failed).
    public var recentOutcomes: [TaskStatus] = []
    public var waiting: [Waiting] = []
    /// Last heartbeat of each service that should be running.
    public var heartbeats: [String: Date] = [:]
    public var expectedServices: [String] = []
    /// Since when the monitor has watched the services: one that never beat is stale only once
    /// this is older than the threshold (it may not have made its first pass yet). Nil: at once.
    public var watchingSince: Date?
    public var blockedItems: [BlockedItem] = []
    public var diskFreeBytes: Int64?
    /// ERROR lines per component log since the last check.
    public var logErrors: [String: Int] = [:]
    /// Log fingerprints seen in the lines of several tasks of the night's log run (at least
    /// `logRecurringTasks` of them; the store's query already applies the threshold).
    public var logRecurrences: [LogRecurrence] = []
    /// The version the pipeline started with (pipeline_version.json) and what is there now.
    public var recordedVersion: String?
    public var currentVersion: String?
    /// What changed between the two, said plainly ("git HEAD abc → def", "binary rebuilt at T").
    public var versionChanges: [String] = []
    /// The backlog file does not parse (`file:line: reason`); the last good import stays.
    public var backlogError: String?
    /// The monitor's own probe of /api/health: nil when not probed.
    public var apiReachable: Bool?
    public var apiProbeError: String?
    public var taskTimeout: Double = 3600
    /// The state dir can be written (a test write succeeded).
    public var stateWritable = true
    /// Executors whose program cannot be found.
    public var missingExecutors: [String] = []
    /// A run or day cap is spent (the runner claims nothing new): why.
    public var budgetExhausted: String?
    /// New work waits because starting it would pass a cap: why.
    public var budgetWaiting: String?
    /// Executors paused by a usage limit, with what the status line says ("paused until 03:00 (usage limit)").
    public var pausedExecutors: [String: String] = [:]

    public init(now: Date) { self.now = now }
}

/// Thresholds of the rules (`monitor.thresholds.*`), with defaults.
public struct MonitorThresholds: Sendable, Equatable {
    public var heartbeatStale: Double = 180
    public var noProgress: Double = 600
    public var repeatedFailures = 3
    public var successWindow = 20
    public var minSuccessRate = 0.5
    public var decisionWaiting: Double = 3600
    public var diskMinFreeBytes: Int64 = 1 << 30
    public var logErrors = 10
    /// Distinct tasks whose lines share one log fingerprint before `log_recurring` opens; 0 = off.
    public var logRecurringTasks = 3
    public init() {}
}

/// The monitor's rules: pure functions of one snapshot.
public enum MonitorRules {
    /// Conditions a daemon restart can fix (the monitor may ask the watchdog for one).
    public static let restartable: Set<MonitorCondition> = [.apiUnreachable, .staleVersion, .runnerStale]
    /// Conditions of the monitor's rules that no restart fixes: they go to fatal_issues.json.
    public static let fatal: Set<MonitorCondition> = [.databaseUnwritable, .executorMissing, .diskFull]

    public static func evaluate(_ s: MonitorSnapshot, _ t: MonitorThresholds) -> [Finding] {
        stale(s, t) + noProgress(s, t) + stuckRunning(s, t) + repeatedFailures(s, t) + lowSuccessRate(s, t)
            + needsDecisionWaiting(s, t) + itemBlocked(s) + disk(s, t) + logErrors(s, t) + logRecurring(s, t) + staleVersion(s)
            + apiUnreachable(s) + unrecoverable(s) + backlogError(s) + budget(s) + usageLimits(s)
    }

    /// `budget_exhausted`: a run or day cap is spent, so nothing new starts (alerts).
    public static func budget(_ s: MonitorSnapshot) -> [Finding] {
        guard let why = s.budgetExhausted else { return [] }
        return [
            Finding(
                condition: .budgetExhausted, subject: "budget", severity: .high, message: why,
                suggestedAction:
                    "raise budget.per_run_usd / per_day_usd (or nightshift run --budget) and restart, or let the day roll over")
        ]
    }

    /// `executor_paused`: a usage limit paused an executor; work resumes by itself at the reset.
    public static func usageLimits(_ s: MonitorSnapshot) -> [Finding] {
        s.pausedExecutors.sorted { $0.key < $1.key }.map { name, line in
            Finding(
                condition: .executorPaused, subject: "executor:\(name)", severity: .medium, message: line,
                suggestedAction: "nothing to do: its tasks start again by themselves at that time")
        }
    }

    /// `backlog_error`: the backlog file does not parse; it names `file:line` and the reason.
    public static func backlogError(_ s: MonitorSnapshot) -> [Finding] {
        guard let error = s.backlogError else { return [] }
        return [
            Finding(
                condition: .backlogError, subject: "backlog", severity: .high,
                message: "the backlog does not parse: \(error); the last good import stays in use",
                suggestedAction: "fix that line of the backlog file; it is re-read within seconds")
        ]
    }

    static func age(_ d: Date, _ now: Date) -> String {
        ConfigValues.formatDuration(max(0, now.timeIntervalSince(d)).rounded())
    }

    /// `runner_stale` / `pm_stale` / `<service>_stale`: a service's heartbeat is too old.
    public static func stale(_ s: MonitorSnapshot, _ t: MonitorThresholds) -> [Finding] {
        s.expectedServices.compactMap { name in
            let last = s.heartbeats[name]
            let reference = last ?? s.watchingSince ?? .distantPast
            guard s.now.timeIntervalSince(reference) > t.heartbeatStale else { return nil }
            let condition: MonitorCondition =
                name == "agent_runner"
                ? .runnerStale : name == "project_manager" ? .pmStale : MonitorCondition(rawValue: "\(name)_stale")
            return Finding(
                condition: condition, subject: name, severity: .high,
                message: last.map { "\(name) last beat \(age($0, s.now)) ago" } ?? "\(name) never beat",
                suggestedAction: "check \(name).log; a restart (restart_requested.json) usually brings it back")
        }
    }

    /// Runnable work has waited and nothing runs.
    public static func noProgress(_ s: MonitorSnapshot, _ t: MonitorThresholds) -> [Finding] {
        guard s.running.isEmpty, let since = s.oldestRunnableSince, s.now.timeIntervalSince(since) > t.noProgress,
            // Waiting on a cap or a usage limit is said by their own findings.
            s.budgetExhausted == nil, s.budgetWaiting == nil, s.pausedExecutors.isEmpty
        else {
            return []
        }
        return [
            Finding(
                condition: .noProgress, subject: "pipeline", severity: .high,
                message: "\(s.counts[.pending] ?? 0) runnable task(s) waiting for \(age(since, s.now)) and nothing is running",
                suggestedAction:
                    "check agent_runner.log and `nightshift status`; is the runner stuck or are all workers busy elsewhere?")
        ]
    }

    /// A running task past its lease or its timeout.
    public static func stuckRunning(_ s: MonitorSnapshot, _ t: MonitorThresholds) -> [Finding] {
        s.running.compactMap { r in
            if let lease = r.leaseExpiresAt, lease < s.now {
                return Finding(
                    condition: .stuckRunning, subject: r.id, severity: .medium,
                    message: "task \(r.id) runs with a lease that lapsed \(age(lease, s.now)) ago",
                    suggestedAction: "the rescuer should requeue it; if not, check agent_runner.log")
            }
            if let started = r.startedAt, s.now.timeIntervalSince(started) > s.taskTimeout * 1.5 {
                return Finding(
                    condition: .stuckRunning, subject: r.id, severity: .medium,
                    message: "task \(r.id) has run \(age(started, s.now)), past its timeout",
                    suggestedAction: "nightshift tasks cancel \(r.id)")
            }
            return nil
        }
    }

    /// The last K finished tasks all failed.
    public static func repeatedFailures(_ s: MonitorSnapshot, _ t: MonitorThresholds) -> [Finding] {
        let k = t.repeatedFailures
        guard k > 0, s.recentOutcomes.count >= k, s.recentOutcomes.prefix(k).allSatisfy({ $0 == .failed }) else { return [] }
        return [
            Finding(
                condition: .repeatedFailures, subject: "pipeline", severity: .high,
                message: "the last \(k) finished tasks failed",
                suggestedAction:
                    "read the failing tasks' logs (`nightshift tasks list --status failed`); check the executor and credentials")
        ]
    }

    /// The success rate of the last N finished tasks is below the minimum.
    public static func lowSuccessRate(_ s: MonitorSnapshot, _ t: MonitorThresholds) -> [Finding] {
        let window = s.recentOutcomes.prefix(t.successWindow)
        guard window.count >= t.successWindow else { return [] }
        let rate = Double(window.filter { $0 == .completed }.count) / Double(window.count)
        guard rate < t.minSuccessRate else { return [] }
        return [
            Finding(
                condition: .lowSuccessRate, subject: "pipeline", severity: .medium,
                message:
                    "\(Int((rate * 100).rounded()))% of the last \(window.count) tasks succeeded (minimum \(Int(t.minSuccessRate * 100))%)",
                suggestedAction: "look at /api/agent/metrics by_type for the failing task types")
        ]
    }

    public static func needsDecisionWaiting(_ s: MonitorSnapshot, _ t: MonitorThresholds) -> [Finding] {
        s.waiting.filter { s.now.timeIntervalSince($0.since) > t.decisionWaiting }.map { w in
            Finding(
                condition: .needsDecisionWaiting, subject: w.id, severity: .medium,
                message: "task \(w.id) has waited \(age(w.since, s.now)) for a decision: \(w.prompt)",
                suggestedAction: "nightshift tasks decide \(w.id) <decision>")
        }
    }

    public static func itemBlocked(_ s: MonitorSnapshot) -> [Finding] {
        s.blockedItems.map { b in
            Finding(
                condition: .itemBlocked, subject: "item:\(b.key)", severity: .medium,
                message: "backlog item \(b.key) (\(b.title)) is blocked: \(b.reason)",
                suggestedAction: "fix the cause, then `nightshift tasks retry` its failed task, or edit the item")
        }
    }

    public static func disk(_ s: MonitorSnapshot, _ t: MonitorThresholds) -> [Finding] {
        guard let free = s.diskFreeBytes else { return [] }
        if free < DiskSpace.fullBelowBytes {
            return [
                Finding(
                    condition: .diskFull, subject: "state_dir", severity: .critical,
                    message: "only \(free >> 20) MiB free in the state dir",
                    suggestedAction: "free disk space; the daemon cannot write safely")
            ]
        }
        guard free < t.diskMinFreeBytes else { return [] }
        return [
            Finding(
                condition: .diskLow, subject: "state_dir", severity: .high,
                message: "\(free >> 20) MiB free in the state dir (minimum \(t.diskMinFreeBytes >> 20) MiB)",
                suggestedAction: "delete old task logs or lower logs.task_log_retention")
        ]
    }

    public static func logErrors(_ s: MonitorSnapshot, _ t: MonitorThresholds) -> [Finding] {
        s.logErrors.filter { $0.value >= t.logErrors }.sorted { $0.key < $1.key }.map { name, n in
            Finding(
                condition: .logErrors, subject: name, severity: .medium,
                message: "\(n) ERROR lines in \(name).log since the last check", suggestedAction: "read \(name).log")
        }
    }

    /// `log_recurring`: one fingerprint in the lines of `logRecurringTasks` or more tasks of
    /// one log run: the same problem hit task after task, a pipeline problem rather than one
    /// task's. It resolves when the run changes (a new night) or the lines are pruned.
    public static func logRecurring(_ s: MonitorSnapshot, _ t: MonitorThresholds) -> [Finding] {
        guard t.logRecurringTasks > 0 else { return [] }
        return s.logRecurrences.filter { $0.taskIDs.count >= t.logRecurringTasks }.map { r in
            let shown = r.taskIDs.prefix(10).joined(separator: ", ") + (r.taskIDs.count > 10 ? ", …" : "")
            return Finding(
                condition: .logRecurring, subject: "fingerprint:\(r.fingerprint)",
                severity: r.severity >= .high ? .high : .medium,
                message:
                    "log fingerprint \(r.fingerprint) [\(r.ruleID)] in \(r.taskIDs.count) tasks of \(r.runID) (\(r.count) lines): \(r.template) — tasks \(shown)",
                suggestedAction:
                    "nightshift logs issues --run \(r.runID) and nightshift logs raw --grep on the template; fix the shared cause (environment, dependency, service) rather than each task"
            )
        }
    }

    public static func staleVersion(_ s: MonitorSnapshot) -> [Finding] {
        guard let recorded = s.recordedVersion, let current = s.currentVersion, recorded != current else { return [] }
        let message =
            s.versionChanges.isEmpty
            ? "the pipeline runs \(recorded) but the code is now \(current)"
            : "the code changed since the pipeline started: \(s.versionChanges.joined(separator: "; "))"
        return [
            Finding(
                condition: .staleVersion, subject: "pipeline", severity: .medium,
                message: message,
                suggestedAction: "restart to pick up the new code (the watchdog does it on restart_requested.json)")
        ]
    }

    public static func apiUnreachable(_ s: MonitorSnapshot) -> [Finding] {
        guard s.apiReachable == false else { return [] }
        return [
            Finding(
                condition: .apiUnreachable, subject: "api", severity: .critical,
                message: "/api/health did not answer: \(s.apiProbeError ?? "no answer")",
                suggestedAction: "restart the daemon (the watchdog does it on restart_requested.json)")
        ]
    }

    public static func unrecoverable(_ s: MonitorSnapshot) -> [Finding] {
        var out: [Finding] = []
        if !s.stateWritable {
            out.append(
                Finding(
                    condition: .databaseUnwritable, subject: "state_dir", severity: .critical,
                    message: "the state dir or database cannot be written",
                    suggestedAction: "check permissions and disk of the state dir"))
        }
        for e in s.missingExecutors {
            out.append(
                Finding(
                    condition: .executorMissing, subject: "executor:\(e)", severity: .critical,
                    message: "the program of executor \(e) cannot be found",
                    suggestedAction: "install it or fix runner.executors.\(e).command"))
        }
        return out
    }
}
