import Foundation
import NightshiftCore

/// The runs of a state dir, read from their files (`runs/<run_id>/run.json` and
/// `summary.json`): what `nightshift runs`, `nightshift report` and `/api/agent/runs` show. It
/// needs no daemon; `latest` names the newest run.
public struct RunCatalog: Sendable {
    /// One run in a list.
    public struct Entry: Codable, Sendable, Equatable {
        public var id: String
        public var mode: RunMode
        public var profile: String
        public var state: RunState
        public var result: RunResult?
        public var startedAt: Date
        public var endedAt: Date?
        public var starts: Int
        public var tasksRun: Int?
        public var passed: Int?
        public var costUSD: Double?

        enum CodingKeys: String, CodingKey {
            case id, mode, profile, state, result, starts, passed
            case startedAt = "started_at"
            case endedAt = "ended_at"
            case tasksRun = "tasks_run"
            case costUSD = "cost_usd"
        }

        /// Every key, nulls included.
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(id, forKey: .id)
            try c.encode(mode, forKey: .mode)
            try c.encode(profile, forKey: .profile)
            try c.encode(state, forKey: .state)
            try c.encode(result, forKey: .result)
            try c.encode(startedAt, forKey: .startedAt)
            try c.encode(endedAt, forKey: .endedAt)
            try c.encode(starts, forKey: .starts)
            try c.encode(tasksRun, forKey: .tasksRun)
            try c.encode(passed, forKey: .passed)
            try c.encode(costUSD, forKey: .costUSD)
        }
    }

    /// A run and what its summary says so far.
    public struct Detail: Codable, Sendable {
        public var run: RunInfo
        public var summary: RunSummary?

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(run, forKey: .run)
            try c.encode(summary, forKey: .summary)
        }
        enum CodingKeys: String, CodingKey { case run, summary }
    }

    public enum Failure: Error, CustomStringConvertible, Equatable {
        case malformed(String)
        case notFound(String)
        case unreadable(String, String)

        public var description: String {
            switch self {
            case .malformed(let problem): return problem
            case .notFound(let id): return "no run \(id) in this state dir"
            case .unreadable(let path, let why): return "cannot read \(path): \(why)"
            }
        }
    }

    public let paths: StatePaths

    public init(paths: StatePaths) { self.paths = paths }

    /// Every run, newest first. A run whose `run.json` cannot be read is left out.
    public func list() -> [Entry] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: paths.runsDir)) ?? []
        return names.filter(RunID.isValid).compactMap { try? entry($0) }.sorted {
            ($0.startedAt, $0.id) > ($1.startedAt, $1.id)
        }
    }

    /// `latest` → the newest run's id; any other text must be a run id that exists.
    public func resolve(_ text: String) throws(Failure) -> String {
        if text == "latest" {
            guard let newest = list().first else { throw .notFound("latest (there are no runs yet)") }
            return newest.id
        }
        if let problem = RunID.problem(text) { throw .malformed(problem) }
        guard FileManager.default.fileExists(atPath: paths.run(text).info) else { throw .notFound(text) }
        return text
    }

    public func detail(_ text: String) throws(Failure) -> Detail {
        let id = try resolve(text)
        return Detail(run: try info(id), summary: summary(id))
    }

    func entry(_ id: String) throws(Failure) -> Entry {
        let info = try info(id)
        let s = summary(id)
        return Entry(
            id: id, mode: info.mode, profile: info.profile, state: info.state, result: s?.result, startedAt: info.startedAt,
            endedAt: info.endedAt, starts: info.starts, tasksRun: s?.totals.tasksRun, passed: s?.totals.passed,
            costUSD: s?.totals.costUSD)
    }

    func info(_ id: String) throws(Failure) -> RunInfo {
        let path = paths.run(id).info
        guard let data = FileManager.default.contents(atPath: path) else { throw .notFound(id) }
        do { return try JSONDecoder.nightshift().decode(RunInfo.self, from: data) } catch {
            throw .unreadable(path, StateFileError.describe(error))
        }
    }

    public func summary(_ id: String) -> RunSummary? {
        FileManager.default.contents(atPath: paths.run(id).summaryJSON).flatMap {
            try? JSONDecoder.nightshift().decode(RunSummary.self, from: $0)
        }
    }

    /// The session report of run `id` (its copy in `reports/history/`), or the current one.
    public func sessionReport(runID: String?) throws(Failure) -> String {
        let reports = paths.reportsDir
        if let runID {
            let id = try resolve(runID)
            let history = (reports as NSString).appendingPathComponent("history")
            let dirs = ((try? FileManager.default.contentsOfDirectory(atPath: history)) ?? []).sorted(by: >)
            for dir in dirs {
                let path = (history as NSString).appendingPathComponent("\(dir)/session_report.md")
                if let text = try? String(contentsOfFile: path, encoding: .utf8), SessionReport.parseKeys(text)["RUN_ID"] == id {
                    return text
                }
            }
            throw .notFound("\(id) has no session report yet (it is written when the run ends)")
        }
        let path = (reports as NSString).appendingPathComponent("session_report.md")
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw .notFound("session report: none at \(path) yet (a run writes it when it ends)")
        }
        return text
    }
}
