import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// An append-only file that rotates at `maxBytes`, keeping `backups` older files
/// (`name.log.1` … `name.log.N`). Created 0600. Safe to share between threads.
public final class RotatingFile: Sendable {
    public let path: String
    let maxBytes: Int
    let backups: Int
    private let state: Mutex<(fd: Int32, size: Int)>

    public init(path: String, maxBytes: Int, backups: Int) throws {
        self.path = path
        self.maxBytes = maxBytes
        self.backups = backups
        let fd = try Self.openAppend(path)
        var st = stat()
        fstat(fd, &st)
        state = Mutex((fd, Int(st.st_size)))
    }

    deinit {
        _ = state.withLock { close($0.fd) }
    }

    static func openAppend(_ path: String) throws -> Int32 {
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw AtomicFile.WriteError(path: path, reason: String(cString: strerror(errno))) }
        return fd
    }

    /// Appends `bytes`, rotating first when they would take the file past `maxBytes`.
    /// A write that fails (a full disk) drops the line and is counted, never fatal.
    public func append(_ bytes: UnsafeRawBufferPointer) {
        let failed: Int32? = state.withLock { s in
            if s.size > 0 && s.size + bytes.count > maxBytes {
                rotate(&s)
            }
            guard StandardStreams.writeAll(s.fd, bytes) else { return errno }
            s.size += bytes.count
            return nil
        }
        // Outside the lock: the first drop is reported through a logger that may write here.
        if let failed { StandardStreams.recordDrop(of: (path as NSString).lastPathComponent, errno: failed) }
    }

    public func append(_ text: String) {
        var t = text
        t.withUTF8 { append(UnsafeRawBufferPointer($0)) }
    }

    private func rotate(_ s: inout (fd: Int32, size: Int)) {
        close(s.fd)
        if backups > 0 {
            unlink("\(path).\(backups)")
            for i in stride(from: backups - 1, through: 1, by: -1) {
                rename("\(path).\(i)", "\(path).\(i + 1)")
            }
            rename(path, "\(path).1")
        } else {
            unlink(path)
        }
        s.fd = (try? Self.openAppend(path)) ?? -1
        s.size = 0
    }
}
