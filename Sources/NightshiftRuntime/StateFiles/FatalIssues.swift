import Foundation
import NightshiftCore

#if canImport(Glibc)
    import Glibc
#endif

/// An unrecoverable problem a human must fix (database unwritable, executor missing, disk
/// full, a crash loop). Kept in `fatal_issues.json`, which both the daemon and the watchdog
/// write: every change is a locked read-modify-write followed by an atomic replace.
public struct FatalIssue: Codable, Sendable, Equatable {
    /// Stable per condition (`fatal_<condition>`), so a repeated report updates one entry.
    public var id: String
    public var condition: MonitorCondition
    public var reason: String
    public var detail: String
    /// Who found it: `monitor`, `watchdog`, `daemon`.
    public var source: String
    public var at: Date
    public var lastSeen: Date
    public var count: Int
    /// Free-form facts (exit status, output tail, ...).
    public var context: [String: JSONValue]

    enum CodingKeys: String, CodingKey {
        case id, condition, reason, detail, source, at, count, context
        case lastSeen = "last_seen"
    }

    public init(
        condition: MonitorCondition, reason: String, detail: String, source: String, at: Date, context: [String: JSONValue] = [:]
    ) {
        self.id = "fatal_\(condition)"
        self.condition = condition
        self.reason = reason
        self.detail = detail
        self.source = source
        self.at = at
        self.lastSeen = at
        self.count = 1
        self.context = context
    }
}

/// Reads and changes `fatal_issues.json` (`{"issues": [...]}`).
public enum FatalIssues {
    struct File: Codable {
        var issues: [FatalIssue]
    }

    /// The issues in the file; a missing file has none. A file that exists but cannot be read
    /// or parsed is an error naming it: callers that decide something from it must fail closed.
    public static func load(path: String) throws(StateFileError) -> [FatalIssue] {
        guard FileManager.default.fileExists(atPath: path) else { return [] }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw StateFileError(path: path, reason: String(cString: strerror(errno)))
        }
        do {
            return try JSONDecoder.nightshift().decode(File.self, from: data).issues
        } catch {
            throw StateFileError(path: path, reason: StateFileError.describe(error))
        }
    }

    /// What readers that decide from the file see: its issues, or, when it cannot be read, one
    /// `state_file_unreadable` issue that names the file and the error (fail closed: an
    /// unreadable file never reads as "no issues").
    public static func current(path: String, now: Date = Date()) -> [FatalIssue] {
        do {
            return try load(path: path)
        } catch {
            return [unreadable(error, at: now)]
        }
    }

    /// The fatal issue that stands for an unreadable state file.
    public static func unreadable(_ error: StateFileError, at: Date) -> FatalIssue {
        FatalIssue(
            condition: .stateFileUnreadable, reason: error.description,
            detail:
                "fix or remove the file (a copy of a damaged fatal_issues.json is kept as .corrupt when the daemon rewrites it), then run nightshift fatal",
            source: "reader", at: at, context: ["file": .string(error.path), "error": .string(error.reason)])
    }

    /// Adds `issue`, or updates the one with the same id (count, last_seen, detail).
    public static func report(_ issue: FatalIssue, path: String) throws {
        try modify(path: path) { issues in
            if let i = issues.firstIndex(where: { $0.id == issue.id }) {
                issues[i].count += 1
                issues[i].lastSeen = issue.at
                issues[i].detail = issue.detail
                issues[i].reason = issue.reason
                issues[i].context = issue.context
            } else {
                issues.append(issue)
            }
        }
    }

    /// Removes every issue (or those with the given ids); returns how many went.
    @discardableResult
    public static func clear(path: String, ids: Set<String>? = nil) throws -> Int {
        var removed = 0
        try modify(path: path) { issues in
            let before = issues.count
            issues.removeAll { ids == nil || ids!.contains($0.id) }
            removed = before - issues.count
        }
        return removed
    }

    static func modify(path: String, _ change: (inout [FatalIssue]) -> Void) throws {
        let lockPath = path + ".lock"
        let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw AtomicFile.WriteError(path: lockPath, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        flock(fd, LOCK_EX)
        defer { flock(fd, LOCK_UN) }
        var issues: [FatalIssue]
        do {
            issues = try load(path: path)
        } catch {
            // Keep the damaged file for a human instead of silently overwriting it.
            try? FileManager.default.removeItem(atPath: path + ".corrupt")
            try? FileManager.default.moveItem(atPath: path, toPath: path + ".corrupt")
            issues = []
        }
        change(&issues)
        try AtomicFile.writeJSON(File(issues: issues), to: path)
    }
}
