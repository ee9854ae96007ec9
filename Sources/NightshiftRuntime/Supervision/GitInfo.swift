import Foundation

/// The git HEAD of a repository, read from its `.git` files (the daemon's and the watchdog's version facts).
public enum GitInfo {
    /// The commit of the repository that holds `dir` (first 12 hex digits), or "unknown".
    /// Read from the `.git` files directly: no subprocess at startup.
    public static func headSHA(in dir: String = FileManager.default.currentDirectoryPath) -> String {
        guard let gitDir = gitDirectory(from: URL(fileURLWithPath: dir).standardizedFileURL),
            let head = read(gitDir.appendingPathComponent("HEAD"))
        else { return "unknown" }
        guard head.hasPrefix("ref: ") else { return sha(head) }
        let ref = String(head.dropFirst(5))
        // A linked worktree keeps its refs in the common dir.
        let common =
            read(gitDir.appendingPathComponent("commondir")).map { gitDir.appendingPathComponent($0).standardizedFileURL }
            ?? gitDir
        for base in [gitDir, common] {
            if let value = read(base.appendingPathComponent(ref)) { return sha(value) }
        }
        for line in (read(common.appendingPathComponent("packed-refs")) ?? "").split(separator: "\n")
        where line.hasSuffix(" \(ref)") {
            return sha(String(line.prefix(40)))
        }
        return "unknown"
    }

    static func gitDirectory(from start: URL) -> URL? {
        var dir = start
        while true {
            let dotGit = dir.appendingPathComponent(".git")
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: dotGit.path, isDirectory: &isDir) {
                if isDir.boolValue { return dotGit }
                if let text = read(dotGit), text.hasPrefix("gitdir: ") {
                    return URL(fileURLWithPath: String(text.dropFirst(8)), relativeTo: dir).standardizedFileURL
                }
            }
            let parent = dir.deletingLastPathComponent()
            if parent.path == dir.path { return nil }
            dir = parent
        }
    }

    static func read(_ url: URL) -> String? {
        (try? String(contentsOf: url, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func sha(_ text: String) -> String {
        let hex = text.prefix { $0.isHexDigit }
        return hex.count >= 12 ? String(hex.prefix(12)) : "unknown"
    }
}
