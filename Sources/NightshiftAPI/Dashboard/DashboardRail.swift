import Foundation
import NightshiftCore

/// The "Needs you" rail: what only a human can move on. Each entry is a Mustache value for the
/// `need` partial; tasks' entries have the DOM id `need-<task_id>`, so a live update replaces them.
enum DashboardRail {
    /// Error classes that stop work on money or on a provider's limit (agent metering reports
    /// them); a task failed with one is shown as a budget stop or usage-limit pause.
    static let budgetClasses: Set<String> = ["budget_exceeded", "usage_limited"]
    /// Failures the pipeline handles by itself (it runs the phase again): not the operator's.
    static let selfHandled: Set<String> = [ErrorClass.reviewFailed.rawValue, ErrorClass.contractUnmet.rawValue]

    /// The rail entry of a task, if it needs a human.
    static func entry(_ t: AgentTask) -> [String: Any]? {
        var e: [String: Any] = [
            "domID": "need-\(t.id)", "taskID": t.id, "link": "/dashboard/tasks/\(t.id)",
            "subject": [t.backlogItem.map { "item \($0)" }, t.phase ?? t.taskType.rawValue, t.id].compactMap { $0 }
                .joined(separator: " · "),
        ]
        switch t.status {
        case .needsDecision where t.errorClass == ErrorClass.budgetExceeded.rawValue:
            e["kind"] = "budget"
            e["label"] = "budget stop"
            e["body"] = t.decisionPrompt ?? "the task reached its cap"
            e["meta"] = "stopped \(t.finishedAt.map(Timestamp.format) ?? ""); answer continue, continue +2.00, or stop"
            e["decide"] = true
        case .pending where t.errorClass == ErrorClass.usageLimited.rawValue:
            e["kind"] = "usage"
            e["label"] = "usage-limit pause"
            e["body"] = t.error ?? "the provider's usage limit was reached"
            e["meta"] = "starts again by itself at \(t.notBefore.map(Timestamp.format) ?? "the reset")"
        case .needsDecision:
            e["kind"] = "decision"
            e["label"] = "decision"
            e["body"] = t.decisionPrompt ?? "(no prompt)"
            e["meta"] = "asked \(t.finishedAt.map(Timestamp.format) ?? "")"
            e["decide"] = true
        case .failed where t.errorClass == "usage_limited":
            e["kind"] = "usage"
            e["label"] = "usage-limit pause"
            e["body"] = t.error ?? "the provider's usage limit was reached"
            e["retry"] = true
        case .failed where t.errorClass == "budget_exceeded":
            e["kind"] = "budget"
            e["label"] = "budget stop"
            e["body"] = t.error ?? "over its budget"
            e["retry"] = true
        case .failed where !selfHandled.contains(t.errorClass ?? ""):
            e["kind"] = "failed"
            e["label"] = "failed for good"
            e["body"] = "\(t.errorClass ?? "error"): \(t.error ?? "no error recorded")"
            e["meta"] = "after \(t.attempt) of \(t.maxAttempts) attempts"
            e["retry"] = true
        default:
            return nil
        }
        return e
    }

    /// New work held by the budget: a run or day cap spent, or one more task would pass it.
    static func budgetHold(state: String, reason: String) -> [String: Any] {
        [
            "domID": "need-budget", "kind": "budget", "label": state == "exhausted" ? "budget exhausted" : "budget hold",
            "subject": "no new task starts", "body": reason,
        ]
    }

    /// A blocked backlog item (from the project manager's status).
    static func blockedItem(key: String, title: String, reason: String) -> [String: Any] {
        [
            "domID": "need-item-\(key)", "kind": "blocked", "label": "blocked item", "subject": "item \(key): \(title)",
            "body": reason.isEmpty ? "no reason recorded" : reason, "link": "/?item=\(FormBody.escape(key))",
        ]
    }

    /// A fatal or critical monitor issue.
    static func issue(_ i: JSONValue) -> [String: Any]? {
        guard let o = i.objectValue else { return nil }
        let severity = o["severity"]?.stringValue ?? "fatal"
        guard ["critical", "fatal"].contains(severity) else { return nil }
        let id = o["id"]?.stringValue ?? "issue"
        return [
            "domID": "need-issue-\(id)", "kind": "issue", "label": severity,
            "subject": [o["condition"]?.stringValue, o["subject"]?.stringValue].compactMap { $0 }.joined(separator: " · "),
            "body": o["message"]?.stringValue ?? o["reason"]?.stringValue ?? o["title"]?.stringValue ?? "(no message)",
            "meta": o["suggested_action"]?.stringValue ?? o["detail"]?.stringValue ?? "",
        ]
    }
}
