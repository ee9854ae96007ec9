import Foundation
import NightshiftCore

/// `pipeline_version.json`: which code the supervised daemon runs, written by the watchdog at
/// each start. The monitor compares it with the workspace's HEAD and the binary on disk to
/// find a stale version (and asks for a restart).
public struct PipelineVersion: Codable, Sendable, Equatable {
    /// `git rev-parse --short=12 HEAD` of `workspace` at the start, or "unknown".
    public var gitSHA: String
    /// The repository whose HEAD `gitSHA` is (runner.workspace, else the working directory).
    public var workspace: String
    /// The nightshift version of the binary.
    public var version: String
    /// The binary the daemon was started from, and its modification time then.
    public var binary: String
    public var binaryModifiedAt: Date?
    public var startedAt: Date
    /// The daemon's pid (= its process group) and the watchdog's; null once the watchdog ended
    /// (then `stopped_at` says when), so a stale file never names a live-looking pid.
    public var pid: Int32?
    public var watchdogPID: Int32?
    public var stoppedAt: Date?
    /// Why this daemon was started (initial start, crash, restart request, hung).
    public var reason: String

    enum CodingKeys: String, CodingKey {
        case workspace, version, binary, pid, reason
        case gitSHA = "git_sha"
        case binaryModifiedAt = "binary_modified_at"
        case startedAt = "started_at"
        case watchdogPID = "watchdog_pid"
        case stoppedAt = "stopped_at"
    }

    public init(
        gitSHA: String, workspace: String, version: String, binary: String, binaryModifiedAt: Date?, startedAt: Date,
        pid: Int32, watchdogPID: Int32, reason: String
    ) {
        self.gitSHA = gitSHA
        self.workspace = workspace
        self.version = version
        self.binary = binary
        self.binaryModifiedAt = binaryModifiedAt
        self.startedAt = startedAt
        self.pid = pid
        self.watchdogPID = watchdogPID
        self.reason = reason
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(gitSHA, forKey: .gitSHA)
        try c.encode(workspace, forKey: .workspace)
        try c.encode(version, forKey: .version)
        try c.encode(binary, forKey: .binary)
        try c.encodeIfPresent(binaryModifiedAt, forKey: .binaryModifiedAt)
        try c.encode(startedAt, forKey: .startedAt)
        try c.encode(pid, forKey: .pid)
        try c.encode(watchdogPID, forKey: .watchdogPID)
        try c.encode(reason, forKey: .reason)
        try c.encodeIfPresent(stoppedAt, forKey: .stoppedAt)
    }

    public func write(to path: String) throws { try AtomicFile.writeJSON(self, to: path) }

    public static func read(path: String) -> PipelineVersion? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return try? JSONDecoder.nightshift().decode(PipelineVersion.self, from: data)
    }

    /// The modification time of `path`, or nil.
    public static func modificationTime(of path: String) -> Date? {
        (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date
    }
}
