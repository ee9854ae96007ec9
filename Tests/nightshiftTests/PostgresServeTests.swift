import Foundation
import NightshiftCore
import NightshiftTesting
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `nightshift serve` on PostgreSQL (issue 17): `NIGHTSHIFT_STORE_URL` names a fresh schema of
/// the test database (`?schema=`), the offline demo agent works the example backlog, and every
/// item is done with no SQLite database in the state dir; a server that cannot be reached, or
/// that refuses the role, stops the start with one line naming `store.url` and the reason.
@Suite("serve on PostgreSQL", .serialized, .timeLimit(.minutes(3)))
struct PostgresServeTests {
    static let urlVariable = "NIGHTSHIFT_TEST_POSTGRES_URL"
    static var url: String? { ProcessInfo.processInfo.environment[urlVariable].flatMap { $0.isEmpty ? nil : $0 } }
    /// In CI these tests run whatever the environment says (and fail without a database).
    static var inCI: Bool { ProcessInfo.processInfo.environment["CI"] != nil }

    /// The test database's URL with a schema of its own. The name has the store tests' prefix
    /// and this process's id, so their sweep drops it once this process has ended.
    static func scratchURL(_ base: String, _ name: String) -> String {
        base + (base.contains("?") ? "&" : "?") + "schema=nstest_\(getpid())_\(name)"
    }

    static func config(_ dir: TemporaryDirectory) throws -> String {
        let backlog = try String(
            contentsOf: NightshiftBinary.packageRoot.appendingPathComponent("config/backlog.md"), encoding: .utf8)
        let path = try dir.write(backlog, to: "backlog.md")
        let agent = NightshiftBinary.packageRoot.appendingPathComponent("scripts/demo_agent.sh").path
        return try dir.write(
            """
            runner:
              workers: 2
              retry_backoff: { base: 50ms, max: 200ms }
              executors:
                default: { command: "bash \(agent) {direction}", env: { DEMO_AGENT_SPEED: "0" } }
            project_manager:
              backlog: \(path)
              parallel_items: 2
            """, to: "nightshift.yaml")
    }

    static func json(_ url: String, _ path: String) async -> [String: Any]? { await HTTP.get(url + path)?.json }

    @Test(
        "the example backlog runs end to end on a fresh schema: every item done, every task completed, no SQLite file",
        .enabled(if: url != nil || inCI))
    func exampleBacklog() async throws {
        let base = try #require(Self.url, "\(Self.urlVariable) is not set (scripts/test_postgres.sh starts a database)")
        let dir = try TemporaryDirectory(prefix: "nightshift-pg-serve")
        let config = try Self.config(dir)
        let state = dir.path("state")
        let store = Self.scratchURL(base, "serve")
        let daemon = try DaemonProcess(
            stateDir: state, arguments: ["--config", config], environment: ["NIGHTSHIFT_STORE_URL": store])
        #expect(await daemon.waitUntilReady(), "stderr: \(daemon.stderr)")
        let done = await waitFor(timeout: 120) {
            (await Self.json(daemon.url, "/api/agent/pm")?["items_by_state"] as? [String: Any])?["done"] as? Int == 3
        }
        let pm = await Self.json(daemon.url, "/api/agent/pm")
        #expect(done, "pm: \(String(describing: pm)) stderr: \(daemon.stderr)")
        let counts = await Self.json(daemon.url, "/api/agent/tasks/count")
        let byStatus = counts?["by_status"] as? [String: Any]
        #expect(
            byStatus?["completed"] as? Int == 12, "3 items through spec, impl, test and review: \(String(describing: counts))")
        #expect(counts?["total"] as? Int == 12)
        daemon.signal(SIGTERM)
        #expect(await daemon.waitForExit() == 0)
        #expect(
            !FileManager.default.fileExists(atPath: state + "/nightshift.sqlite"),
            "the tasks live in PostgreSQL, not in the state dir")

        // A second start on the same schema finds the finished backlog there: nothing to redo.
        let again = try DaemonProcess(
            stateDir: state, arguments: ["--config", config], environment: ["NIGHTSHIFT_STORE_URL": store])
        #expect(await again.waitUntilReady(), "stderr: \(again.stderr)")
        let restarted = await Self.json(again.url, "/api/agent/pm")
        #expect((restarted?["items_by_state"] as? [String: Any])?["done"] as? Int == 3)
        #expect((await Self.json(again.url, "/api/agent/tasks/count"))?["total"] as? Int == 12)
        again.signal(SIGTERM)
        #expect(await again.waitForExit() == 0)
    }

    @Test("a PostgreSQL store that cannot be reached stops serve with one line naming store.url and why, before the state dir")
    func unreachable() throws {
        let dir = try TemporaryDirectory(prefix: "nightshift-pg-serve")
        let state = dir.path("state")
        // Port 1 on loopback: nothing listens, the connection is refused at once.
        let run = try NightshiftBinary.run(
            ["serve", "--state-dir", state, "--port", "0"],
            environment: ["NIGHTSHIFT_STORE_URL": "postgres://nightshift@127.0.0.1:1/nightshift_test"])
        #expect(run.status == 2)
        let lines = run.err.split(separator: "\n")
        #expect(lines.count == 1, "\(run.err)")
        #expect(run.err.contains("store.url:") && run.err.contains("cannot connect to PostgreSQL at"), "\(run.err)")
        #expect(run.err.contains("Connection refused"), "\(run.err)")
        #expect(!FileManager.default.fileExists(atPath: state), "nothing is written when the store is out of reach")
    }

    @Test("a server that refuses the role stops serve with the server's reason", .enabled(if: url != nil || inCI))
    func refusedRole() throws {
        let base = try #require(Self.url)
        let location = try PostgresLocation.parse(base)
        let dir = try TemporaryDirectory(prefix: "nightshift-pg-serve")
        let bad = "postgres://no_such_role_nightshift@\(location.host):\(location.port)/\(location.database)"
        let run = try NightshiftBinary.run(
            ["serve", "--state-dir", dir.path("state"), "--port", "0"], environment: ["NIGHTSHIFT_STORE_URL": bad])
        #expect(run.status == 2)
        #expect(run.err.split(separator: "\n").count == 1, "\(run.err)")
        #expect(run.err.contains("store.url:") && run.err.contains("no_such_role_nightshift"), "\(run.err)")
    }
}
