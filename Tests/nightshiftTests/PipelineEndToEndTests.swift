import Foundation
import NightshiftCore
import NightshiftStore
import NightshiftTesting
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The backlog pipeline through the real `nightshift` binary: a temp config whose backlog is a
/// temp file and whose agent is a temp script; phase order, a SIGKILL mid-run and a restart on
/// the same state dir without duplicate tasks, and `nightshift pm status|pause|resume`.
@Suite("pipeline end to end", .serialized, .timeLimit(.minutes(5)))
struct PipelineEndToEndTests {
    static let phases = ["spec", "impl", "test", "review"]

    /// The agent: records each run, then, while `$PM_SHARED/hold-<task type>` exists, waits at
    /// that gate, announcing it with `waiting-<task id>`. The gate never decides the outcome:
    /// it only lets a test hold the tasks of one phase in the running state.
    static let gatedAgent = """
        echo "task $1 type $NIGHTSHIFT_TASK_TYPE item $NIGHTSHIFT_BACKLOG_ITEM attempt $NIGHTSHIFT_ATTEMPT"
        echo "$1 $NIGHTSHIFT_TASK_TYPE $NIGHTSHIFT_BACKLOG_ITEM $NIGHTSHIFT_ATTEMPT" >> "$PM_SHARED/runs"
        n=0
        while [ -f "$PM_SHARED/hold-$NIGHTSHIFT_TASK_TYPE" ]; do
          touch "$PM_SHARED/waiting-$1"
          n=$((n+1)); [ $n -gt 2400 ] && exit 9
          sleep 0.05
        done
        printf '{"summary":"%s of item %s"}' "$NIGHTSHIFT_TASK_TYPE" "$NIGHTSHIFT_BACKLOG_ITEM" > "$NIGHTSHIFT_RESULT_FILE"
        """

    struct Setup {
        let dir: TemporaryDirectory
        let config: String
        let state: String
        let shared: String
        let backlog: String
    }

    static func setup(items: Int, parallel: Int = 2) throws -> Setup {
        let dir = try TemporaryDirectory(prefix: "nightshift-e2e")
        let shared = dir.path("shared")
        try FileManager.default.createDirectory(atPath: shared, withIntermediateDirectories: true)
        let agent = try dir.write("#!/bin/sh\n" + gatedAgent + "\n", to: "agent.sh")
        let backlog = try dir.write(
            "# Tonight\n\n" + (1...items).map { "\($0). Backlog item number \($0)" }.joined(separator: "\n") + "\n",
            to: "backlog.md")
        let config = try dir.write(
            """
            runner:
              workers: 2
              lease: 2s
              kill_grace: 300ms
              max_attempts: 3
              retry_backoff: { base: 50ms, max: 200ms }
              executors:
                default: { command: "/bin/sh \(agent) {task_id}", env: { PM_SHARED: "\(shared)" } }
            project_manager:
              backlog: \(backlog)
              parallel_items: \(parallel)
              max_iterations: 3
            """, to: "nightshift.yaml")
        return Setup(dir: dir, config: config, state: dir.path("state"), shared: shared, backlog: backlog)
    }

    static func hold(_ s: Setup, _ type: String) {
        _ = FileManager.default.createFile(atPath: s.shared + "/hold-\(type)", contents: nil)
    }

    static func release(_ s: Setup, _ type: String) throws {
        try FileManager.default.removeItem(atPath: s.shared + "/hold-\(type)")
    }

    static func pmJSON(_ url: String) async -> [String: Any]? { await HTTP.get(url + "/api/agent/pm")?.json }

    static func doneCount(_ url: String) async -> Int? {
        (await pmJSON(url)?["items_by_state"] as? [String: Any])?["done"] as? Int
    }

    static func count(_ url: String, _ status: String) async -> Int {
        ((await HTTP.get(url + "/api/agent/tasks/count"))?.json?["by_status"] as? [String: Any])?[status] as? Int ?? 0
    }

