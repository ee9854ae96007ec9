import NightshiftCore

/// Table cells shared by the task views.
enum Cells {
    /// The backlog item key, or "-" for a task outside the pipeline.
    static func item(_ t: [String: JSONValue]) -> String { item(t["backlog_item"]?.stringValue) }
    static func item(_ key: String?) -> String { key ?? "-" }

    /// What the task does, in one column: its pipeline phase with the fix-loop iteration after
    /// the first (`impl iter 2`, `verify`), or, outside the pipeline, its task type. (One column
    /// because a phase is the task's type but for `verify`; `--json` has both.)
    static func phase(_ t: [String: JSONValue]) -> String {
        phase(t["phase"]?.stringValue, t["iteration"]?.doubleValue.map { Int($0) }, type: t["task_type"]?.stringValue ?? "")
    }
    static func phase(_ phase: String?, _ iteration: Int?, type: String) -> String {
        guard let phase else { return type }
        guard let iteration, iteration > 1 else { return phase }
        return "\(phase) iter \(iteration)"
    }

    /// `error_class: error` of an ended task, empty when it has neither.
    static func error(_ t: [String: JSONValue]) -> String {
        [t["error_class"]?.stringValue, t["error"]?.stringValue].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: ": ")
    }
}
