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
            let holder = (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
            close(fd)
            throw Held(path: path, holder: holder.map { $0.isEmpty ? "unknown pid" : $0 } ?? "unknown pid")
        }
        ftruncate(fd, 0)
        let text = "pid \(getpid())\n"
        _ = text.withCString { write(fd, $0, strlen($0)) }
        self.fd = fd
    }

    deinit {
        flock(fd, LOCK_UN)
        close(fd)
    }
}
