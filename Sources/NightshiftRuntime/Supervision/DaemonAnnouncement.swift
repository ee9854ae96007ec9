import Foundation
import NightshiftCore

#if canImport(Glibc)
    import Glibc
#endif

/// `<state_dir>/daemon.json`: what a running daemon publishes about itself once it listens
/// (removed again at a clean stop). The gate, the watchdog's probe and client commands read it
/// to find the daemon; a file whose pid no longer runs is the trace of a daemon that died.
public struct DaemonAnnouncement: Codable, Sendable, Equatable {
    public var pid: Int32
    public var url: String
    public var port: Int
    public var startedAt: Date
    public var stateDir: String

    enum CodingKeys: String, CodingKey {
        case pid, url, port
        case startedAt = "started_at"
        case stateDir = "state_dir"
    }

    public init(pid: Int32, url: String, port: Int, startedAt: Date, stateDir: String) {
        self.pid = pid
        self.url = url
        self.port = port
        self.startedAt = startedAt
        self.stateDir = stateDir
    }

    public static func path(in paths: StatePaths) -> String { paths.file("daemon.json") }

    /// The announcement in `path`; nil when there is none. A file that cannot be parsed is an error.
    public static func read(path: String) throws(StateFileError) -> DaemonAnnouncement? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw StateFileError(path: path, reason: String(cString: strerror(errno)))
        }
        do {
            return try JSONDecoder.nightshift().decode(DaemonAnnouncement.self, from: data)
        } catch {
            throw StateFileError(path: path, reason: StateFileError.describe(error))
        }
    }

    /// The URL to reach it from this machine (a wildcard bind is reached on loopback).
    public var localURL: String {
        url.replacingOccurrences(of: "//0.0.0.0:", with: "//127.0.0.1:").replacingOccurrences(of: "//[::]:", with: "//[::1]:")
    }

    /// Whether the announced process still exists (EPERM: it exists, owned by someone else).
    public var isAlive: Bool { Self.processExists(pid) }

    public static func processExists(_ pid: Int32) -> Bool {
        guard pid > 1 else { return false }
        guard kill(pid, 0) == 0 || errno == EPERM else { return false }
        // A zombie still answers kill(0); it is dead for our purposes.
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return true }
        return !stat[close...].dropFirst().trimmingCharacters(in: .whitespaces).hasPrefix("Z")
    }
}