    /// Reads the finished run straight from its database.
    static func snapshot(_ s: Setup) async throws -> (items: [BacklogItem], tasks: [AgentTask]) {
        let store = try SQLiteTaskStore(stateDir: s.state)
        let tasks = try await store.list(TaskQuery(limit: 10_000)).tasks.sorted { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) }
        return (try await store.items(), tasks)
    }

    /// Every item is done, ran each phase once in order, and no (item, phase, iteration) repeats.
    static func expectCleanRun(
        _ items: [BacklogItem], _ tasks: [AgentTask], count: Int, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(items.count == count, sourceLocation: sourceLocation)
        #expect(
            items.allSatisfy { $0.state == .done }, "states: \(items.map { "\($0.key)=\($0.state)" })",
            sourceLocation: sourceLocation)
        var seen = Set<String>()
        for t in tasks {
            let key = "\(t.backlogItem ?? "-")/\(t.phase ?? "-")/\(t.iteration ?? 0)"
            #expect(seen.insert(key).inserted, "duplicate task for \(key)", sourceLocation: sourceLocation)
        }
        #expect(tasks.count == count * phases.count, sourceLocation: sourceLocation)
        for item in items {
            let mine = tasks.filter { $0.backlogItem == item.key }
            #expect(mine.map { $0.phase ?? "" } == phases, "item \(item.key)", sourceLocation: sourceLocation)
            #expect(mine.allSatisfy { $0.status == .completed }, sourceLocation: sourceLocation)
            for (parent, child) in zip(mine, mine.dropFirst()) {
                #expect(child.parentID == parent.id, sourceLocation: sourceLocation)
                #expect(
                    (child.startedAt ?? .distantPast) >= (parent.finishedAt ?? .distantFuture), sourceLocation: sourceLocation)
            }
        }
    }

    /// Seconds from each phase task's finish to the claim (start) of the task it handed off to,
    /// for hand-offs made in the finish transaction and claimed at their first attempt.
    static func handOffDelays(_ tasks: [AgentTask]) -> [Double] {
        let byID = Dictionary(uniqueKeysWithValues: tasks.map { ($0.id, $0) })
        return tasks.compactMap { child in
            guard let pid = child.parentID, let parent = byID[pid], let finished = parent.finishedAt,
                let started = child.startedAt,
                child.createdAt == finished, child.attempt == 1
            else { return nil }
            return started.timeIntervalSince(finished)
        }.sorted()
    }

    static func percentile(_ sorted: [Double], _ p: Double) -> Double {
        guard !sorted.isEmpty else { return .nan }
        return sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * p).rounded()))]
    }

    @Test("a 4-item backlog finishes through the daemon, every item in phase order")
    func backlogFinishesInPhaseOrder() async throws {
        let s = try Self.setup(items: 4)
        let daemon = try DaemonProcess(stateDir: s.state, arguments: ["--config", s.config])
        #expect(await daemon.waitUntilReady(), "stderr: \(daemon.stderr)")
        let finished = await waitFor(timeout: 120) { await Self.doneCount(daemon.url) == 4 }
        let view = await Self.pmJSON(daemon.url)
        #expect(finished, "pm: \(String(describing: view))")
        let pm = try #require(await Self.pmJSON(daemon.url))
        #expect(pm["state"] as? String == "idle")
        daemon.signal(SIGTERM)
        #expect(await daemon.waitForExit() == 0)

        let (items, tasks) = try await Self.snapshot(s)
        Self.expectCleanRun(items, tasks, count: 4)
        let stateFile = try #require(FileManager.default.contents(atPath: s.state + "/project_manager_state.json"))
        let written = try #require(try JSONSerialization.jsonObject(with: stateFile) as? [String: Any])
        #expect((written["items_by_state"] as? [String: Int])?["done"] == 4)

        let delays = Self.handOffDelays(tasks)
        #expect(delays.count == 12)
        print(
            "FIGURE hand-off (finished_at -> next started_at) over \(delays.count) hand-offs: "
                + "p50 \(String(format: "%.1f", Self.percentile(delays, 0.5) * 1000)) ms, "
                + "p90 \(String(format: "%.1f", Self.percentile(delays, 0.9) * 1000)) ms, "
                + "max \(String(format: "%.1f", (delays.last ?? .nan) * 1000)) ms")
    }

    @Test("SIGKILL mid-run, restart on the same state dir: no duplicate tasks, every item done; pm status/pause/resume")
    func restartMidRunAndPMCommands() async throws {
        let s = try Self.setup(items: 4)
        // Items 1 and 2 pass spec and impl, then their test tasks hold both workers.
        Self.hold(s, "test")
        var killedRunning: Set<String> = []
        do {
            let daemon = try DaemonProcess(stateDir: s.state, arguments: ["--config", s.config])
            #expect(await daemon.waitUntilReady(), "stderr: \(daemon.stderr)")
            #expect(
                await waitFor(timeout: 60) {
                    let running =
                        (await HTTP.get(daemon.url + "/api/agent/tasks?status=running&limit=100"))?.json?["tasks"]
                        as? [[String: Any]] ?? []
                    let ids = running.compactMap { $0["id"] as? String }
                    guard ids.count == 2, ids.allSatisfy({ FileManager.default.fileExists(atPath: s.shared + "/waiting-\($0)") })
                    else { return false }
                    killedRunning = Set(ids)
                    return true
                })
            #expect(await Self.count(daemon.url, "completed") == 4)
            daemon.signal(SIGKILL)
            #expect(await daemon.waitForExit() == SIGKILL)
        }
        #expect(killedRunning.count == 2)

        let again = try DaemonProcess(stateDir: s.state, arguments: ["--config", s.config])
        #expect(await again.waitUntilReady(), "stderr: \(again.stderr)")
        let url = again.url
        let client = ["--url", url, "--config", s.config]

        // The killed tasks are requeued and claimed again (attempt 2), held at the closed gate.
        #expect(
            await waitFor(timeout: 60) {
                var held = 0
                for id in killedRunning {
                    let t = await HTTP.get(url + "/api/agent/tasks/\(id)")?.json
                    if t?["status"] as? String == "running", (t?["attempt"] as? Int ?? 0) >= 2 { held += 1 }
                }
                return held == killedRunning.count
            })

        let status = try NightshiftBinary.run(["pm", "status"] + client)
        #expect(status.status == 0, "\(status.err)")
        #expect(status.out.contains("project manager  running"))
        #expect(status.out.contains("in flight"))

        let paused = try NightshiftBinary.run(["pm", "pause", "--json"] + client)
        #expect(paused.status == 0, "\(paused.err)")
        let pausedJSON = try JSONSerialization.jsonObject(with: Data(paused.out.utf8)) as? [String: Any]
        #expect(pausedJSON?["state"] as? String == "paused")
        #expect(pausedJSON?["paused"] as? Bool == true)

        // While paused, the held tasks finish but hand off nothing.
        let before = try #require(await HTTP.get(url + "/api/agent/tasks/count")?.json?["total"] as? Int)
        #expect(before == 6)
        try Self.release(s, "test")
        #expect(
            await waitFor(timeout: 60) {
                let running = await Self.count(url, "running")
                let pending = await Self.count(url, "pending")
                return running == 0 && pending == 0
            })
        #expect(await HTTP.get(url + "/api/agent/tasks/count")?.json?["total"] as? Int == before)
        for id in killedRunning {
            #expect(await HTTP.get(url + "/api/agent/tasks/\(id)")?.json?["status"] as? String == "completed")
        }
        let pausedStatus = try NightshiftBinary.run(["pm", "status"] + client)
        #expect(pausedStatus.out.contains("project manager  paused"))

        let resumed = try NightshiftBinary.run(["pm", "resume", "--json"] + client)
        #expect(resumed.status == 0, "\(resumed.err)")
        #expect((try JSONSerialization.jsonObject(with: Data(resumed.out.utf8)) as? [String: Any])?["paused"] as? Bool == false)
        let finished = await waitFor(timeout: 120) { await Self.doneCount(url) == 4 }
        let view = await Self.pmJSON(url)
        #expect(finished, "pm: \(String(describing: view))")
        let final = try NightshiftBinary.run(["pm", "status", "--json"] + client)
        let finalJSON = try JSONSerialization.jsonObject(with: Data(final.out.utf8)) as? [String: Any]
        #expect(finalJSON?["state"] as? String == "idle")
        #expect(finalJSON?["items_by_state"] as? [String: Int] == ["queued": 0, "active": 0, "done": 4, "blocked": 0])
        again.signal(SIGTERM)
        #expect(await again.waitForExit() == 0)

        let (items, tasks) = try await Self.snapshot(s)
        Self.expectCleanRun(items, tasks, count: 4)
        for id in killedRunning {
            let killed = tasks.first { $0.id == id }
            #expect(killed?.phase == "test")
            #expect(killed?.attempt == 2, "the killed attempt was rescued and run once more")
        }
        // The killed attempt and its rerun are the only repeated runs of any task.
        let runs = ((try? String(contentsOfFile: s.shared + "/runs", encoding: .utf8)) ?? "").split(separator: "\n").map {
            $0.split(separator: " ").first.map(String.init) ?? ""
        }
        let repeated = Dictionary(grouping: runs, by: { $0 }).filter { $0.value.count > 1 }.keys
        #expect(Set(repeated) == killedRunning)
    }

    @Test("pm pause/resume against a daemon without a backlog is refused with one clear line")
    func pmDisabled() async throws {
        let dir = try TemporaryDirectory(prefix: "nightshift-e2e")
        let config = try dir.write(
            """
            runner:
              executors:
                default: { command: "/bin/true" }
            project_manager:
              backlog: ""
            """, to: "nightshift.yaml")
        let daemon = try DaemonProcess(stateDir: dir.path("state"), arguments: ["--config", config])
        #expect(await daemon.waitUntilReady(), "stderr: \(daemon.stderr)")
        let paused = try NightshiftBinary.run(["pm", "pause", "--url", daemon.url, "--config", config])
        #expect(paused.status != 0)
        #expect(paused.err.contains("disabled"))
        let status = try NightshiftBinary.run(["pm", "status", "--url", daemon.url, "--config", config])
        #expect(status.status == 0)
        #expect(status.out.contains("project manager  disabled"))
        daemon.signal(SIGTERM)
        #expect(await daemon.waitForExit() == 0)
    }

    @Test("a malformed backlog stops the daemon at startup with file:line and exit code 2")
    func malformedBacklogStopsStartup() async throws {
        let s = try Self.setup(items: 2)
        try Data("1. fine\n2. fine too (after: 5)\n".utf8).write(to: URL(fileURLWithPath: s.backlog))
        let daemon = try DaemonProcess(stateDir: s.state, arguments: ["--config", s.config])
        #expect(await daemon.waitForExit(timeout: 60) == 2)
        #expect(daemon.stderr.contains("\(s.backlog):2"), "stderr: \(daemon.stderr)")
    }
}
