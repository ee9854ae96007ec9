import Foundation

/// The machine's processes as tests see them, read from /proc.
public enum ProcessTable {
    /// Pids of the live (not zombie) processes whose environment carries
    /// `NIGHTSHIFT_TASK_ID=taskID`: the agents (and their children) working on that task.
    public static func processes(withTask taskID: String) -> [Int32] {
        processes(withEnvironment: "NIGHTSHIFT_TASK_ID=\(taskID)")
    }

    /// Pids of the live processes whose environment has exactly the entry `entry` (`KEY=value`).
    public static func processes(withEnvironment entry: String) -> [Int32] {
        let needle = Array(entry.utf8)
        return pids().filter { pid in
            guard !isZombie(pid), let env = FileManager.default.contents(atPath: "/proc/\(pid)/environ") else {
                return false
            }
            return env.split(separator: 0).contains { Array($0) == needle }
        }
    }

    /// Every pid in /proc.
    public static func pids() -> [Int32] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { Int32($0) }
    }

    /// True when `pid` has exited but is not yet reaped (or is gone).
    public static func isZombie(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return true }
        let state = stat[stat.index(after: close)...].split(separator: " ").first
        return state == "Z" || state == "X"
    }

    /// The parent of `pid`, from /proc (nil when it is gone).
    public static func parent(of pid: Int32) -> Int32? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        return fields.count > 1 ? Int32(fields[1]) : nil
    }

    /// The parent, its parent and so on up to init.
    public static func ancestors(of pid: Int32) -> [Int32] {
        var out: [Int32] = []
        var current = pid
        while let p = parent(of: current), p > 0, !out.contains(p) {
            out.append(p)
            current = p
        }
        return out
    }
}
