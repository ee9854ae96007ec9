import Foundation
import NightshiftTesting
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Three daemons on one PostgreSQL schema share a thousand short tasks; one is killed with
/// SIGKILL mid-run (a follower, then the leader). Every task completes, no two runs of one task
/// overlap (the agents check it themselves with a lock the kernel drops when they die), no
/// agent is left running, and the counts add up.
@Suite("cluster: three daemons on PostgreSQL, one killed", .serialized)
struct ClusterKillTests {
    static var url: String? {
        ProcessInfo.processInfo.environment["NIGHTSHIFT_TEST_POSTGRES_URL"].flatMap { $0.isEmpty ? nil : $0 }
    }
    static var enabled: Bool { url != nil || ProcessInfo.processInfo.environment["CI"] != nil }
    static let tasks = 1000
    private static let counter = Mutex(0)

    /// A store URL on a fresh schema of the test database (swept later with the store tests'
    /// scratch schemas: `nstest_<pid>_…`).
    static func freshStore() throws -> String {
        let base = try #require(url, "NIGHTSHIFT_TEST_POSTGRES_URL is set (CI sets it)")
        let n = counter.withLock { n in
            n += 1
            return n
        }
        return base + (base.contains("?") ? "&" : "?") + "schema=nstest_\(getpid())_cluster\(n)"
    }

    /// The agent: it takes a lock on its task's file that the kernel drops when it dies; a run
    /// that finds the lock held overlaps another run of the same task and says so.
    static func agent(_ dir: TemporaryDirectory) throws -> String {
        try FileManager.default.createDirectory(atPath: dir.path("locks"), withIntermediateDirectories: true)
        return try dir.write(
            """
            D=\(dir.path)
            exec 9>"$D/locks/$NIGHTSHIFT_TASK_ID"
            if ! flock -n 9; then echo "$NIGHTSHIFT_TASK_ID" >> "$D/overlaps"; exit 1; fi
            while [ ! -e "$D/go" ]; do sleep 0.02; done
            echo "$NIGHTSHIFT_TASK_ID $NIGHTSHIFT_ATTEMPT" >> "$D/runs"
            sleep 0.05
            echo done
            """, to: "agent.sh")
    }

    static func config(_ dir: TemporaryDirectory, store: String, agent: String, marker: String, node: Int) throws -> String {
        try dir.write(
            """
            runner:
              workers: 4
              lease: 3s
              kill_grace: 300ms
              poll_interval: 1s
              retry_backoff: { base: 100ms, max: 500ms }
              max_attempts: 5
              executors:
                default:
                  command: "/bin/sh \(agent)"
                  env: { NIGHTSHIFT_TEST_CLUSTER: "\(marker)" }
            project_manager:
              backlog: ""
            store:
              url: "\(store)"
            node:
              id: node-\(node)
              heartbeat: 250ms
              lease: 2s
            """, to: "node\(node).yaml")
    }

    @Test("a follower is killed mid-run: every task completes once at a time, nothing is left running", .enabled(if: enabled))
    func killFollower() async throws {
        try await run(killLeader: false)
    }

    @Test("the leader is killed mid-run: another node leads within a lease and the night completes", .enabled(if: enabled))
    func killLeader() async throws {
        try await run(killLeader: true)
    }

