import Foundation
import NightshiftTesting
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// How `nightshift fatal` and `nightshift status` show fatal issues: each once, with its output
/// tail; an unreadable fatal_issues.json is a fatal issue that names the file, never "none".
@Suite("fatal issues output", .serialized, .timeLimit(.minutes(3)))
struct FatalOutputTests {
    static let cleanEnvironment = DaemonDiscoveryTests.cleanEnvironment

    /// A crash_loop issue as the watchdog writes it, with a 25-line output tail.
    static func crashLoopFile(_ path: String) throws {
        let tail = (1...25).map { "daemon output line \($0)" }.joined(separator: "\n") + "\n"
        let issue: [String: Any] = [
            "id": "fatal_crash_loop", "condition": "crash_loop", "reason": "crash_loop",
            "detail":
                "the daemon was started 5 times within 1m and ended each time (last: exit 1); the watchdog stopped restarting it",
            "source": "watchdog", "at": "2026-01-02T03:04:05.000Z", "last_seen": "2026-01-02T03:04:05.000Z", "count": 1,
            "context": ["output_tail": tail, "log": "/var/log/watchdog.log", "exit_status": "exit 1"],
        ]
        try JSONSerialization.data(withJSONObject: ["issues": [issue]]).write(to: URL(fileURLWithPath: path))
    }

    @Test("from the file: each issue once, its reason not repeated, the last 20 lines of its output tail")
    func fromFile() throws {
        let dir = try TemporaryDirectory(prefix: "nightshift-fatal")
        let state = dir.path("state")
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
        try Self.crashLoopFile(state + "/fatal_issues.json")
        let r = try NightshiftBinary.run(["fatal", "--state-dir", state], environment: Self.cleanEnvironment)
        #expect(r.status == 1)
        let lines = r.out.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(
            lines.first == "2026-01-02T03:04:05.000Z  crash_loop  (watchdog, seen 1×, last 2026-01-02T03:04:05.000Z)", "\(r.out)")
        #expect(r.out.components(separatedBy: "crash_loop").count == 2, "the condition once, not again as the reason: \(r.out)")
        #expect(
            lines.contains(
                "  → the daemon was started 5 times within 1m and ended each time (last: exit 1); the watchdog stopped restarting it"
            ))
        #expect(lines.contains("  log: /var/log/watchdog.log"))
        #expect(lines.contains("  output tail (last 20 of 25 lines; --json has all):"), "\(r.out)")
        #expect(lines.contains("    daemon output line 25") && lines.contains("    daemon output line 6"))
        #expect(!lines.contains("    daemon output line 5"))
        let json = try NightshiftBinary.run(["fatal", "--json", "--state-dir", state], environment: Self.cleanEnvironment)
        #expect(json.out.contains("daemon output line 1\\n"))
    }

    @Test("an unreadable file is the fatal issue state_file_unreadable, naming the file, in fatal and in status")
    func unreadableFile() async throws {
        let dir = try TemporaryDirectory(prefix: "nightshift-fatal")
        let state = dir.path("state")
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
        let file = state + "/fatal_issues.json"
        try Data("{ not json".utf8).write(to: URL(fileURLWithPath: file))

        let offline = try NightshiftBinary.run(["fatal", "--state-dir", state], environment: Self.cleanEnvironment)
        #expect(offline.status == 1)
        #expect(offline.out.contains("state_file_unreadable") && offline.out.contains("cannot read \(file): "), "\(offline.out)")
        #expect(!offline.out.contains("no fatal issues"))

        let config = try dir.write("project_manager: { backlog: \"\" }\nmonitor: { interval: 1h }\n", to: "nightshift.yaml")
        let daemon = try DaemonProcess(stateDir: state, arguments: ["--config", config])
        #expect(await daemon.waitUntilReady(), "\(daemon.stderr)")
        let status = try NightshiftBinary.run(["status", "--url", daemon.url])
        #expect(status.status == 0, "status reports, it does not fail: \(status.err)")
        #expect(
            status.out.contains("\nfatal (1)\n  state_file_unreadable (reader, seen 1×): cannot read \(file): "), "\(status.out)")
        let viaAPI = try NightshiftBinary.run(["fatal", "--url", daemon.url])
        #expect(viaAPI.status == 1)
        #expect(viaAPI.out.contains("state_file_unreadable") && viaAPI.out.contains(file), "\(viaAPI.out)")

        // A readable file: status lists the issue once; fatal through the API shows its tail.
        try Self.crashLoopFile(file)
        let listed = try NightshiftBinary.run(["status", "--url", daemon.url])
        #expect(
            listed.out.contains(
                "\nfatal (1)\n  crash_loop (watchdog, seen 1×)\n  → what to do, and output tails: nightshift fatal\n"),
            "\(listed.out)")
        let shown = try NightshiftBinary.run(["fatal", "--url", daemon.url])
        #expect(shown.status == 1)
        #expect(shown.out.contains("  output tail (last 20 of 25 lines; --json has all):\n"), "\(shown.out)")
        daemon.signal(SIGTERM)
        #expect(await daemon.waitForExit() == 0)
    }
}
