import Foundation
import NightshiftCore
import NightshiftRuntime

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
    /// left by a dead daemon (killed with SIGKILL, so it could not remove it), or one that cannot
    /// be read, is ignored here; the gate is where such a file is reported.
    static func announcedURL(stateDir: String) -> String? {
        guard let a = try? DaemonAnnouncement.read(path: announcementPath(stateDir: stateDir)), a.isAlive else { return nil }
        return a.localURL
    }

    static func announcementPath(stateDir: String) -> String { DaemonAnnouncement.path(in: StatePaths(root: stateDir)) }
}
