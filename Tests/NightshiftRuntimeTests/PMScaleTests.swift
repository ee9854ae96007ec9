import Foundation
import NightshiftCore
import NightshiftRuntime
import NightshiftStore
import NightshiftTesting
import Testing

/// A project-manager pass costs the same for a large backlog as for a small one: it reads the
/// items it starts and the active ones, never the whole backlog, and the state file it writes
/// stays small and is rewritten only when what it shows changes.
@Suite("ProjectManager at scale", .timeLimit(.minutes(3)))
struct ProjectManagerScaleTests {
    static func backlog(_ n: Int) -> String { (1...n).map { "\($0). Item number \($0)\n" }.joined() }

    /// A harness with one `impl` phase and four items in parallel; no runner runs, so the
    /// started items stay active. Its clock is frozen unless the test moves it.
    static func harness(items: Int, clock: MutableNow = MutableNow()) throws -> PMHarness {
        try PMHarness(backlog: backlog(items), agent: "exit 0", clock: clock) {
            $0.projectManager.phases = ["impl"]
            $0.projectManager.parallelItems = 4
            $0.runner.workers = 4
        }
    }

    @Test("a pass over a 5,000-item backlog reads only the items it starts and the active ones")
    func passReadsOnlyWhatItNeeds() async throws {
        let h = try Self.harness(items: 5000)
        let counting = PMCountingStore(h.store)
        let pm = ProjectManager(env: h.env, pipeline: counting, workspace: nil)
        try await pm.prepare()
        counting.reset()

        let first = try await pm.runOnce()
        #expect(first.started == ["1", "2", "3", "4"])
        #expect(counting.calls("items") == 0, "a pass never lists the whole backlog")
        // 4 startable + 4 active in the overview; nothing else.
        #expect(counting.itemsRead <= 8, "read \(counting.itemsRead) items")

        counting.reset()
        let second = try await pm.runOnce(periodic: false)
        #expect(second.started.isEmpty)
        #expect(counting.calls("items") == 0)
        #expect(counting.itemsRead <= 4, "read \(counting.itemsRead) items")

        let state = try #require(h.stateFile())
        #expect(state["items_by_state"] as? [String: Int] == ["queued": 4996, "active": 4, "done": 0, "blocked": 0])
        #expect((state["in_flight"] as? [Any])?.count == 4)
        #expect(state["items"] == nil, "the state file does not list every item")
        let size = try #require(try FileManager.default.attributesOfItem(atPath: h.paths.projectManagerState)[.size] as? Int)
        #expect(size < 8 * 1024, "the state file is \(size) bytes")

        // The API's view still has every item.
        let status = try JSONSerialization.jsonObject(with: JSONEncoder.nightshift().encode(try await pm.status()))
        #expect(((status as? [String: Any])?["items"] as? [Any])?.count == 5000)
    }

    @Test("the state file is rewritten only when what it shows changes, or after state_refresh")
    func stateFileWrittenOnChange() async throws {
        let clock = MutableNow()
        let h = try Self.harness(items: 6, clock: clock)
        let pm = h.projectManager()
        try await pm.prepare()
        try await pm.runOnce()
        let written = try #require(h.stateFile()?["updated_at"] as? String)

        clock.advance(by: 1)
        try await pm.runOnce()
        try await pm.runOnce(periodic: false)
        #expect(h.stateFile()?["updated_at"] as? String == written, "nothing changed: not rewritten")

        try await pm.pause()
        clock.advance(by: 1)
        try await pm.runOnce()
        let paused = try #require(h.stateFile())
        #expect(paused["state"] as? String == "paused")
        #expect(paused["updated_at"] as? String != written)

        let refreshed = try #require(paused["updated_at"] as? String)
        clock.advance(by: pm.configuration.stateRefresh)
        try await pm.runOnce()
        #expect(h.stateFile()?["updated_at"] as? String != refreshed, "rewritten after state_refresh to show it is alive")

        // A pass woken by a task's end holds a change back for state_min_interval; the ticker's writes it.
        try await pm.resume()
        try await pm.runOnce(periodic: false)
        #expect(h.stateFile()?["state"] as? String == "paused", "held back")
        try await pm.runOnce()
        #expect(h.stateFile()?["state"] as? String == "running")
    }

    @Test("the state file lists at most the limit of blocked items and progress lines; the counts cover all")
    func stateFileBounded() async throws {
        let h = try Self.harness(items: 60)
        let pm = h.projectManager()
        try await pm.prepare()
        let limit = pm.configuration.stateListLimit
        // Start and cancel items until more than the limit are blocked.
        var blocked = 0
        while blocked < limit + 5 {
            try await pm.runOnce()
            for item in try await h.items() where item.state == .active {
                _ = try await h.env.ledger.cancel(
                    id: try #require(item.currentTaskID), reason: "test", by: "test", now: h.env.now())
                blocked += 1
            }
        }
        try await pm.runOnce()
        let state = try #require(h.stateFile())
        let counts = try #require(state["items_by_state"] as? [String: Int])
        #expect(counts["blocked"] == blocked)
        #expect((state["blocked"] as? [Any])?.count == limit)
        let recent = try #require(state["recent"] as? [[String: Any]])
        #expect(recent.count == limit)
        #expect(recent.contains { $0["event"] as? String == "blocked" })
    }

    @Test("an edit within the same second that keeps the backlog's size and inode is still imported")
    func sameSizeEditIsSeen() async throws {
        let h = try Self.harness(items: 1)
        let pm = h.projectManager()
        try await pm.prepare()
        try await pm.pause()
        // Same length, same inode (not an atomic replace), right after the last read.
        try "1. Item number X\n".write(toFile: h.backlogPath, atomically: false, encoding: .utf8)
        try await pm.runOnce()
        #expect(try await h.items().map(\.title) == ["Item number X"])
        try "1. Item number Y\n".write(toFile: h.backlogPath, atomically: false, encoding: .utf8)
        try await pm.runOnce()
        #expect(try await h.items().map(\.title) == ["Item number Y"])
    }

    @Test("every item's end is logged once, even when its agent finishes within the pass that started it")
    func quickItemsAreLogged() async throws {
        let h = try PMHarness(backlog: Self.backlog(12), agent: "exit 0") {
            $0.projectManager.phases = ["impl"]
            $0.projectManager.parallelItems = 4
            $0.runner.workers = 4
        }
        let log = h.paths.componentLog("project_manager")
        func lines() -> [Substring] {
            ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n")
        }
        try await h.run(h.projectManager()) {
            try await h.waitUntilSettled()
            try await RuntimeHarness.waitUntil("the backlog's end to be logged", timeout: 30) {
                lines().contains { $0.contains("backlog finished: 12 item(s) done, 0 blocked") }
            }
        }
        for n in 1...12 {
            #expect(lines().filter { $0.contains("item \(n) \"Item number \(n)\" done") }.count == 1, "item \(n)")
        }
        let recent = try #require(h.stateFile()?["recent"] as? [[String: Any]])
        #expect(recent.first?["event"] as? String == "done")
    }
}
