import Foundation
import NightshiftCore
import NightshiftStore

/// Resolves an executor's command template for one task.
public enum CommandTemplate {
    /// POSIX shell single-quoting: safe for any text, including quotes and newlines.
    public static func shellQuote(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "'", with: #"'\''"#) + "'"
    }

    /// `{direction}`, `{task_id}`, `{task_type}`, `{decision}` replaced by their shell-quoted
    /// values, and the attempt's own: `{session_id}`, `{max_budget_usd}`, `{model}`, ... (`extra`,
    /// by name without braces).
    public static func render(_ template: String, task: AgentTask, extra: [String: String] = [:]) -> String {
        var out = template
        var named = [
            "direction": task.direction, "task_id": task.id, "task_type": task.taskType.rawValue, "decision": task.decision ?? "",
        ]
        for (k, v) in extra { named[k] = v }
        // Longest first, so no placeholder is a prefix of one not yet replaced.
        let values = named.sorted { ($0.key.count, $0.key) > ($1.key.count, $1.key) }.map { ("{\($0.key)}", $0.value) }
        for (placeholder, value) in values { out = out.replacingOccurrences(of: placeholder, with: shellQuote(value)) }
        return out
    }

    /// The executors paused now, as the claim's exclusion: their names, and the task types
    /// that run with them when a task names no executor of its own.
    public static func exclusion(paused: Set<String>, config: NightshiftConfig) -> ClaimExclusion {
        guard !paused.isEmpty else { return ClaimExclusion() }
        let types = config.allTaskTypes.map(\.rawValue).filter { paused.contains(config.runner.executorFor[$0] ?? "default") }
        return ClaimExclusion(executors: paused.sorted(), types: types)
    }

    /// The executor a task runs with: its own, else the one for its type, else `default`.
    public static func executorName(for task: AgentTask, config: NightshiftConfig) -> String {
        task.executor ?? config.runner.executorFor[task.taskType.rawValue] ?? "default"
    }
}