    @Test("a task's log is read through any node: one without the file asks the node that ran it", .enabled(if: enabled))
    func logThroughAnyNode() async throws {
        let dir = try TemporaryDirectory()
        let store = try Self.freshStore()
        let agent = try dir.write("echo \"the line of $NIGHTSHIFT_TASK_ID\"\n", to: "say.sh")
        var daemons: [DaemonProcess] = []
        for n in 1...2 {
            let config = try Self.config(dir, store: store, agent: agent, marker: UUID().uuidString, node: n)
            daemons.append(try DaemonProcess(stateDir: dir.path("state\(n)"), arguments: ["--config", config]))
        }
        for d in daemons { #expect(await d.waitUntilReady(), "\(d.stderr)") }
        let created = await HTTP.send(
            "POST", daemons[0].url + "/api/agent/tasks", json: #"{"direction":"say","task_type":"impl"}"#)
        let id = try #require(created?.json?["id"] as? String)
        #expect(
            await waitFor { await HTTP.get(daemons[0].url + "/api/agent/tasks/\(id)")?.json?["status"] as? String == "completed" }
        )
        // Every node alive with its URL, so each can find the other.
        #expect(
            await waitFor {
                let nodes = await HTTP.get(daemons[1].url + "/api/agent/nodes")?.json?["nodes"] as? [[String: Any]] ?? []
                return nodes.filter { $0["alive"] as? Bool == true && $0["url"] is String }.count == 2
            })
        // As if it ran on another machine: the recorded path is not on this one.
        let schema = try #require(store.split(separator: "=").last.map(String.init))
        let moved = try Command.run([
            "psql", try #require(Self.url), "-v", "ON_ERROR_STOP=1", "-c",
            "UPDATE \(schema).tasks SET log_path = '/nonexistent/elsewhere/\(id).log' WHERE id = '\(id)'",
        ])
        #expect(moved.status == 0, "\(moved.err)")
        let expected = "the line of \(id)"
        for d in daemons {
            let log = await HTTP.get(d.url + "/api/agent/tasks/\(id)/log")
            #expect(log?.status == 200)
            #expect(log?.text.contains(expected) == true, "node \(d.url) reads the log")
            let local = await HTTP.get(d.url + "/api/agent/tasks/\(id)/log?local=true")
            #expect(local?.status == 200)
        }
        let locals = await daemons.asyncMap { await HTTP.get($0.url + "/api/agent/tasks/\(id)/log?local=true")?.text ?? "" }
        #expect(locals.filter { $0.contains(expected) }.count == 1, "exactly one node holds the file")
        #expect(await HTTP.get(daemons[0].url + "/api/agent/tasks/\(id)/log?local=maybe")?.status == 422)
        for d in daemons { d.signal(SIGTERM) }
        for d in daemons { #expect(await d.waitForExit() == 0) }
    }

    func run(killLeader: Bool) async throws {
        let dir = try TemporaryDirectory()
        let store = try Self.freshStore()
        let agent = try Self.agent(dir)
        let marker = UUID().uuidString
        var daemons: [DaemonProcess] = []
        for n in 1...3 {
            let config = try Self.config(dir, store: store, agent: agent, marker: marker, node: n)
            daemons.append(try DaemonProcess(stateDir: dir.path("state\(n)"), arguments: ["--config", config]))
        }
        for d in daemons { #expect(await d.waitUntilReady(), "\(d.stderr)") }
        let first = daemons[0].url

        // Exactly one leader among the three, and every node sees the same answer.
        var leaderID = ""
        #expect(
            await waitFor {
                let answers = await daemons.asyncMap { await HTTP.get($0.url + "/api/agent/nodes")?.json }
                let leaders = Set(answers.compactMap { $0?["leader"] as? String })
                let alive = (answers.first??["nodes"] as? [[String: Any]] ?? []).filter { $0["alive"] as? Bool == true }
                guard leaders.count == 1, answers.allSatisfy({ $0?["shared"] as? Bool == true }), alive.count == 3 else {
                    return false
                }
                leaderID = leaders.first!
                return true
            })
        let leaderIndex = try #require(Int(leaderID.dropFirst("node-".count))) - 1

        // A thousand tasks, posted to the three nodes in turn.
        var ids: [String] = []
        for i in 0..<Self.tasks {
            let reply = await HTTP.send(
                "POST", daemons[i % 3].url + "/api/agent/tasks", json: #"{"direction":"job \#(i)","task_type":"impl"}"#)
            ids.append(try #require(reply?.json?["id"] as? String, "task \(i) created"))
        }

        // The agents hold until every task is in (so the night cannot end before the kill).
        FileManager.default.createFile(atPath: dir.path("go"), contents: nil)
        // Kill one node while every node is working.
        let victim = killLeader ? leaderIndex : (leaderIndex + 1) % 3
        #expect(
            await waitFor(timeout: 120) {
                guard let nodes = await HTTP.get(first + "/api/agent/nodes")?.json?["nodes"] as? [[String: Any]] else {
                    return false
                }
                let running = nodes.first { $0["id"] as? String == "node-\(victim + 1)" }?["running"] as? [String] ?? []
                let done = await HTTP.get(first + "/api/agent/tasks/count")?.json?["by_status"] as? [String: Int]
                return !running.isEmpty && (done?["completed"] ?? 0) >= Self.tasks / 5
            })
        let killedAt = ContinuousClock.now
        daemons[victim].signal(SIGKILL)
        _ = await daemons[victim].waitForExit()
        let survivors = daemons.indices.filter { $0 != victim }.map { daemons[$0] }

        // Its agents died with it: no marked process is left that no surviving daemon started.
        let keepers = survivors.map(\.pid)
        #expect(await waitFor(timeout: 10) { Self.orphans(marker: marker, keepers: keepers).isEmpty })

        if killLeader {
            #expect(
                await waitFor(timeout: 30) {
                    let leader = await HTTP.get(survivors[0].url + "/api/agent/nodes")?.json?["leader"] as? String
                    return leader != nil && leader != leaderID
                }, "another node leads within a lease")
            print("cluster figure: a new leader \(ContinuousClock.now - killedAt) after the leader's SIGKILL")
        }

        // Every task completes (the dead node's after their leases lapse).
        #expect(
            await waitFor(timeout: 300) {
                let counts = await HTTP.get(survivors[0].url + "/api/agent/tasks/count")?.json
                return (counts?["by_status"] as? [String: Int])?["completed"] == Self.tasks
            }, "all \(Self.tasks) tasks complete")
        print(
            "cluster figure: all \(Self.tasks) tasks completed \(ContinuousClock.now - killedAt) after the SIGKILL (node lease 2 s, task lease 3 s)"
        )
        let counts = try #require(await HTTP.get(survivors[1].url + "/api/agent/tasks/count")?.json)
        #expect(counts["total"] as? Int == Self.tasks)

        // No two runs of a task overlapped; every task ran; every run started as an attempt.
        let overlaps = (try? String(contentsOfFile: dir.path("overlaps"), encoding: .utf8)) ?? ""
        #expect(overlaps.isEmpty, "runs of one task overlapped: \(overlaps.prefix(500))")
        let runs = try String(contentsOfFile: dir.path("runs"), encoding: .utf8).split(separator: "\n")
        #expect(Set(runs.map { String($0.split(separator: " ")[0]) }) == Set(ids))
        var attempts = 0
        var query = "/api/agent/tasks?limit=100&fields=id,attempt"
        while true {
            let page = try #require(await HTTP.get(survivors[0].url + query)?.json)
            for t in try #require(page["tasks"] as? [[String: Any]], "\(page)") { attempts += t["attempt"] as? Int ?? 0 }
            guard let next = page["next"] as? String else { break }
            query = "/api/agent/tasks?limit=100&fields=id,attempt&after=\(next)"
        }
        #expect(attempts >= Self.tasks)
        #expect(runs.count <= attempts, "a run is an attempt the store counted")

        for d in survivors { d.signal(SIGTERM) }
        for d in survivors { #expect(await d.waitForExit() == 0) }
        #expect(
            await waitFor(timeout: 10) { ProcessTable.processes(withEnvironment: "NIGHTSHIFT_TEST_CLUSTER=\(marker)").isEmpty })
    }

    /// Live processes carrying the marker that no daemon in `keepers` is an ancestor of: the
    /// agents of a dead daemon (reparented when it died).
    static func orphans(marker: String, keepers: [Int32]) -> [Int32] {
        ProcessTable.processes(withEnvironment: "NIGHTSHIFT_TEST_CLUSTER=\(marker)").filter { p in
            !ProcessTable.ancestors(of: p).contains { keepers.contains($0) }
        }
    }
}

extension Array {
    func asyncMap<T>(_ f: (Element) async -> T) async -> [T] {
        var out: [T] = []
        for e in self { out.append(await f(e)) }
        return out
    }
}
