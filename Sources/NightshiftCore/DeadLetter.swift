import Foundation

/// The dead-letter queue (DLQ): tasks that failed for good and that nothing took over. A task
/// is in it when its status is `failed` (final: the runner requeues while attempts are left and
/// the failure allows a retry) and no task names it as its `parent_id` (a review whose item went
/// back to impl was followed up by the fix iteration, so it is not a dead letter). The wire
/// types below are what `GET /api/agent/dlq`, `POST /api/agent/dlq/*` and `nightshift dlq` share.
public enum DeadLetter {
    /// The selection names at most this many ids.
    public static let maxIDs = 1000
    /// `reason` of a reprocess is cut to this many characters in its event.
    public static let maxReason = 500
    /// Groups each stats list shows (the largest first).
    public static let topGroups = 10

    /// Whether `text` is an error class a filter may name (the open vocabulary's shape).
    public static func isErrorClass(_ text: String) -> Bool {
        let u = text.utf8
        guard (1...64).contains(u.count) else { return false }
        return u.allSatisfy { b in
            (b >= 0x61 && b <= 0x7A) || (b >= 0x30 && b <= 0x39) || b == UInt8(ascii: "_") || b == UInt8(ascii: "-")
                || b == UInt8(ascii: ".")
        }
    }

    /// What `isErrorClass` accepts, for error messages.
    public static let errorClassRule = "must be 1 to 64 of a-z, 0-9, _, - and . (an error class such as exit_code)"

    /// What `parseAge` accepts, for error messages.
    public static let ageRule = "must be a duration above 0 and up to ten years, such as 30d, 12h or 90m"

    /// A duration as `older_than` takes it: digits, an optional fraction, one unit (ms, s, m,
    /// h, d); above 0, at most ten years. Stricter than the config's syntax (no exponent).
    public static func parseAge(_ text: String) -> Double? {
        let u = Array(text.utf8)
        var i = 0
        while i < u.count, i < 9, u[i] >= 0x30, u[i] <= 0x39 { i += 1 }
        guard i > 0 else { return nil }
        if i < u.count, u[i] == UInt8(ascii: ".") {
            let start = i + 1
            i = start
            while i < u.count, i - start < 3, u[i] >= 0x30, u[i] <= 0x39 { i += 1 }
            guard i > start else { return nil }
        }
        let unit = String(decoding: u[i...], as: UTF8.self)
        guard ["ms", "s", "m", "h", "d"].contains(unit), let seconds = ConfigValues.parseDuration(text), seconds > 0 else {
            return nil
        }
        return seconds
    }
}

/// One dead letter as the list shows it: what failed, why, and where in the pipeline.
public struct DeadLetterEntry: Codable, Sendable, Equatable {
    public var id: String
    public var taskType: TaskType
    public var direction: String
    public var attempt: Int
    public var maxAttempts: Int
    /// Null only for a task that failed before classes were recorded.
    public var errorClass: String?
    public var error: String?
    public var exitCode: Int32?
    public var backlogItem: String?
    public var phase: String?
    public var iteration: Int?
    public var createdAt: Date
    public var failedAt: Date

    enum CodingKeys: String, CodingKey {
        case id, direction, attempt, error, phase, iteration
        case taskType = "task_type"
        case maxAttempts = "max_attempts"
        case errorClass = "error_class"
        case exitCode = "exit_code"
        case backlogItem = "backlog_item"
        case createdAt = "created_at"
        case failedAt = "failed_at"
    }

    public init(_ task: AgentTask) {
        id = task.id
        taskType = task.taskType
        direction = task.direction
        attempt = task.attempt
        maxAttempts = task.maxAttempts
        errorClass = task.errorClass
        error = task.error
        exitCode = task.exitCode
        backlogItem = task.backlogItem
        phase = task.phase
        iteration = task.iteration
        createdAt = task.createdAt
        failedAt = task.finishedAt ?? task.updatedAt
    }

    /// Every key is written, null when unknown (the list's rows all have one shape).
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(taskType, forKey: .taskType)
        try c.encode(direction, forKey: .direction)
        try c.encode(attempt, forKey: .attempt)
        try c.encode(maxAttempts, forKey: .maxAttempts)
        try c.encode(errorClass, forKey: .errorClass)
        try c.encode(error, forKey: .error)
        try c.encode(exitCode, forKey: .exitCode)
        try c.encode(backlogItem, forKey: .backlogItem)
        try c.encode(phase, forKey: .phase)
        try c.encode(iteration, forKey: .iteration)
        try c.encode(createdAt, forKey: .createdAt)
        try c.encode(failedAt, forKey: .failedAt)
    }
}

/// How many dead letters share a value of one field.
public struct DeadLetterGroup: Codable, Sendable, Equatable {
    /// The value: an error class, a phase, a backlog item key; null = tasks without one (for
    /// phase and item: tasks outside the pipeline).
    public var key: String?
    public var count: Int
    /// The newest dead letter of the group: its id, error and when it failed.
    public var lastTaskID: String
    public var lastError: String?
    public var lastFailedAt: Date

    enum CodingKeys: String, CodingKey {
        case key, count
        case lastTaskID = "last_task_id"
        case lastError = "last_error"
        case lastFailedAt = "last_failed_at"
    }

