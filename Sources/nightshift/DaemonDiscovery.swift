import Foundation
import NightshiftCore

#if canImport(Glibc)
    import Glibc
#endif

/// Where a client command found the daemon, and how it knows.
struct DaemonLocation {
    enum Source: Equatable {
        /// `--url`.
        case flag
        /// `NIGHTSHIFT_URL`.
        case environment
        /// A running daemon's `daemon.json` (the path).
        case announcement(String)
        /// Nothing better: the config's `server.host`/`server.port`, which may not be listening.
        case config
    }

    var base: String
    var token: String
    var source: Source

    /// True when the URL was named or announced by a live daemon, not just guessed from the config.
    var isKnown: Bool { source != .config }
}

/// Finds a running daemon through the `daemon.json` it writes into its state dir once it
/// listens, so `make run ARGS="--port 8001"` is followed by client commands that just work.
enum DaemonDiscovery {
    /// The URL in `<stateDir>/daemon.json` when the daemon that wrote it is still alive. A file
    /// left by a dead daemon (killed with SIGKILL, so it could not remove it) is ignored.
    static func announcedURL(stateDir: String) -> String? {
        let path = announcementPath(stateDir: stateDir)
        guard let data = FileManager.default.contents(atPath: path),
            let o = (try? JSONDecoder().decode(JSONValue.self, from: data))?.objectValue,
            let url = o["url"]?.stringValue, let pid = o["pid"]?.doubleValue, isAlive(pid_t(pid))
        else { return nil }
        return reachable(url)
    }

    static func announcementPath(stateDir: String) -> String { (stateDir as NSString).appendingPathComponent("daemon.json") }

    /// Whether a process with this pid exists (EPERM: it exists but belongs to someone else).
    static func isAlive(_ pid: pid_t) -> Bool {
        guard pid > 0 else { return false }
        return kill(pid, 0) == 0 || errno == EPERM
    }

    /// A daemon that listens on every address announces that address; clients connect to loopback.
    static func reachable(_ url: String) -> String {
        url.replacingOccurrences(of: "://0.0.0.0:", with: "://127.0.0.1:").replacingOccurrences(of: "://[::]:", with: "://[::1]:")
    }
}
