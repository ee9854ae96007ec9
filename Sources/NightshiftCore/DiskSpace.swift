import Foundation

/// How much free space the state dir needs. Below `fullBelowBytes` the daemon cannot write
/// safely: the monitor raises `disk_full` and the API refuses new work with a 503.
public enum DiskSpace {
    public static let fullBelowBytes: Int64 = 64 << 20

    /// Free bytes for an unprivileged writer on the file system that holds `path`, or nil.
    public static func freeBytes(_ path: String) -> Int64? {
        var st = statvfs()
        guard statvfs(path, &st) == 0 else { return nil }
        return Int64(st.f_bavail) * Int64(st.f_frsize)
    }

    public static func isFull(_ path: String) -> Bool {
        guard let free = freeBytes(path) else { return false }
        return free < fullBelowBytes
    }
}