    public init(key: String?, count: Int, lastTaskID: String, lastError: String?, lastFailedAt: Date) {
        self.key = key
        self.count = count
        self.lastTaskID = lastTaskID
        self.lastError = lastError
        self.lastFailedAt = lastFailedAt
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(key, forKey: .key)
        try c.encode(count, forKey: .count)
        try c.encode(lastTaskID, forKey: .lastTaskID)
        try c.encode(lastError, forKey: .lastError)
        try c.encode(lastFailedAt, forKey: .lastFailedAt)
    }
}

/// The queue at a glance: its size, its top fail reasons and where the failures are.
public struct DeadLetterStats: Codable, Sendable, Equatable {
    public var total: Int
    public var oldestFailedAt: Date?
    public var newestFailedAt: Date?
    /// By error class, the largest first (at most `DeadLetter.topGroups`).
    public var byErrorClass: [DeadLetterGroup]
    /// By pipeline phase (null key: tasks outside the pipeline), the largest first.
    public var byPhase: [DeadLetterGroup]
    /// By backlog item (null key: tasks outside the pipeline), the largest first.
    public var byItem: [DeadLetterGroup]
    /// By run: always null until tasks record the run they belong to; then the same groups
    /// keyed by run id.
    public var byRun: [DeadLetterGroup]?

    enum CodingKeys: String, CodingKey {
        case total
        case oldestFailedAt = "oldest_failed_at"
        case newestFailedAt = "newest_failed_at"
        case byErrorClass = "by_error_class"
        case byPhase = "by_phase"
        case byItem = "by_item"
        case byRun = "by_run"
    }

    public init(
        total: Int = 0, oldestFailedAt: Date? = nil, newestFailedAt: Date? = nil, byErrorClass: [DeadLetterGroup] = [],
        byPhase: [DeadLetterGroup] = [], byItem: [DeadLetterGroup] = [], byRun: [DeadLetterGroup]? = nil
    ) {
        self.total = total
        self.oldestFailedAt = oldestFailedAt
        self.newestFailedAt = newestFailedAt
        self.byErrorClass = byErrorClass
        self.byPhase = byPhase
        self.byItem = byItem
        self.byRun = byRun
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(total, forKey: .total)
        try c.encode(oldestFailedAt, forKey: .oldestFailedAt)
        try c.encode(newestFailedAt, forKey: .newestFailedAt)
        try c.encode(byErrorClass, forKey: .byErrorClass)
        try c.encode(byPhase, forKey: .byPhase)
        try c.encode(byItem, forKey: .byItem)
        try c.encode(byRun, forKey: .byRun)
    }
}

/// `GET /api/agent/dlq`: the stats and one page of entries, newest failure first.
public struct DeadLetterPage: Codable, Sendable, Equatable {
    public var stats: DeadLetterStats
    public var entries: [DeadLetterEntry]
    /// Entries that match the page's filter (the whole queue without one).
    public var total: Int
    public var limit: Int
    public var offset: Int

    public init(stats: DeadLetterStats, entries: [DeadLetterEntry], total: Int, limit: Int, offset: Int) {
        self.stats = stats
        self.entries = entries
        self.total = total
        self.limit = limit
        self.offset = offset
    }
}

/// Which dead letters a reprocess is for: exactly one of these.
public enum DeadLetterSelection: Sendable, Equatable {
    case ids([String])
    case all
    case errorClass(String)
}

/// A dead letter a reprocess or cleanup left alone, and why.
public struct DeadLetterSkip: Codable, Sendable, Equatable {
    public var id: String
    public var reason: String
    public init(id: String, reason: String) {
        self.id = id
        self.reason = reason
    }
}

/// What a reprocess did (or, in a dry run, would do).
public struct DeadLetterReprocess: Codable, Sendable, Equatable {
    public var dryRun: Bool
    /// The tasks sent back to pending with fresh attempts (in a dry run: that would be), as
    /// they were in the queue.
    public var tasks: [DeadLetterEntry]
    /// Selected tasks that cannot be reprocessed now (their item has another open task).
    public var skipped: [DeadLetterSkip]
    /// Blocked backlog items that are active again, by key.
    public var resumedItems: [String]

    enum CodingKeys: String, CodingKey {
        case tasks, skipped
        case dryRun = "dry_run"
        case resumedItems = "resumed_items"
    }

    public init(dryRun: Bool, tasks: [DeadLetterEntry] = [], skipped: [DeadLetterSkip] = [], resumedItems: [String] = []) {
        self.dryRun = dryRun
        self.tasks = tasks
        self.skipped = skipped
        self.resumedItems = resumedItems
    }
}

/// What a cleanup deleted (or, in a dry run, would delete).
public struct DeadLetterCleanup: Codable, Sendable, Equatable {
    public var dryRun: Bool
    /// Dead letters that failed before this time were candidates.
    public var cutoff: Date
    /// The ids deleted (with their events, log and result files), oldest failure first.
    public var deleted: [String]
    /// Candidates kept because an open task depends on them.
    public var kept: [DeadLetterSkip]

    enum CodingKeys: String, CodingKey {
        case cutoff, deleted, kept
        case dryRun = "dry_run"
    }

    public init(dryRun: Bool, cutoff: Date, deleted: [String] = [], kept: [DeadLetterSkip] = []) {
        self.dryRun = dryRun
        self.cutoff = cutoff
        self.deleted = deleted
        self.kept = kept
    }
}
