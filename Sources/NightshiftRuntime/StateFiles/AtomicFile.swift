import Foundation
import NightshiftCore

#if canImport(Glibc)
    import Glibc
#endif

/// Files that operators and scripts read are replaced whole: temp file, fsync, rename, fsync
/// of the directory. A reader sees the old file or the new one, never half of either.
public enum AtomicFile {
    public struct WriteError: Error, CustomStringConvertible {
        public var path: String
        public var reason: String
        public var description: String { "cannot write \(path): \(reason)" }
    }

    /// Writes `data` to `path` atomically with mode 0600.
    public static func write(_ data: Data, to path: String) throws {
        let dir = (path as NSString).deletingLastPathComponent
        let tmp =
            (dir.isEmpty ? "." : dir)
            + "/.\((path as NSString).lastPathComponent).\(getpid()).\(UInt32.random(in: 0...UInt32.max)).tmp"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw WriteError(path: path, reason: String(cString: strerror(errno))) }
        var ok = false
        defer {
            if !ok { unlink(tmp) }
        }
        try data.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    let reason = String(cString: strerror(errno))
                    close(fd)
                    throw WriteError(path: path, reason: reason)
                }
                offset += n
            }
        }
        guard fsync(fd) == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw WriteError(path: path, reason: "fsync: \(reason)")
        }
        close(fd)
        guard rename(tmp, path) == 0 else { throw WriteError(path: path, reason: "rename: \(String(cString: strerror(errno)))") }
        ok = true
        let dfd = open(dir.isEmpty ? "." : dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 {
            fsync(dfd)
            close(dfd)
        }
    }

    /// Encodes `value` as pretty JSON (snake_case types, RFC 3339 times) and writes it atomically.
    public static func writeJSON<T: Encodable>(_ value: T, to path: String) throws {
        var data = try JSONEncoder.nightshiftPretty.encode(value)
        data.append(0x0A)
        try write(data, to: path)
    }

    /// Creates `path` (and parents) with mode 0700 when missing.
    public static func ensureDirectory(_ path: String) throws {
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDir) {
            guard isDir.boolValue else { throw WriteError(path: path, reason: "exists and is not a directory") }
            return
        }
        try FileManager.default.createDirectory(
            atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    }
}

extension JSONEncoder {
    static let nightshiftPretty = JSONEncoder.nightshift(pretty: true)
}
