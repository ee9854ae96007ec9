import Foundation
import NightshiftTesting
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Client commands without `--url` find the daemon through its state dir's daemon.json: a real
/// daemon on a free port, and a client whose config names a port nobody listens on.
@Suite("daemon discovery", .serialized, .timeLimit(.minutes(3)))
struct DaemonDiscoveryTests {
    /// Inherited settings must not decide where the client goes.
    static let cleanEnvironment = ["NIGHTSHIFT_URL": "", "NIGHTSHIFT_STATE_DIR": "", "NIGHTSHIFT_API_TOKEN": ""]

    /// A client config whose own address (port 9) and state dir have no daemon.
    static func clientConfig(_ dir: TemporaryDirectory) throws -> String {
        try dir.write("server: { port: 9 }\nstate_dir: \(dir.path("elsewhere"))\n", to: "client.yaml")
    }

    @Test(
        "status --state-dir and tasks list with NIGHTSHIFT_STATE_DIR reach a daemon on a non-default port; --url and NIGHTSHIFT_URL win"
    )
    func findsTheRunningDaemon() async throws {
        let dir = try TemporaryDirectory(prefix: "nightshift-discovery")
        let state = dir.path("state")
        let daemonConfig = try dir.write(
            "project_manager: { backlog: \"\" }\nrunner: { executors: { default: { command: \"true\" } } }\n", to: "daemon.yaml")
        let daemon = try DaemonProcess(stateDir: state, arguments: ["--config", daemonConfig])
        #expect(await daemon.waitUntilReady(), "\(daemon.stderr)")
        let client = try Self.clientConfig(dir)

        let status = try NightshiftBinary.run(
            ["status", "--state-dir", state, "--config", client], environment: Self.cleanEnvironment)
        #expect(status.status == 0, "\(status.err)")
        #expect(status.out.hasPrefix("daemon    \(daemon.url)  pid \(daemon.pid) "), "\(status.out)")

        let created = try NightshiftBinary.run([
            "tasks", "create", "--type", "impl", "found through daemon.json", "--url", daemon.url,
        ])
        let id = try #require(created.out.split(separator: " ").dropFirst().first.map(String.init), "\(created.err)")
        var viaEnvironment = Self.cleanEnvironment
        viaEnvironment["NIGHTSHIFT_STATE_DIR"] = state
        let listed = try NightshiftBinary.run(["tasks", "list", "--config", client], environment: viaEnvironment)
        #expect(listed.status == 0, "\(listed.err)")
        #expect(listed.out.contains(id), "\(listed.out)")

        // With a discoverable daemon, fatal asks it rather than reading the file.
        let fatal = try NightshiftBinary.run(["fatal", "--config", client], environment: viaEnvironment)
        #expect(fatal.status == 0, "\(fatal.err)")
        #expect(fatal.out == "no fatal issues (\(daemon.url))\n")

        // An explicit address wins over daemon.json.
        let explicit = try NightshiftBinary.run(
            ["status", "--state-dir", state, "--config", client, "--url", "http://127.0.0.1:9"],
            environment: Self.cleanEnvironment)
        #expect(explicit.status == 1)
        #expect(explicit.err.hasPrefix("nightshift: cannot reach the daemon at http://127.0.0.1:9 "), "\(explicit.err)")
        var urlEnvironment = viaEnvironment
        urlEnvironment["NIGHTSHIFT_URL"] = "http://127.0.0.1:9"
        let fromEnvironment = try NightshiftBinary.run(["tasks", "list", "--config", client], environment: urlEnvironment)
        #expect(fromEnvironment.status == 1)
        #expect(
            fromEnvironment.err.hasPrefix("nightshift: cannot reach the daemon at http://127.0.0.1:9 "), "\(fromEnvironment.err)")

        // A clean stop removes daemon.json: the client falls back to its config's address.
        daemon.signal(SIGTERM)
        #expect(await daemon.waitForExit() == 0)
        #expect(!FileManager.default.fileExists(atPath: state + "/daemon.json"))
        let after = try NightshiftBinary.run(
            ["status", "--state-dir", state, "--config", client], environment: Self.cleanEnvironment)
        #expect(after.status == 1)
        #expect(after.err.hasPrefix("nightshift: cannot reach the daemon at http://127.0.0.1:9 "), "\(after.err)")
    }

    @Test("a daemon.json whose pid is dead is ignored: the config's address is used, and fatal reads the file")
    func deadAnnouncementIsIgnored() async throws {
        let dir = try TemporaryDirectory(prefix: "nightshift-discovery")
        let state = dir.path("state")
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
        try DaemonProcess.writeStaleAnnouncement(inStateDir: state, url: "http://127.0.0.1:1")
        let client = try Self.clientConfig(dir)

        let status = try NightshiftBinary.run(
            ["status", "--state-dir", state, "--config", client], environment: Self.cleanEnvironment)
        #expect(status.status == 1)
        #expect(status.err.hasPrefix("nightshift: cannot reach the daemon at http://127.0.0.1:9 "), "\(status.err)")
        let fatal = try NightshiftBinary.run(
            ["fatal", "--state-dir", state, "--config", client], environment: Self.cleanEnvironment)
        #expect(fatal.status == 0, "\(fatal.err)")
        #expect(fatal.out == "no fatal issues (\(state)/fatal_issues.json)\n")
    }
}
