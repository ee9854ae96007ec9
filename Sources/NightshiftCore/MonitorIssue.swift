import Foundation

/// One problem the monitor tracks: one open issue per (condition, subject), with an id that
/// stays the same across checks for as long as the finding persists.
public struct MonitorIssue: Codable, Sendable, Equatable, Identifiable {
    public var id: String
    public var condition: MonitorCondition
    public var subject: String
    public var severity: Severity
    public var message: String
    public var suggestedAction: String
    public var firstSeen: Date
    public var lastSeen: Date
    /// Checks that found it.
    public var count: Int
    public var resolvedAt: Date?
    public var healTaskID: String?
    public var notifiedAt: Date?

    enum CodingKeys: String, CodingKey {
        case id, condition, subject, severity, message, count
        case suggestedAction = "suggested_action"
        case firstSeen = "first_seen"
        case lastSeen = "last_seen"
        case resolvedAt = "resolved_at"
        case healTaskID = "heal_task_id"
        case notifiedAt = "notified_at"
    }

    public var isOpen: Bool { resolvedAt == nil }

    public init(id: String, finding f: Finding, now: Date) {
        self.id = id
        condition = f.condition
        subject = f.subject
        severity = f.severity
        message = f.message
        suggestedAction = f.suggestedAction
        firstSeen = now
        lastSeen = now
        count = 1
    }

    public static func newID() -> String {
        var rng = SystemRandomNumberGenerator()
        let hex = String(rng.next() as UInt64, radix: 16)
        return "mi_" + String(repeating: "0", count: 16 - hex.count) + hex
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(condition, forKey: .condition)
        try c.encode(subject, forKey: .subject)
        try c.encode(severity, forKey: .severity)
        try c.encode(message, forKey: .message)
        try c.encode(suggestedAction, forKey: .suggestedAction)
        try c.encode(firstSeen, forKey: .firstSeen)
        try c.encode(lastSeen, forKey: .lastSeen)
        try c.encode(count, forKey: .count)
        try c.encode(resolvedAt, forKey: .resolvedAt)
        try c.encode(healTaskID, forKey: .healTaskID)
        try c.encode(notifiedAt, forKey: .notifiedAt)
    }
}

/// What one check changed.
public struct IssueChanges: Sendable, Equatable {
    public var opened: [MonitorIssue] = []
    public var continued: [MonitorIssue] = []
    public var resolved: [MonitorIssue] = []
    public init() {}
}
