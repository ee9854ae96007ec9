import Foundation

/// The spend caps (`budget:` in config, `nightshift run --budget`), in three layers: before a
/// task is spawned (spent + the reservations of running tasks + its own reservation must stay
/// under every cap), while it runs (its metered cost reaching its cap tears it down), and after
/// (reported totals reconcile the estimate).
public struct BudgetCaps: Sendable, Equatable {
    /// A task's cap; a decision `continue +X` raises one task's own cap (`budget_usd`).
    public var perTaskUSD: Double?
    /// The run's cap (`nightshift run --budget` sets it too).
    public var perRunUSD: Double?
    /// The cap of one UTC day, across runs.
    public var perDayUSD: Double?
    /// What a task reserves before it starts when it has no cap of its own.
    public var reserveUSD: Double = 0.50

    public init(perTaskUSD: Double? = nil, perRunUSD: Double? = nil, perDayUSD: Double? = nil, reserveUSD: Double = 0.50) {
        self.perTaskUSD = perTaskUSD
        self.perRunUSD = perRunUSD
        self.perDayUSD = perDayUSD
        self.reserveUSD = reserveUSD
    }

    public var isEmpty: Bool { perTaskUSD == nil && perRunUSD == nil && perDayUSD == nil }

    /// The cap of a task: its own (raised by a decision), else `per_task_usd`.
    public func cap(of task: AgentTask) -> Double? { task.budgetUSD ?? perTaskUSD }

    /// What starting `task` reserves: what is left of its cap, else `reserve_usd`.
    public func reservation(of task: AgentTask) -> Double {
        guard let cap = cap(of: task) else { return reserveUSD }
        return max(0, cap - (task.costUSD ?? 0))
    }
}

/// What has been spent and promised, for the check before a task is spawned.
public struct BudgetState: Sendable, Equatable {
    /// Spend of the run so far (ended attempts and the metered part of running ones).
    public var runSpentUSD: Double
    /// Spend of the current UTC day so far, across runs.
    public var daySpentUSD: Double
    /// What running tasks may still spend: Σ max(0, reservation − metered so far).
    public var runningReservedUSD: Double

    public init(runSpentUSD: Double, daySpentUSD: Double, runningReservedUSD: Double) {
        self.runSpentUSD = runSpentUSD
        self.daySpentUSD = daySpentUSD
        self.runningReservedUSD = runningReservedUSD
    }
}

/// Whether new tasks may start, and why not.
public enum BudgetAdmission: Sendable, Equatable {
    /// Up to this many tasks of the given reservation may start (Int.max when nothing caps it).
    case admit(Int)
    /// Nothing may start until running tasks end: starting one would pass a cap.
    case hold(reason: String)
    /// A cap is spent: nothing starts again in this run (or day).
    case exhausted(cap: String, reason: String)

    /// The check before spawning: how many tasks reserving `reservation` each fit under the caps.
    public static func check(_ caps: BudgetCaps, _ s: BudgetState, reservation: Double) -> BudgetAdmission {
        var fit = Int.max
        for (name, cap, spent) in [
            ("per_run_usd", caps.perRunUSD, s.runSpentUSD), ("per_day_usd", caps.perDayUSD, s.daySpentUSD),
        ] {
            guard let cap else { continue }
            if spent >= cap {
                return .exhausted(
                    cap: name, reason: "\(name) cap of \(usd(cap)) is spent (\(usd(spent)) so far): no new task starts")
            }
            let room = cap - spent - s.runningReservedUSD
            var n = reservation > 0 ? Int((room / reservation).rounded(.down)) : (room > 0 ? Int.max : 0)
            // With nothing running, one task may start on what is left (its live cap is that
            // room): a reservation larger than the cap must not stall the night.
            if n <= 0 && s.runningReservedUSD == 0 && room > 0 { n = 1 }
            if n <= 0 {
                return .hold(
                    reason:
                        "\(name) cap \(usd(cap)): spent \(usd(spent)) + reserved by running tasks \(usd(s.runningReservedUSD)) + this task's \(usd(reservation)) would pass it; waiting for running tasks to end"
                )
            }
            fit = min(fit, n)
        }
        return .admit(fit)
    }

