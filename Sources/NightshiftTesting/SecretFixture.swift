import Foundation

/// A state dir with secrets planted where `nightshift guard` must find them: a task log, a
/// file inside a run archive (a real `tar -czf`), and an item worktree's uncommitted change and
/// untracked file (real git). `clean` leaves only harmless text in the same places.
public final class SecretFixture: Sendable {
    public let dir: TemporaryDirectory
    /// The state dir.
    public let stateDir: String

    /// What the guard must report: location (relative to the state dir), rule, masked value.
    public static let planted: [(location: String, rule: String, masked: String)] = [
        ("runs/2026-12-01/run.tar.gz:reports/session_report.md:2", "url_credentials", "postgres://app:****"),
        ("tasks/task_0123456789abcdef.log:3", "api_key", "sk-****"),
        ("worktrees/1-add-a-flag/config.env:2", "key_value", "API_TOKEN = ****"),
        ("worktrees/1-add-a-flag/deploy/id_rsa:1", "private_key", "-----BEGIN RSA PRIVATE KEY-----****"),
    ]

    /// The secret values themselves, none of which may appear in the guard's output.
    public static let values = [
        "s3cr3t-db-pass", "sk-proj-abcdefghijklmnopqrstuvwxyz012345", "tok_9f8e7d6c5b4a", "MIIEowIBAAKCAQEA7Vx",
        "committed-secret-value",
    ]

    public init(secrets: Bool = true) throws {
        dir = try TemporaryDirectory(prefix: "nightshift-guard")
        stateDir = dir.path("state")
        let fm = FileManager.default
        for sub in ["tasks", "results", "runs/2026-12-01", "worktrees"] {
            try fm.createDirectory(atPath: (stateDir as NSString).appendingPathComponent(sub), withIntermediateDirectories: true)
        }
        func write(_ text: String, _ rel: String, under root: String? = nil) throws {
            let path = ((root ?? stateDir) as NSString).appendingPathComponent(rel)
            try fm.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        }
        let key = secrets ? "agent: retrying with sk-proj-abcdefghijklmnopqrstuvwxyz012345" : "agent: retrying with sk-[REDACTED]"
        try write("attempt 1 of task_0123456789abcdef\nbuilding\n\(key)\ndone\n", "tasks/task_0123456789abcdef.log")
        try write("2026-12-01 INFO [agent_runner] started; token=[REDACTED]\n", "agent_runner.log")
        try write(#"{"status": "completed", "summary": "ok"}"#, "results/task_0123456789abcdef.json")
        try Data([0x53, 0x51, 0x4C, 0x00, 0x01, 0x02]).write(to: URL(fileURLWithPath: dir.path("state/nightshift.sqlite")))

        // A run archive made by tar, as the runs will write them.
        let staging = dir.path("staging")
        let url = secrets ? "DATABASE_URL=postgres://app:s3cr3t-db-pass@db/app" : "DATABASE_URL=postgres://db/app"
        try write("# Session report\n\(url)\nRESULT: PASS\n", "reports/session_report.md", under: staging)
        try write("plain log line\n", "logs/run.log", under: staging)
        try Self.run(
            "/usr/bin/env",
            ["tar", "-czf", (stateDir as NSString).appendingPathComponent("runs/2026-12-01/run.tar.gz"), "-C", staging, "."])

        // An item worktree of a repository, with a secret in HEAD (committed: not the guard's
        // business), a tracked file changed, and an untracked file.
        let repo = dir.path("repo")
        try PMGit.makeRepository(at: repo)
        try write("APP_NAME = demo\nLEGACY_TOKEN=committed-secret-value\n", "config.env", under: repo)
        try PMGit.run(["add", "-A"], in: repo)
        try PMGit.run(["commit", "-q", "-m", "config"], in: repo)
        let worktree = (stateDir as NSString).appendingPathComponent("worktrees/1-add-a-flag")
        try PMGit.run(["worktree", "add", "-q", "-b", "nightshift/1-add-a-flag", worktree, "HEAD"], in: repo)
        let token = secrets ? "API_TOKEN = tok_9f8e7d6c5b4a" : "API_TOKEN = ${API_TOKEN}"
        try write("APP_NAME = demo\n\(token)\nLEGACY_TOKEN=committed-secret-value\n", "config.env", under: worktree)
        let pem =
            secrets
            ? "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7Vx\nZZZZ\n-----END RSA PRIVATE KEY-----\n"
            : "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5 public key\n"
        try write(pem, "deploy/id_rsa", under: worktree)
    }

    static func run(_ executable: String, _ arguments: [String]) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        try p.runSerialized()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            throw PMGit.Failure(description: "\(arguments.joined(separator: " ")) exited \(p.terminationStatus)")
        }
    }
}
