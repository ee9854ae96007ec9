import Foundation
import NightshiftCore

/// One attempt of a task, read back from its history (`task_events`): when it began to wait,
/// when a runner claimed it, when its agent started, how it ended and why. The dashboard's
/// task page lists them; the morning report draws them as the waterfall's bars.
public struct AttemptSpan: Codable, Sendable, Equatable {
    public var taskID: String
    public var attempt: Int
    /// When it became runnable (created, retried, decided, requeued after a failure).
    public var waitingSince: Date
    public var claimedAt: Date
    public var startedAt: Date?
    /// nil while it runs.
    public var endedAt: Date?
    /// The status the attempt left the task in (`running` while it runs).
    public var outcome: TaskStatus
    public var errorClass: String?
    /// Why it ended, in a line: the error, the question asked, who cancelled or rescued it.
    public var reason: String?
    /// The runner that claimed it.
    public var owner: String?

    enum CodingKeys: String, CodingKey {
        case attempt, outcome, reason, owner
        case taskID = "task_id"
        case waitingSince = "waiting_since"
        case claimedAt = "claimed_at"
        case startedAt = "started_at"
        case endedAt = "ended_at"
        case errorClass = "error_class"
    }

    /// Seconds it waited to be claimed.
    public var waitSeconds: Double { max(0, claimedAt.timeIntervalSince(waitingSince)) }

    /// Seconds it ran, up to `now` while it still runs.
    public func runSeconds(now: Date) -> Double { max(0, (endedAt ?? now).timeIntervalSince(claimedAt)) }

    /// The attempts in one task's history (events oldest first; other tasks' events are skipped).
    public static func from(_ events: [TaskEventRecord], taskID: String) -> [AttemptSpan] {
        var spans: [AttemptSpan] = []
        var waiting: Date?
        var current: AttemptSpan?
        for e in events where e.taskID == taskID {
            switch e.kind {
            case .created, .retried, .reprocessed, .decided:
                waiting = e.at
            case .claimed:
                current = AttemptSpan(
                    taskID: taskID, attempt: e.attempt, waitingSince: waiting ?? e.at, claimedAt: e.at, outcome: .running,
                    owner: e.detail["by"]?.stringValue)
            case .started:
                current?.startedAt = e.at
            case .finished, .rescued, .expired, .cancelled:
                guard e.fromStatus == .running, var c = current else {
                    if e.toStatus == .pending { waiting = e.at }
                    continue
                }
                c.endedAt = e.at
                c.outcome = e.toStatus
                c.errorClass = e.detail["error_class"]?.stringValue
                c.reason = reason(e)
                spans.append(c)
                current = nil
                if e.toStatus == .pending { waiting = e.at }
            case .updated:
                continue
            }
        }
        if let current { spans.append(current) }
        return spans
    }

    /// The attempts of many tasks, grouped by task from one list of events.
    public static func all(_ events: [TaskEventRecord]) -> [String: [AttemptSpan]] {
        let byTask = Dictionary(grouping: events, by: \.taskID)
        return byTask.mapValues { from($0.sorted { $0.id < $1.id }, taskID: $0.first?.taskID ?? "") }
    }

    static func reason(_ e: TaskEventRecord) -> String? {
        let d = e.detail
        switch e.kind {
        case .cancelled: return "cancelled by \(d["by"]?.stringValue ?? "?")" + (d["reason"]?.stringValue.map { ": \($0)" } ?? "")
        case .rescued: return "rescued: " + (d["reason"]?.stringValue ?? "its lease lapsed")
        case .expired: return "no decision in time"
        default: break
        }
        if let prompt = d["decision_prompt"]?.stringValue { return "asked: \(prompt)" }
        var parts: [String] = []
        if let ec = d["error_class"]?.stringValue { parts.append(ec) }
        if let code = d["exit_code"]?.doubleValue { parts.append("exit \(Int(code))") }
        if let err = d["error"]?.stringValue { parts.append(err) }
        if let v = d["verdict"]?.stringValue { parts.append("verdict \(v)") }
        if let nb = d["not_before"]?.stringValue { parts.append("retry after \(nb)") }
        return parts.isEmpty ? nil : parts.joined(separator: " · ")
    }
}
