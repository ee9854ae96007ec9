import ArgumentParser
import Foundation
import NightshiftCore
import NightshiftRuntime

/// `nightshift guard`: looks for secrets in the state dir and the item worktrees' uncommitted
/// changes, with the redactor's rules. Reads files only; needs no daemon.
struct GuardCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "guard", abstract: "Look for secrets in the state dir and in the worktrees' uncommitted changes.",
        discussion: """
            Reads every text file under the state dir (logs, reports, exports, result files; not \
            the database), the files inside its .tar.gz archives (runs/*/run.tar.gz), and in each \
            item worktree under worktrees/ the lines `git diff HEAD` adds plus the untracked files. \
            Prints each secret as file:line, the rule that found it and the value masked \
            (sk-****), using the redactor's rules (the configured secret values included):
            \(SecretRule.allCases.map { "  \($0.rawValue): \($0.summary)" }.joined(separator: "\n"))

            Exit codes: 0 = no secrets found, 1 = secrets found (or a file could not be read), \
            2 = bad usage (no such state dir, a bad config).
            """)

    @Option(name: .long, help: "State dir to scan (default: $NIGHTSHIFT_STATE_DIR, else the config's state_dir).")
    var stateDir: String?
    @Option(name: .long, help: "Config file for the state dir and the secret values to look for.") var config: String?
    @Flag(name: .long, help: "Print JSON instead of lines.") var json = false

    func run() async throws {
        try await runReporting {
            let loaded: NightshiftConfig
            do {
                loaded = try ConfigLoader.load(
                    path: config, overrides: .init(stateDir: stateDir ?? ClientOptions.environmentStateDir))
            } catch {
                throw CLIFailure(message: "\(error)", code: 2)
            }
            let dir = loaded.stateDir
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else {
                throw CLIFailure(message: "no state dir at \(dir) (pass --state-dir)", code: 2)
            }
            let scan = await SecretGuard(stateDir: dir, redactor: ServiceEnvironment.redactor(for: loaded)).run()
            if json {
                print(String(decoding: try JSONEncoder.nightshift(pretty: true).encode(scan), as: UTF8.self))
            } else {
                let shown = (dir as NSString).standardizingPath
                for f in scan.findings {
                    print("\((shown as NSString).appendingPathComponent(f.location)): \(f.rule.rawValue): \(f.masked)")
                }
                for u in scan.unreadable { print("unreadable: \(u)") }
                let what =
                    "\(scan.files) file(s), \(scan.archivedFiles) file(s) in \(scan.archives) archive(s), \(scan.worktrees) worktree(s)"
                if scan.findings.isEmpty {
                    print("guard: no secrets found in \(shown) (\(what))")
                } else {
                    let files = Set(scan.findings.map { [$0.file, $0.member ?? ""] }).count
                    print("guard: \(scan.findings.count) secret(s) in \(files) file(s) under \(shown) (\(what))")
                }
            }
            if !scan.findings.isEmpty || !scan.unreadable.isEmpty { throw ExitCode(1) }
        }
    }
}