    public static func usd(_ v: Double) -> String { String(format: "$%.2f", v) }

    /// What a task starting now may spend under the run and day caps: the least room any of
    /// them leaves after what is spent and what running tasks reserve (nil = no such cap).
    public static func room(_ caps: BudgetCaps, _ s: BudgetState) -> Double? {
        let rooms = [(caps.perRunUSD, s.runSpentUSD), (caps.perDayUSD, s.daySpentUSD)].compactMap { cap, spent in
            cap.map { max(0, $0 - spent - s.runningReservedUSD) }
        }
        return rooms.min()
    }
}

/// A human's answer to a budget stop: `continue` raises the task's cap by its first cap
/// (`per_task_usd`, else what it has spent), `continue +2.00` by that amount; anything else
/// fails the task with `error_class: budget_exceeded`.
public enum BudgetDecision: Sendable, Equatable {
    case raise(toUSD: Double)
    case stop

    public static func parse(_ decision: String, cap: Double, spent: Double, perTask: Double?) -> BudgetDecision {
        let words = decision.trimmingCharacters(in: .whitespacesAndNewlines).lowercased().split(whereSeparator: \.isWhitespace)
        guard let first = words.first, first == "continue" || first == "continue," else { return .stop }
        let base = max(cap, spent)
        guard words.count > 1 else { return .raise(toUSD: base + (perTask ?? max(spent, 1))) }
        guard words.count == 2 else { return .stop }
        var amount = Substring(words[1])
        amount = amount.hasPrefix("+") ? amount.dropFirst() : amount
        amount = amount.hasPrefix("$") ? amount.dropFirst() : amount
        guard let extra = Double(amount), extra.isFinite, extra > 0 else { return .stop }
        return .raise(toUSD: base + extra)
    }

    /// The question a budget stop asks.
    public static func prompt(spent: Double, cap: Double, source: AgentMeter.CostSource) -> String {
        "Budget: this task spent \(BudgetAdmission.usd(spent)) (\(source.rawValue)) and reached its cap of \(BudgetAdmission.usd(cap)); the agent was stopped. Answer \"continue\" to raise the cap and resume, \"continue +2.00\" to raise it by that much, anything else to fail the task."
    }
}

/// How the caps are held: `enforced` when every executor is metered live (a task is stopped
/// within about one model call of its cap), `reported` when a plain executor may run (its cost
/// is known only when it exits, so one of its tasks can overshoot by all it spends), `none`
/// when there is no cap. Said by `nightshift status` and pipeline-status.
public struct BudgetEnforcement: Sendable, Equatable, Encodable {
    public var mode: String
    /// The worst case past a cap, in words.
    public var worstCaseOvershoot: String

    enum CodingKeys: String, CodingKey {
        case mode = "enforcement"
        case worstCaseOvershoot = "worst_case_overshoot"
    }

    public static func of(_ caps: BudgetCaps, formats: [AgentFormat], largestCallUSD: Double?) -> BudgetEnforcement {
        if caps.isEmpty { return BudgetEnforcement(mode: "none", worstCaseOvershoot: "unbounded: no cap is set") }
        if formats.contains(.plain) {
            return BudgetEnforcement(
                mode: "reported",
                worstCaseOvershoot:
                    "a plain executor's cost is known only when it exits: each running plain task may overshoot by all it spends")
        }
        let call = largestCallUSD.map { " (largest seen: \(BudgetAdmission.usd($0)))" } ?? ""
        return BudgetEnforcement(
            mode: "enforced",
            worstCaseOvershoot: "about one model call per running task\(call): metered live, stopped at the cap")
    }
}
