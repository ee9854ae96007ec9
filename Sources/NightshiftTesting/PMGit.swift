import Foundation

/// Real git for workspace tests: a throwaway repository with one commit, and a way to ask it
/// questions. Identity comes from the environment, so the user's git config is never needed.
public enum PMGit {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// The environment every test git command runs with.
    public static let environment: [String: String] = [
        "GIT_AUTHOR_NAME": "Test", "GIT_AUTHOR_EMAIL": "test@localhost",
        "GIT_COMMITTER_NAME": "Test", "GIT_COMMITTER_EMAIL": "test@localhost",
        "GIT_CONFIG_NOSYSTEM": "1", "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C",
    ]

    /// Runs `git <arguments>` in `dir`; throws with the output when it exits non-zero.
    @discardableResult
    public static func run(_ arguments: [String], in dir: String) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["git"] + arguments
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        p.environment = env
        p.currentDirectoryURL = URL(fileURLWithPath: dir)
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try p.runSerialized()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard p.terminationStatus == 0 else {
            throw Failure(description: "git \(arguments.joined(separator: " ")) in \(dir) exited \(p.terminationStatus): \(text)")
        }
        return text
    }

    /// Creates a repository at `path` on branch `main` with one commit (a README).
    public static func makeRepository(at path: String) throws {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        try run(["init", "-q", "-b", "main"], in: path)
        try Data("# demo project\n".utf8).write(to: URL(fileURLWithPath: path).appendingPathComponent("README.md"))
        try run(["add", "-A"], in: path)
        try run(["commit", "-q", "-m", "initial commit"], in: path)
    }

    /// Lines of output (empty output is no lines).
    public static func lines(_ arguments: [String], in dir: String) throws -> [String] {
        let text = try run(arguments, in: dir)
        return text.isEmpty ? [] : text.components(separatedBy: "\n")
    }
}
