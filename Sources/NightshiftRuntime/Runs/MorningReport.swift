import Foundation
import NightshiftCore

/// The morning report (issue 14, point 3): one night told in a minute. Built by a pure function
/// from the run's summary, tasks, history and log fingerprints, so that the same facts give the
/// same report; `MorningReport+HTML` and `+Markdown` render it, and `report.json` is this value.
/// It works mid-run: running tasks are kept apart from finished ones.
public struct MorningReport: Codable, Sendable, Equatable {
    /// A task in a list of the report.
    public struct TaskLine: Codable, Sendable, Equatable {
        public var id: String
        public var item: String?
        public var phase: String
        public var status: TaskStatus
        public var attempts: Int
        public var errorClass: String?
        public var why: String?
        enum CodingKeys: String, CodingKey {
            case id, item, phase, status, attempts, why
            case errorClass = "error_class"
        }
    }

    /// One bar of the waterfall: an attempt on a worker lane, with the time it waited apart.
    public struct Bar: Codable, Sendable, Equatable {
        public var taskID: String
        public var label: String
        public var attempt: Int
        public var outcome: TaskStatus
        public var waitingSince: Date
        public var start: Date
        /// nil while it runs.
        public var end: Date?
        public var why: String?
        enum CodingKeys: String, CodingKey {
            case label, attempt, outcome, start, end, why
            case taskID = "task_id"
            case waitingSince = "waiting_since"
        }
    }

    /// Money and tokens of one group (a task, a phase, an executor).
    public struct Cost: Codable, Sendable, Equatable {
        public var name: String
        public var costUSD: Double
        public var tokensIn: Int
        public var tokensOut: Int
        public var tasks: Int
        /// The cap that applies to the group, when one does.
        public var capUSD: Double?
        enum CodingKeys: String, CodingKey {
            case name, tasks
            case costUSD = "cost_usd"
            case tokensIn = "tokens_in"
            case tokensOut = "tokens_out"
            case capUSD = "cap_usd"
        }
    }

    /// The caps the cost strip holds the spend against (budget config fills what it has).
    public struct Caps: Codable, Sendable, Equatable {
        public var perRunUSD: Double?
        public var perTaskUSD: Double?
        public init(perRunUSD: Double? = nil, perTaskUSD: Double? = nil) {
            self.perRunUSD = perRunUSD
            self.perTaskUSD = perTaskUSD
        }
        enum CodingKeys: String, CodingKey {
            case perRunUSD = "per_run_usd"
            case perTaskUSD = "per_task_usd"
        }
    }

    public struct CostStrip: Codable, Sendable, Equatable {
        public var total: Cost
        public var byTask: [Cost]
        public var byPhase: [Cost]
        public var byExecutor: [Cost]
        public var caps: Caps
        enum CodingKeys: String, CodingKey {
            case total, caps
            case byTask = "by_task"
            case byPhase = "by_phase"
            case byExecutor = "by_executor"
        }
    }

    /// A choice made overnight: by the daemon for the operator, or by a human.
    public struct Decision: Codable, Sendable, Equatable {
        public enum Kind: String, Codable, Sendable, CaseIterable {
            case retry
            case selfHeal = "self_heal"
            case watchdogRestart = "watchdog_restart"
            case rescue
            case usageLimitPause = "usage_limit_pause"
            case budgetStop = "budget_stop"
            case decisionTimeout = "decision_timeout"
            case human
        }
        public var at: Date
        public var kind: Kind
        public var taskID: String
        /// Who made it: `runner`, `rescuer`, `monitor`, or the human (`dashboard`, `api`, a chat user).
        public var by: String
        public var what: String
        enum CodingKeys: String, CodingKey {
            case at, kind, by, what
            case taskID = "task_id"
        }
    }

    /// An error fingerprint of the night's logs.
    public struct Fingerprint: Codable, Sendable, Equatable {
        public var fingerprint: String
        public var severity: String
        public var template: String
        public var count: Int
        /// Not seen in the runs before this one.
        public var isNew: Bool
        public var firstSeen: Date
        public var sources: [String]
        enum CodingKeys: String, CodingKey {
            case fingerprint, severity, template, count, sources
            case isNew = "is_new"
            case firstSeen = "first_seen"
        }
    }

    public var run: RunInfo
    public var generatedAt: Date
    /// The run is still going: what is running is not a result yet.
    public var inProgress: Bool
    /// Two short paragraphs: what needs you; what shipped, what failed and why.
    public var headline: [String]
    public var needsYou: [String]
    public var shipped: [RunSummary.Item]
    public var blocked: [RunSummary.Item]
    public var running: [TaskLine]
    public var finished: [TaskLine]
    public var failed: [TaskLine]
    /// Worker lanes, each a list of bars in time order.
    public var lanes: [[Bar]]
    public var cost: CostStrip
    public var decisions: [Decision]
    /// New tonight first, then recurring ones, most seen first within each.
    public var fingerprints: [Fingerprint]
    /// What to do next; never empty.
    public var nextSteps: [String]
    public var totals: RunSummary.Totals

    enum CodingKeys: String, CodingKey {
        case run, headline, shipped, blocked, running, finished, failed, lanes, cost, decisions, fingerprints, totals
        case generatedAt = "generated_at"
        case inProgress = "in_progress"
        case needsYou = "needs_you"
        case nextSteps = "next_steps"
    }
}
