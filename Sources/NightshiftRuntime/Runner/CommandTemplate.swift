import Foundation
import NightshiftCore

/// Resolves an executor's command template for one task.
public enum CommandTemplate {
    /// POSIX shell single-quoting: safe for any text, including quotes and newlines.
    public static func shellQuote(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "'", with: #"'\''"#) + "'"
    }

    /// `{direction}`, `{task_id}`, `{task_type}`, `{decision}` replaced by their shell-quoted values.
    public static func render(_ template: String, task: AgentTask) -> String {
        var out = template
        let values: [(String, String)] = [
            ("{direction}", task.direction), ("{task_id}", task.id), ("{task_type}", task.taskType.rawValue),
            ("{decision}", task.decision ?? ""),
        ]
        for (placeholder, value) in values { out = out.replacingOccurrences(of: placeholder, with: shellQuote(value)) }
        return out
    }

    /// The executor a task runs with: its own, else the one for its type, else `default`.
    public static func executorName(for task: AgentTask, config: NightshiftConfig) -> String {
        task.executor ?? config.runner.executorFor[task.taskType.rawValue] ?? "default"
    }
}
