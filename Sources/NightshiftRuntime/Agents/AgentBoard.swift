import Foundation
import NightshiftCore
import NightshiftStore

/// What the runner's spend and usage-limit checks decided, for `nightshift status`, the
/// pipeline-status route and report, and the monitor: whether new work waits on a cap, and
/// which executors are paused until when.
public final class AgentBoard: Sendable {
    /// The budget as the runner last checked it before claiming.
    public struct BudgetView: Sendable, Equatable, Codable {
        public var perTaskUSD: Double?
        public var perRunUSD: Double?
        public var perDayUSD: Double?
        public var runSpentUSD: Double = 0
        public var daySpentUSD: Double = 0
        /// What running tasks may still spend of their reservations.
        public var reservedUSD: Double = 0
        /// `waiting` (starting one more task would pass a cap), `exhausted` (a cap is spent) or `ok`.
        public var state = "ok"
        public var reason: String?
        /// Since when new work has waited on the budget.
        public var since: Date?
        /// What a task starting now may spend under the run and day caps (nil = no such cap).
        public var roomUSD: Double?
        enum CodingKeys: String, CodingKey {
            case state, reason, since
            case perTaskUSD = "per_task_usd"
            case perRunUSD = "per_run_usd"
            case perDayUSD = "per_day_usd"
            case runSpentUSD = "run_spent_usd"
            case daySpentUSD = "day_spent_usd"
            case reservedUSD = "reserved_usd"
            case roomUSD = "room_usd"
        }
        public init() {}
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(state, forKey: .state)
            try c.encode(reason, forKey: .reason)
            try c.encode(since, forKey: .since)
            try c.encode(perTaskUSD, forKey: .perTaskUSD)
            try c.encode(perRunUSD, forKey: .perRunUSD)
            try c.encode(perDayUSD, forKey: .perDayUSD)
            try c.encode(runSpentUSD, forKey: .runSpentUSD)
            try c.encode(daySpentUSD, forKey: .daySpentUSD)
            try c.encode(reservedUSD, forKey: .reservedUSD)
            try c.encode(roomUSD, forKey: .roomUSD)
        }
    }

    private let budgetState = Locked(BudgetView())
    private let pauseState = Locked<[String: ExecutorPause]>([:])

    public init() {}

    public var budget: BudgetView { budgetState.value }
    /// Executors paused now (a pause that has ended is dropped when the runner next looks).
    public var pauses: [ExecutorPause] { pauseState.value.values.sorted { $0.executor < $1.executor } }

    func setBudget(_ view: BudgetView) {
        budgetState.withLock { old in
            var v = view
            v.since = v.state == "ok" ? nil : (old.state == v.state ? old.since ?? v.since : v.since)
            old = v
        }
    }

    func setPauses(_ pauses: [String: ExecutorPause]) { pauseState.withLock { $0 = pauses } }

    /// "paused until 03:00 (usage limit)" per paused executor, in local time.
    public static func describe(_ p: ExecutorPause, timeZone: TimeZone = .current) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = timeZone
        f.dateFormat = "HH:mm"
        return "\(p.executor): paused until \(f.string(from: p.until)) (usage limit)"
    }
}
