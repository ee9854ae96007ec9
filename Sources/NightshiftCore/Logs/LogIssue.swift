import Foundation

/// A log run: the lines between two `POST /api/logs/clear` (or a night of tasks).
public struct LogRun: Codable, Sendable, Equatable {
    public var id: String
    public var createdAt: Date
    /// Where this run's notifications go, besides `notify.webhooks`.
    public var callbackURL: String?
    /// LLM tokens the run's questions spent.
    public var tokensUsed: Int

    enum CodingKeys: String, CodingKey {
        case id
        case createdAt = "created_at"
        case callbackURL = "callback_url"
        case tokensUsed = "tokens_used"
    }

    public init(id: String, createdAt: Date, callbackURL: String? = nil, tokensUsed: Int = 0) {
        self.id = id
        self.createdAt = createdAt
        self.callbackURL = callbackURL
        self.tokensUsed = tokensUsed
    }

    /// The run id that names the newest run wherever a run id is accepted.
    public static let latest = "latest"
}

/// One fingerprint in one run: what it is, how often and where it was seen.
public struct LogIssue: Codable, Sendable, Equatable {
    public static let maxExamples = 3
    public static let maxSources = 20
    public static let maxExampleBytes = 500

    public var runID: String
    public var fingerprint: String
    public var ruleID: String
    public var severity: Severity
    public var template: String
    public var maskVersion: Int
    public var count: Int
    public var firstSeen: Date
    public var lastSeen: Date
    /// Distinct sources, first seen first (at most `maxSources`).
    public var sources: [String]
    /// The first distinct messages (at most `maxExamples`, each cut at `maxExampleBytes`).
    public var examples: [String]
    public var notifiedAt: Date?

    enum CodingKeys: String, CodingKey {
        case fingerprint, severity, template, count, sources, examples
        case runID = "run_id"
        case ruleID = "rule_id"
        case maskVersion = "mask_version"
        case firstSeen = "first_seen"
        case lastSeen = "last_seen"
        case notifiedAt = "notified_at"
    }

    public init(
        runID: String, fingerprint: String, ruleID: String, severity: Severity, template: String,
        maskVersion: Int = LogMasking.version, count: Int, firstSeen: Date, lastSeen: Date, sources: [String],
        examples: [String], notifiedAt: Date? = nil
    ) {
        self.runID = runID
        self.fingerprint = fingerprint
        self.ruleID = ruleID
        self.severity = severity
        self.template = template
        self.maskVersion = maskVersion
        self.count = count
        self.firstSeen = firstSeen
        self.lastSeen = lastSeen
        self.sources = sources
        self.examples = examples
        self.notifiedAt = notifiedAt
    }

    /// Folds one more sighting in (count, last seen, sources, examples).
    public mutating func add(message: String, source: String, at: Date) {
        count += 1
        if at > lastSeen { lastSeen = at }
        if at < firstSeen { firstSeen = at }
        if !sources.contains(source) && sources.count < Self.maxSources { sources.append(source) }
        let example = String(decoding: message.utf8.prefix(Self.maxExampleBytes), as: UTF8.self)
        if examples.count < Self.maxExamples && !examples.contains(example) { examples.append(example) }
    }

    /// Task ids among the sources (`task:<id>`).
    public var taskSources: [String] { sources.filter { $0.hasPrefix("task:") }.map { String($0.dropFirst(5)) } }
}

/// When a fingerprint notifies (issue 13, point 4): once it reaches `count` in a run, then not
/// again in that run until `debounce` has passed since the last notification.
public struct LogNotifyPolicy: Sendable, Equatable {
    public var count: Int
    public var debounce: Double
    public init(count: Int, debounce: Double) {
        self.count = count
        self.debounce = debounce
    }

    public func shouldNotify(_ issue: LogIssue, now: Date) -> Bool {
        guard issue.count >= count else { return false }
        guard let last = issue.notifiedAt else { return true }
        return now.timeIntervalSince(last) >= debounce
    }
}

/// One fingerprint seen in the lines of several tasks (sources `task:<id>`) of one run: what
/// the monitor's `log_recurring` condition reports.
public struct LogRecurrence: Sendable, Equatable {
    public var runID: String
    public var fingerprint: String
    public var ruleID: String
    public var severity: Severity
    public var template: String
    /// The tasks whose lines have it, sorted.
    public var taskIDs: [String]
    /// Lines of those tasks with it.
    public var count: Int
    public init(
        runID: String, fingerprint: String, ruleID: String, severity: Severity, template: String, taskIDs: [String],
        count: Int
    ) {
        self.runID = runID
        self.fingerprint = fingerprint
        self.ruleID = ruleID
        self.severity = severity
        self.template = template
        self.taskIDs = taskIDs
        self.count = count
    }
}
