import Foundation
import NightshiftTesting
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `GET /api/agent/nodes` and `nightshift nodes` on a daemon alone on its SQLite store.
@Suite("nodes", .serialized)
struct NodesTests {
    @Test("a daemon alone on SQLite is the one live node, leads, and lists the task it runs; a clean stop is recorded")
    func alone() async throws {
        let dir = try TemporaryDirectory()
        let release = dir.path("release")
        let config = try DaemonLifecycleTests.writeConfig(
            dir, agent: "while [ ! -e \(release) ]; do sleep 0.05; done\n",
            extra: "node:\n  id: night-owl\n  heartbeat: 200ms\n  lease: 5s\n")
        let state = dir.path("state")
        let daemon = try DaemonProcess(stateDir: state, arguments: ["--config", config])
        #expect(await daemon.waitUntilReady())
        let created = await HTTP.send(
            "POST", daemon.url + "/api/agent/tasks", json: #"{"direction":"hold","task_type":"impl"}"#)
        let id = try #require(created?.json?["id"] as? String)
        #expect(await waitFor { await HTTP.get(daemon.url + "/api/agent/tasks/\(id)")?.json?["status"] as? String == "running" })
        // The heartbeat writes the API's URL once it listens.
        var node: [String: Any] = [:]
        #expect(
            await waitFor {
                let nodes = await HTTP.get(daemon.url + "/api/agent/nodes")?.json
                guard nodes?["self"] as? String == "night-owl", nodes?["leader"] as? String == "night-owl",
                    nodes?["shared"] as? Bool == false, let list = nodes?["nodes"] as? [[String: Any]], list.count == 1
                else { return false }
                node = list[0]
                return node["url"] as? String == daemon.url
            })
        #expect(node["id"] as? String == "night-owl")
        #expect(node["alive"] as? Bool == true && node["leader"] as? Bool == true)
        #expect(node["running"] as? [String] == [id])
        #expect(node["pid"] as? Int == Int(daemon.process.processIdentifier))

        let cli = try NightshiftBinary.run(["nodes", "--url", daemon.url])
        #expect(cli.status == 0)
        #expect(cli.out.contains("leader: night-owl"))
        #expect(cli.out.contains("night-owl *"))
        #expect(cli.out.contains("1: \(id)"))
        let json = try NightshiftBinary.run(["nodes", "--url", daemon.url, "--json"])
        #expect(json.status == 0 && json.out.contains("\"instance_id\""))

        FileManager.default.createFile(atPath: release, contents: nil)
        #expect(
            await waitFor { await HTTP.get(daemon.url + "/api/agent/tasks/\(id)")?.json?["status"] as? String == "completed" })
        daemon.signal(SIGTERM)
        #expect(await daemon.waitForExit() == 0)
        let rows = try Command.run(["sqlite3", "\(state)/nightshift.sqlite", "SELECT id, stopped_at IS NOT NULL FROM nodes"])
        #expect(rows.out.trimmingCharacters(in: .whitespacesAndNewlines) == "night-owl|1")
    }

    @Test("a bad node.id or a lease no longer than the heartbeat stops startup with the key")
    func badConfig() throws {
        let dir = try TemporaryDirectory()
        let bad = try dir.write("node:\n  id: \"has space\"\n", to: "bad.yaml")
        let r = try NightshiftBinary.run(["serve", "--config", bad, "--state-dir", dir.path("state")])
        #expect(r.status == 2)
        #expect(r.err.contains("node.id"))
        let short = try dir.write("node:\n  heartbeat: 5s\n  lease: 5s\n", to: "short.yaml")
        let s = try NightshiftBinary.run(["serve", "--config", short, "--state-dir", dir.path("state")])
        #expect(s.status == 2)
        #expect(s.err.contains("node.lease"))
    }
}
