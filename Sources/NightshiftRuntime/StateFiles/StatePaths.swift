import Foundation

/// Where the daemon keeps its files, all under the state dir (DESIGN.md "Files").
public struct StatePaths: Sendable, Equatable {
    public var root: String

    public init(root: String) {
        self.root = (root as NSString).standardizingPath
    }

    public func file(_ name: String) -> String { (root as NSString).appendingPathComponent(name) }

    public var database: String { file("nightshift.sqlite") }
    public var lockFile: String { file("nightshift.lock") }
    public var tasksDir: String { file("tasks") }
    public var resultsDir: String { file("results") }
    public func taskLog(_ id: String) -> String { (tasksDir as NSString).appendingPathComponent("\(id).log") }
    public func resultFile(_ id: String) -> String { (resultsDir as NSString).appendingPathComponent("\(id).json") }
    public var statusReportJSON: String { file("pipeline_status_report.json") }
    public var statusReportText: String { file("pipeline_status_report.txt") }
    public var monitorIssues: String { file("monitor_issues.json") }
    public var monitorResolutions: String { file("monitor_resolutions.jsonl") }
    public var fatalIssues: String { file("fatal_issues.json") }
    public var pipelineVersion: String { file("pipeline_version.json") }
    public var restartRequested: String { file("restart_requested.json") }
    public var projectManagerState: String { file("project_manager_state.json") }
    public func componentLog(_ name: String) -> String { file("\(name).log") }

    /// Creates the state dir and its subfolders, private to this user.
    public func prepare() throws {
        for dir in [root, tasksDir, resultsDir] { try AtomicFile.ensureDirectory(dir) }
    }
}
