import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// An exclusive lock on the state dir, so two daemons never share one database (and never run
/// one task twice). Held for the life of the process; the kernel drops it if the process dies.
public final class StateDirLock: Sendable {
    public struct Held: Error, CustomStringConvertible {
        public var path: String
        public var holder: String
        public var description: String { "another nightshift daemon (\(holder)) is using this state dir (\(path))" }
    }

    let fd: Int32

    public init(path: String) throws {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw AtomicFile.WriteError(path: path, reason: String(cString: strerror(errno))) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            throw Held(path: path, holder: Self.recordedHolder(path))
        }
        ftruncate(fd, 0)
        let text = "pid \(getpid())\n"
        _ = text.withCString { write(fd, $0, strlen($0)) }
        self.fd = fd
    }

    /// Who holds the lock at `path`, when someone does: probed without keeping it (the
    /// watchdog and `nightshift run` ask before they start anything).
    public static func holder(of path: String) -> String? {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        if flock(fd, LOCK_EX | LOCK_NB) == 0 {
            flock(fd, LOCK_UN)
            return nil
        }
        return recordedHolder(path)
    }

    /// The `pid N` the holder wrote into the file.
    static func recordedHolder(_ path: String) -> String {
        let text = (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        return text.isEmpty ? "unknown pid" : text
    }

    deinit {
        flock(fd, LOCK_UN)
        close(fd)
    }
}
