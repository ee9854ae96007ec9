import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The one teardown path for agent processes: SIGTERM to the whole process group, wait up to a
/// grace period for every member to exit, then SIGKILL the group. Used for timeouts, stalls,
/// cancels, shutdown and the rescue of orphans.
public enum ProcessGroup {
    /// Pids of the live (not zombie) processes whose process group is `pgid`.
    public static func liveMembers(_ pgid: Int32) -> [Int32] {
        guard pgid > 1, let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
        var out: [Int32] = []
        for e in entries {
            guard let pid = Int32(e), let stat = procStat(pid) else { continue }
            if stat.pgrp == pgid && stat.state != "Z" && stat.state != "X" { out.append(pid) }
        }
        return out
    }

    /// State letter and process group of `pid`, from `/proc/PID/stat`.
    public static func procStat(_ pid: Int32) -> (state: Character, pgrp: Int32)? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = text.lastIndex(of: ")")
        else { return nil }
        // After "pid (comm) ": state ppid pgrp ...
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 2, let state = fields[0].first, let pgrp = Int32(fields[2]) else { return nil }
        return (state, pgrp)
    }

    /// True when some live member of `pgid` carries `NIGHTSHIFT_TASK_ID=taskID` in its
    /// environment: a recorded group may be checked this way before it is signalled, so a
    /// recycled pid never gets a stranger killed.
    public static func belongsToTask(_ pgid: Int32, taskID: String) -> Bool {
        let needle = Array("NIGHTSHIFT_TASK_ID=\(taskID)".utf8)
        for pid in liveMembers(pgid) {
            guard let env = FileManager.default.contents(atPath: "/proc/\(pid)/environ") else { continue }
            for entry in env.split(separator: 0) where Array(entry) == needle { return true }
        }
        return false
    }

    /// SIGTERM to the group, up to `grace` seconds for it to empty, then SIGKILL. Returns true
    /// when SIGKILL was needed.
    @discardableResult
    public static func terminate(_ pgid: Int32, grace: Double) async -> Bool {
        guard pgid > 1 else { return false }
        guard kill(-pgid, SIGTERM) == 0 || !liveMembers(pgid).isEmpty else { return false }
        let deadline = ContinuousClock.now + .milliseconds(Int64(grace * 1000))
        while ContinuousClock.now < deadline {
            if liveMembers(pgid).isEmpty { return false }
            do { try await Task.sleep(for: .milliseconds(20)) } catch { break }  // cancelled: kill now
        }
        kill(-pgid, SIGKILL)
        return true
    }

    /// SIGKILL to the group at once (the second level of shutdown).
    public static func killNow(_ pgid: Int32) {
        guard pgid > 1 else { return }
        kill(-pgid, SIGKILL)
    }
}
