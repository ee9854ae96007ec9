import Foundation
import NightshiftTesting
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `nightshift serve` as a real process: startup, refusal, graceful stop, crash and restart.
@Suite("daemon lifecycle", .serialized)
struct DaemonLifecycleTests {
    /// A config whose default executor is `script` (run with /bin/sh) and short timings.
    static func writeConfig(_ dir: TemporaryDirectory, agent script: String, extra: String = "") throws -> String {
        let agent = try dir.write(script, to: "agent.sh")
        return try dir.write(
            """
            runner:
              workers: 2
              lease: 2s
              kill_grace: 500ms
              retry_backoff: { base: 100ms, max: 1s }
              executors:
                default: { command: "/bin/sh \(agent) {direction}" }
            project_manager:
              backlog: ""
            \(extra)
            """, to: "nightshift.yaml")
    }

    @Test("SIGTERM drains and exits 0; a restart keeps every task")
    func sigtermAndRestart() async throws {
        let dir = try TemporaryDirectory()
        let config = try Self.writeConfig(dir, agent: "echo working on \"$1\"\n")
        let state = dir.path("state")
        var ids: [String] = []
        do {
            let daemon = try DaemonProcess(stateDir: state, arguments: ["--config", config])
            #expect(await daemon.waitUntilReady())
            for i in 0..<5 {
                let reply = await HTTP.send(
                    "POST", daemon.url + "/api/agent/tasks", json: #"{"direction":"job \#(i)","task_type":"impl"}"#)
                #expect(reply?.status == 201)
                ids.append(try #require(reply?.json?["id"] as? String))
            }
            #expect(
                await waitFor { await HTTP.get(daemon.url + "/api/agent/tasks?status=completed")?.json?["total"] as? Int == 5 })
            daemon.signal(SIGTERM)
            #expect(await daemon.waitForExit() == 0)
            #expect(!FileManager.default.fileExists(atPath: dir.path("state/daemon.json")))
        }
        let again = try DaemonProcess(stateDir: state, arguments: ["--config", config])
        #expect(await again.waitUntilReady())
        let list = await HTTP.get(again.url + "/api/agent/tasks?limit=100")
        let listed = Set((list?.json?["tasks"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String })
        #expect(listed == Set(ids))
        again.signal(SIGINT)
        #expect(await again.waitForExit() == 0)
    }

    @Test("kill -9 mid-task: the agent's group dies with its daemon and the restart runs the task again")
    func crashRecovery() async throws {
        let dir = try TemporaryDirectory()
        let pids = dir.path("pids")
        // Attempt 1 records its pid and hangs (with a grandchild); later attempts finish.
        let config = try Self.writeConfig(
            dir,
            agent: """
                echo "$$" >> \(pids)
                if [ "$NIGHTSHIFT_ATTEMPT" = 1 ]; then sleep 300 & sleep 300; fi
                echo finished
                """)
        let state = dir.path("state")
        let first = try DaemonProcess(stateDir: state, arguments: ["--config", config])
        #expect(await first.waitUntilReady())
        let created = await HTTP.send(
            "POST", first.url + "/api/agent/tasks", json: #"{"direction":"long job","task_type":"impl"}"#)
        let id = try #require(created?.json?["id"] as? String)
        #expect(await waitFor { (try? String(contentsOfFile: pids, encoding: .utf8))?.isEmpty == false })
        let agentPID = try #require(Int32((try String(contentsOfFile: pids, encoding: .utf8)).split(separator: "\n")[0]))
        let orphan = try #require(Self.processGroup(of: agentPID))
        #expect(Self.liveMembers(ofGroup: orphan).count >= 2)  // the agent's shell and its grandchild
        first.signal(SIGKILL)
        _ = await first.waitForExit()
        // No daemon is running: the agent's watcher saw the gate pipe close and tore the group
        // down (within kill_grace), grandchild included, so nothing works on the task now.
        #expect(await waitFor { Self.liveMembers(ofGroup: orphan).isEmpty })
        #expect(ProcessTable.processes(withTask: id).isEmpty)

        let second = try DaemonProcess(stateDir: state, arguments: ["--config", config])
        #expect(await second.waitUntilReady())
        #expect(
            await waitFor { await HTTP.get(second.url + "/api/agent/tasks/\(id)")?.json?["status"] as? String == "completed" })
        let task = try #require(await HTTP.get(second.url + "/api/agent/tasks/\(id)")?.json)
        #expect(task["attempt"] as? Int == 2)
        second.signal(SIGTERM)
        #expect(await second.waitForExit() == 0)
    }

    @Test("a second daemon on the same state dir refuses to start")
    func stateDirLock() async throws {
        let dir = try TemporaryDirectory()
        let config = try Self.writeConfig(dir, agent: "true\n")
        let first = try DaemonProcess(stateDir: dir.path("state"), arguments: ["--config", config])
        #expect(await first.waitUntilReady())
        let second = try NightshiftBinary.run(["serve", "--config", config, "--state-dir", dir.path("state"), "--port", "0"])
        #expect(second.status == 1)
        #expect(second.err.contains("another nightshift daemon"))
        first.signal(SIGTERM)
        #expect(await first.waitForExit() == 0)
    }

    @Test("a bad config stops startup with exit 2 and names the key")
    func badConfig() throws {
        let dir = try TemporaryDirectory()
        let config = try dir.write("runner:\n  workers: two\n", to: "bad.yaml")
        let r = try NightshiftBinary.run(["serve", "--config", config, "--state-dir", dir.path("state")])
        #expect(r.status == 2)
        #expect(r.err.contains("runner.workers"))
        #expect(r.err.split(separator: "\n").count == 1)
        let unknown = try dir.write("runner:\n  wrokers: 2\n", to: "unknown.yaml")
        let u = try NightshiftBinary.run(["serve", "--config", unknown, "--state-dir", dir.path("state")])
        #expect(u.status == 2)
        #expect(u.err.contains("runner.wrokers: unknown key"))
        let open = try NightshiftBinary.run(["serve", "--config", config, "--host", "0.0.0.0", "--state-dir", dir.path("state")])
        #expect(open.status == 2)
        let noToken = try NightshiftBinary.run(
            ["serve", "--host", "0.0.0.0", "--state-dir", dir.path("state")],
            environment: ["NIGHTSHIFT_CONFIG": try dir.write("{}\n", to: "empty.yaml")])
        #expect(noToken.status == 2)
        #expect(noToken.err.contains("server.token"))
    }

    /// The process group of `pid`, from /proc.
    static func processGroup(of pid: Int32) -> Int32? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")")
        else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        return fields.count > 2 ? Int32(fields[2]) : nil
    }

    /// Live (non-zombie) members of a process group, from /proc.
    static func liveMembers(ofGroup pgid: Int32) -> [Int32] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { entry -> Int32? in
            guard let pid = Int32(entry), let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { return nil }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 2, fields[0] != "Z", Int32(fields[2]) == pgid else { return nil }
            return pid
        }
    }
}
