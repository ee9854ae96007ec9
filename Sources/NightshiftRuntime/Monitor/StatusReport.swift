import Foundation
import NightshiftCore

/// `pipeline_status_report.json` (and its `.txt`): what went well and what needs attention,
/// in layers from the goal down to the open issues. Written atomically after every check.
public struct StatusReport: Encodable, Sendable {
    public struct Overall: Encodable, Sendable {
        public var status: String
        public var goingWell: [String]
        public var needsAttention: [String]
        enum CodingKeys: String, CodingKey {
            case status
            case goingWell = "going_well"
            case needsAttention = "needs_attention"
        }
    }
    public struct Goal: Encodable, Sendable {
        public var goalProximity: Double
        public var backlogProgress: Effectiveness.Backlog?
        enum CodingKeys: String, CodingKey {
            case goalProximity = "goal_proximity"
            case backlogProgress = "backlog_progress"
        }
    }
    public struct Service: Encodable, Sendable {
        public var alive: Bool
        /// Not beaten yet, but the daemon only just started: not a failure (yet).
        public var starting: Bool = false
        public var lastBeatAgeSeconds: Double?
        enum CodingKeys: String, CodingKey {
            case alive, starting
            case lastBeatAgeSeconds = "last_beat_age_seconds"
        }
    }
    public struct Orchestration: Encodable, Sendable {
        public var services: [String: Service]
        public var workers: Int
        public var running: Int
        public var pending: Int
        public var projectManagerState: String?
        public var itemsInFlight: Int
        enum CodingKeys: String, CodingKey {
            case services, workers, running, pending
            case projectManagerState = "project_manager_state"
            case itemsInFlight = "items_in_flight"
        }
    }
    public struct Execution: Encodable, Sendable {
        public var apiReachable: Bool?
        public var throughput: Effectiveness.Throughput
        public var durationSeconds: TaskMetrics.Durations
        public var successRate: Double?
        enum CodingKeys: String, CodingKey {
            case throughput
            case apiReachable = "api_reachable"
            case durationSeconds = "duration_seconds"
            case successRate = "success_rate"
        }
    }
    public struct Attention: Encodable, Sendable {
        public var openIssues: [MonitorIssue]
        public var resolvedSinceLast: [MonitorIssue]
        public var needsDecision: [String]
        enum CodingKeys: String, CodingKey {
            case openIssues = "open_issues"
            case resolvedSinceLast = "resolved_since_last"
            case needsDecision = "needs_decision"
        }
    }

    public var generatedAt: Date
    public var overall: Overall
    public var layer0Goal: Goal
    public var layer1Orchestration: Orchestration
    public var layer2Execution: Execution
    public var layer3Attention: Attention
    /// The run this daemon works for: the `.txt` links its morning report (text only, not in
    /// the JSON).
    public var runID: String? = nil

    enum CodingKeys: String, CodingKey {
        case overall
        case generatedAt = "generated_at"
        case layer0Goal = "layer_0_goal"
        case layer1Orchestration = "layer_1_orchestration"
        case layer2Execution = "layer_2_execution"
        case layer3Attention = "layer_3_attention"
    }

    /// The one-line summary logged to monitor.log each check.
    public var statusLine: String {
        let head = overall.status == "ok" ? "STATUS OK" : "STATUS ATTENTION"
        let rate = layer2Execution.successRate.map { "\(Int(($0 * 100).rounded()))%" } ?? "n/a"
        var parts = [
            "\(head) | running \(layer1Orchestration.running) pending \(layer1Orchestration.pending)",
            "success \(rate)", "done/h \(layer2Execution.throughput.completedLastHour)",
            "open issues \(layer3Attention.openIssues.count)", "goal \(layer0Goal.goalProximity)",
        ]
        if !overall.needsAttention.isEmpty {
            parts.append("attention: " + overall.needsAttention.prefix(3).joined(separator: "; "))
        }
        return parts.joined(separator: " | ")
    }

    /// The human-readable `.txt` form.
    public var text: String {
        var lines = ["Nightshift status report — \(Timestamp.format(generatedAt))", statusLine, ""]
        lines.append("Going well:")
        lines += overall.goingWell.isEmpty ? ["  (nothing to report)"] : overall.goingWell.map { "  + \($0)" }
        lines.append("Needs attention:")
        lines += overall.needsAttention.isEmpty ? ["  (nothing)"] : overall.needsAttention.map { "  ! \($0)" }
        lines.append("")
        if let b = layer0Goal.backlogProgress {
            lines.append(
                "Goal: proximity \(layer0Goal.goalProximity); backlog \(b.done)/\(b.total) done, \(b.active) active, \(b.blocked) blocked, \(b.queued) queued"
            )
        } else {
            lines.append("Goal: proximity \(layer0Goal.goalProximity)")
        }
        let o = layer1Orchestration
        lines.append(
            "Orchestration: \(o.running)/\(o.workers) workers busy, \(o.pending) pending, PM \(o.projectManagerState ?? "n/a"), \(o.itemsInFlight) item(s) in flight"
        )
        for (name, s) in o.services.sorted(by: { $0.key < $1.key }) {
            let state = s.alive ? "alive" : s.starting ? "starting (no beat yet)" : "NOT ALIVE"
            lines.append("  \(name): \(state)\(s.lastBeatAgeSeconds.map { ", last beat \(Int($0))s ago" } ?? "")")
        }
        let e = layer2Execution
        lines.append(
            "Execution: API \(e.apiReachable.map { $0 ? "reachable" : "UNREACHABLE" } ?? "not probed"), \(e.throughput.completedLastHour) done last hour, \(e.throughput.completedLastDay) last day, p50 \(e.durationSeconds.p50.map { "\(Int($0))s" } ?? "n/a")"
        )
        lines.append(
            "Attention: \(layer3Attention.openIssues.count) open issue(s), \(layer3Attention.resolvedSinceLast.count) resolved since the last check, \(layer3Attention.needsDecision.count) waiting for a decision"
        )
        for i in layer3Attention.openIssues {
            lines.append("  [\(i.severity.rawValue)] \(i.id) \(i.condition) \(i.subject): \(i.message) → \(i.suggestedAction)")
        }
        if let runID {
            lines.append("")
            lines.append(
                "Morning report: runs/\(runID)/report.html (written when the run ends; live at /runs/\(runID) and on the dashboard at /)"
            )
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
