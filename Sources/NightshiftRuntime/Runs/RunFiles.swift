import Crypto
import Foundation
import NightshiftCore
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Where one run keeps its files: `<state_dir>/runs/<run_id>/` (DESIGN.md "Runs").
public struct RunPaths: Sendable, Equatable {
    public let id: String
    public let root: String

    public init(stateDir: StatePaths, id: String) {
        self.id = id
        self.root = (stateDir.runsDir as NSString).appendingPathComponent(id)
    }

    public func file(_ name: String) -> String { (root as NSString).appendingPathComponent(name) }
    public var info: String { file("run.json") }
    public var logsDir: String { file("logs") }
    /// Every component's lines of this run, in order.
    public var runLog: String { (logsDir as NSString).appendingPathComponent("run.log") }
    public func componentLog(_ name: String) -> String { (logsDir as NSString).appendingPathComponent("\(name).log") }
    public var summaryText: String { file("summary.txt") }
    public var summaryJSON: String { file("summary.json") }
    public var archive: String { file("run.tar.gz") }
}

extension StatePaths {
    public var runsDir: String { file("runs") }
    public var reportsDir: String { file("reports") }
    public func run(_ id: String) -> RunPaths { RunPaths(stateDir: self, id: id) }
}

/// The run's identity files: `run.json` written atomically at the start and the end, and the
/// links that put each attempt's output under the run's logs.
public final class RunFiles: Sendable {
    public let paths: RunPaths
    /// Per directory, the next sequence number of an attempt log (`NN-` prefix).
    private let sequence = Mutex<[String: Int]>([:])

    public init(paths: RunPaths) throws {
        self.paths = paths
        try AtomicFile.ensureDirectory(paths.root)
        try AtomicFile.ensureDirectory(paths.logsDir)
    }

    /// The run's `run.json`, if it has one (a start that joins a run reads it).
    public func read() throws -> RunInfo? {
        guard let data = FileManager.default.contents(atPath: paths.info) else { return nil }
        do {
            return try JSONDecoder.nightshift().decode(RunInfo.self, from: data)
        } catch {
            throw StateFileError(path: paths.info, reason: StateFileError.describe(error))
        }
    }

    public func write(_ info: RunInfo) throws {
        try AtomicFile.writeJSON(info, to: paths.info)
    }

    /// Records one more start of the run: a new `run.json` at the first, `starts + 1` after.
    @discardableResult
    public func begin(_ fresh: RunInfo) throws -> RunInfo {
        var info = try read() ?? fresh
        info.starts += 1
        info.state = .running
        info.endedAt = nil
        try write(info)
        return info
    }

    /// Gives the task's log a name under the run's logs:
    /// `logs/<item or adhoc>/<NN>-<phase or type>-<task_id>.log`, a hard link to the task's log
    /// (so `tasks/<id>.log` and the API keep working). An attempt after the first reuses it.
    @discardableResult
    public func linkAttemptLog(taskLog: String, task: AgentTask) -> String? {
        let group = task.backlogItem.map(Self.safeName) ?? "adhoc"
        let dir = (paths.logsDir as NSString).appendingPathComponent(group)
        let fm = FileManager.default
        try? AtomicFile.ensureDirectory(dir)
        let suffix = "-\(Self.safeName(task.phase ?? task.taskType.rawValue))-\(task.id).log"
        return sequence.withLock { next -> String? in
            let existing = (try? fm.contentsOfDirectory(atPath: dir)) ?? []
            if let name = existing.first(where: { $0.hasSuffix(suffix) }) {
                return (dir as NSString).appendingPathComponent(name)
            }
            let n = max(next[dir] ?? 0, existing.count) + 1
            next[dir] = n
            let path = (dir as NSString).appendingPathComponent(String(format: "%02d", n) + suffix)
            if !fm.fileExists(atPath: taskLog) {
                _ = fm.createFile(atPath: taskLog, contents: nil, attributes: [.posixPermissions: 0o600])
            }
            if link(taskLog, path) != 0 { try? fm.createSymbolicLink(atPath: path, withDestinationPath: taskLog) }
            return path
        }
    }

    /// A backlog item's key or a phase as a file name: letters, digits, `-`, `_` and `.`.
    static func safeName(_ text: String) -> String {
        let kept = text.map { c -> Character in c.isLetter || c.isNumber || c == "-" || c == "_" || c == "." ? c : "_" }
        let name = String(kept.prefix(80))
        return name.isEmpty || name.allSatisfy({ $0 == "." }) ? "_" : name
    }

    /// A new run's `run.json` for this config: where it works, what it runs, from which commit.
    public static func info(
        id: String, mode: RunMode, config: NightshiftConfig, configPath: String?, profile: String = "dev",
        budgetUSD: Double? = nil, dryRun: Bool = false, offline: Bool = false, now: Date = Date()
    ) -> RunInfo {
        let target = config.runner.workspace.isEmpty ? FileManager.default.currentDirectoryPath : config.runner.workspace
        return RunInfo(
            id: id, mode: mode, profile: profile, budgetUSD: budgetUSD, dryRun: dryRun, offline: offline, target: target,
            backlog: config.projectManager.backlog, gitSHA: GitInfo.headSHA(in: target),
            configDigest: configDigest(path: configPath), host: ProcessInfo.processInfo.hostName, startedAt: now)
    }

    /// sha256 of the config file's bytes, or of `defaults` when the daemon runs without one.
    public static func configDigest(path: String?) -> String {
        let data = path.flatMap { FileManager.default.contents(atPath: $0) } ?? Data("defaults".utf8)
        return SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
    }

    /// The run to join or start: `--run-id`, else `NIGHTSHIFT_RUN_ID`, else a new one.
    public static func resolveID(
        flag: String?, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws
        -> String
    {
        if let id = flag ?? environment["NIGHTSHIFT_RUN_ID"].flatMap({ $0.isEmpty ? nil : $0 }) {
            if let problem = RunID.problem(id) { throw RunIDError(message: problem) }
            return id
        }
        return RunID.generate()
    }

    public struct RunIDError: Error, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    /// `run.tar.gz`: the run's logs, `run.json` and summaries, written next to them and
    /// renamed into place; returns its size and sha256.
    public func archive(stateRoot: String) throws -> RunSummary.Archive {
        let root = paths.root
        let target = paths.archive
        let temp = target + ".tmp"
        try? FileManager.default.removeItem(atPath: temp)
        let members = ["run.json", "summary.txt", "summary.json", "logs"].filter {
            FileManager.default.fileExists(atPath: (root as NSString).appendingPathComponent($0))
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["tar", "-czf", temp, "-C", root, "--hard-dereference"] + members
        p.standardOutput = FileHandle.nullDevice
        let err = Pipe()
        p.standardError = err
        try p.run()
        let message = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        // 1 = "file changed as we read it": a log still being written; the archive is still whole.
        guard p.terminationStatus == 0 || p.terminationStatus == 1 else {
            try? FileManager.default.removeItem(atPath: temp)
            throw StateFileError(path: target, reason: "tar failed: \(String(decoding: message, as: UTF8.self))")
        }
        try FileManager.default.moveItemReplacing(at: temp, to: target)
        let (bytes, digest) = try RunReporter.sha256(of: target)
        let shown = target.hasPrefix(stateRoot + "/") ? String(target.dropFirst(stateRoot.count + 1)) : target
        return .init(path: shown, bytes: bytes, sha256: digest)
    }

}
