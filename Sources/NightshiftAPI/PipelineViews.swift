import Foundation
import NightshiftCore
import NightshiftRuntime
import NightshiftStore

/// What the project manager and monitor contribute to the API. Until they fill these in, the
/// routes answer with the real shape and what exists (files in the state dir, task counts).
public struct PipelineViews: Sendable {
    /// The `project_manager` section of `/api/agent/pipeline-status`.
    public var projectManager: @Sendable () async -> JSONValue
    /// Monitor issues, open first; `includeResolved` adds resolved ones.
    public var monitorIssues: @Sendable (_ includeResolved: Bool) async -> [JSONValue]
    /// Fatal issues (from `fatal_issues.json`).
    public var fatalIssues: @Sendable () async -> [JSONValue]
    /// The body of `/api/agent/effectiveness`.
    public var effectiveness: @Sendable () async -> [String: JSONValue]
    /// Attention flags of pipeline-status.
    public var attention: @Sendable () async -> [JSONValue]
    /// Pauses (true) or resumes (false) the project manager; nil when it is disabled.
    public var setPaused: (@Sendable (Bool) async throws -> Void)?
    /// An operator's `retry`/`skip` for an item in the merge queue; nil when the PM is disabled.
    public var decideLanding: (@Sendable (String, LandDecision) async throws -> BacklogItem)?
    /// The WIP refs with their items; nil when the PM is disabled.
    public var wipRefs: (@Sendable () async throws -> [WIPEntry])?

    public init(
        projectManager: @escaping @Sendable () async -> JSONValue, monitorIssues: @escaping @Sendable (Bool) async -> [JSONValue],
        fatalIssues: @escaping @Sendable () async -> [JSONValue],
        effectiveness: @escaping @Sendable () async -> [String: JSONValue],
        attention: @escaping @Sendable () async -> [JSONValue]
    ) {
        self.projectManager = projectManager
        self.monitorIssues = monitorIssues
        self.fatalIssues = fatalIssues
        self.effectiveness = effectiveness
        self.attention = attention
        self.setPaused = nil
        self.decideLanding = nil
        self.wipRefs = nil
    }

    /// Views read from the operator files in the state dir.
    public static func files(_ paths: StatePaths) -> PipelineViews {
        PipelineViews(
            projectManager: { readJSON(paths.projectManagerState) ?? .object(["state": .string("idle"), "items": .array([])]) },
            monitorIssues: { includeResolved in
                let all = readJSON(paths.monitorIssues)?.objectValue?["issues"]?.arrayValue ?? []
                return includeResolved ? all : all.filter { $0.objectValue?["resolved_at"] ?? .null == .null }
            },
            fatalIssues: {
                FatalIssues.current(path: paths.fatalIssues).compactMap { try? JSONValue(encoding: $0) }
            },
            effectiveness: { ["goal_proximity": .number(0)] },
            attention: { [] })
    }

    /// Views backed by the store (monitor issues, effectiveness) and the running services.
    public static func live(
        env: ServiceEnvironment, store: some TaskStore & MonitorStore & PipelineStore,
        projectManager: @escaping @Sendable () async -> JSONValue, attention: @escaping @Sendable () async -> [JSONValue],
        unwrittenFatal: @escaping @Sendable () -> [FatalIssue] = { [] }
    ) -> PipelineViews {
        PipelineViews(
            projectManager: projectManager,
            monitorIssues: { includeResolved in
                let issues = (try? await store.monitorIssues(includeResolved: includeResolved, limit: 500)) ?? []
                return issues.compactMap { try? JSONValue(encoding: $0) }
            },
            fatalIssues: {
                // The file, fail closed, plus what the monitor found but could not write yet.
                let written = FatalIssues.current(path: env.paths.fatalIssues, now: env.now())
                let pending = unwrittenFatal().filter { p in !written.contains { $0.id == p.id } }
                return (written + pending).compactMap { try? JSONValue(encoding: $0) }
            },
            effectiveness: {
                guard let e = try? await Effectiveness.compute(store: store, now: env.now()),
                    var v = (try? JSONValue(encoding: e))?.objectValue
                else { return [:] }
                // Unknown values are shown as null, not left out.
                for key in ["success_rate", "mean_time_to_resolve_seconds", "backlog_progress"] where v[key] == nil {
                    v[key] = .null
                }
                return v
            },
            attention: attention)
    }

    static func readJSON(_ path: String) -> JSONValue? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return try? JSONDecoder().decode(JSONValue.self, from: data)
    }
}
