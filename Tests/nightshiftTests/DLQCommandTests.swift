import Foundation
import NightshiftCore
import NightshiftTesting
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `nightshift dlq` against a real daemon (real processes, real SQLite, loopback HTTP).
@Suite("dlq command", .serialized)
struct DLQCommandTests {
    static func json(_ text: String) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]) ?? [:]
    }

    @Test("stats, list and reprocess a pipeline task that failed for good: the blocked item resumes and runs to done")
    func pipelineItemResumes() async throws {
        let dir = try TemporaryDirectory()
        let fixed = dir.path("fixed")
        // impl fails until the file `fixed` exists; every other phase passes.
        let agent = try dir.write(
            """
            if [ "$NIGHTSHIFT_TASK_TYPE" = impl ] && [ ! -f "\(fixed)" ]; then echo "build broke"; exit 3; fi
            echo "ok $NIGHTSHIFT_TASK_TYPE"
            """, to: "agent.sh")
        let backlog = try dir.write("1. Add a --json flag\n", to: "backlog.md")
        // No fallback poll: the runner must hear the reprocessed event to start the task again.
        let config = try dir.write(
            """
            runner:
              max_attempts: 1
              poll_interval: 1h
              executors:
                default: { command: "/bin/sh \(agent) {direction}" }
            project_manager:
              backlog: \(backlog)
              phases: [impl, test]
            """, to: "nightshift.yaml")
        let daemon = try DaemonProcess(stateDir: dir.path("state"), arguments: ["--config", config])
        #expect(await daemon.waitUntilReady(), "\(daemon.stderr)")
        let url = ["--url", daemon.url]

        var id = ""
        #expect(
            try await waitFor {
                let list = Self.json(try NightshiftBinary.run(["dlq", "list", "--json"] + url).out)
                id = ((list["entries"] as? [[String: Any]])?.first?["id"] as? String) ?? ""
                return !id.isEmpty
            }, "the impl task fails for good")

        let stats = try NightshiftBinary.run(["dlq", "stats"] + url)
        #expect(stats.status == 0, "\(stats.err)")
        #expect(stats.out.contains("dead-letter queue: 1 task(s)"), "\(stats.out)")
        #expect(stats.out.contains("exit_code") && stats.out.contains("impl"), "\(stats.out)")
        #expect(stats.out.contains("by run:"), "\(stats.out)")
        #expect(
            stats.out.split(separator: "\n").contains { $0.contains("run_") && $0.contains(id) }, "the daemon's run: \(stats.out)"
        )
        let statsJSON = Self.json(try NightshiftBinary.run(["dlq", "stats", "--json"] + url).out)
        #expect(statsJSON["total"] as? Int == 1)
        #expect((statsJSON["by_item"] as? [[String: Any]])?.first?["key"] as? String == "1")
        let byRun = (statsJSON["by_run"] as? [[String: Any]])?.first?["key"] as? String
        #expect(byRun.map(RunID.isValid) == true, "\(String(describing: byRun))")
        let list = try NightshiftBinary.run(["dlq", "list", "--error-class", "exit_code"] + url)
        #expect(list.status == 0 && list.out.contains(id) && list.out.contains("1 of 1"), "\(list.out)")
        #expect(try NightshiftBinary.run(["dlq", "list", "--error-class", "timeout"] + url).out.contains("0 of 0"))

        let dry = try NightshiftBinary.run(["dlq", "reprocess", id, "--dry-run"] + url)
        #expect(dry.status == 0, "\(dry.err)")
        #expect(dry.out.contains("dry run: would reprocess 1 task(s); nothing changed"), "\(dry.out)")
        #expect(dry.out.contains(id) && dry.out.contains("items that would resume: 1"), "\(dry.out)")
        let afterDry = Self.json(try NightshiftBinary.run(["tasks", "show", id, "--json"] + url).out)
        #expect(afterDry["status"] as? String == "failed", "a dry run changes nothing")

        _ = FileManager.default.createFile(atPath: fixed, contents: nil)
        let done = try NightshiftBinary.run(["dlq", "reprocess", id, "--reason", "fixed the build"] + url)
        #expect(done.status == 0, "\(done.err)")
        #expect(done.out.contains("reprocessed 1 task(s)") && done.out.contains("resumed items: 1"), "\(done.out)")
        #expect(
            try await waitFor {
                let pm = Self.json(try NightshiftBinary.run(["pm", "--json"] + url).out)
                return (pm["items_by_state"] as? [String: Any])?["done"] as? Int == 1
            }, "the item goes on from the reprocessed task to done")
        let history = try NightshiftBinary.run(["tasks", "history", id, "--json"] + url).out
        #expect(history.contains("\"reprocessed\"") && history.contains("fixed the build"), "\(history)")
        let tasks = Self.json(try NightshiftBinary.run(["tasks", "list", "--json"] + url).out)["tasks"] as? [[String: Any]] ?? []
        #expect(Set(tasks.map { "\($0["phase"] ?? "")=\($0["status"] ?? "")" }) == ["impl=completed", "test=completed"])
        #expect(try NightshiftBinary.run(["dlq", "stats"] + url).out.contains("dead-letter queue: empty"))

        daemon.signal(SIGTERM)
        #expect(await daemon.waitForExit() == 0)
    }

    @Test("cleanup deletes old dead letters and their logs, keeps one an open task depends on; --dry-run deletes nothing")
    func cleanup() async throws {
        let dir = try TemporaryDirectory()
        let config = try dir.write(
            """
            runner:
              max_attempts: 1
              executors:
                default: { command: "echo failing; exit 5" }
            project_manager:
              backlog: ""
            """, to: "nightshift.yaml")
        let state = dir.path("state")
        let daemon = try DaemonProcess(stateDir: state, arguments: ["--config", config])
        #expect(await daemon.waitUntilReady(), "\(daemon.stderr)")
        let url = ["--url", daemon.url]
        func create(_ direction: String) throws -> String {
            let r = try NightshiftBinary.run(["tasks", "create", "--type", "test", direction] + url)
            return r.out.split(separator: " ").dropFirst().first.map(String.init) ?? ""
        }
        let needed = try create("needed")
        let gone = try create("gone")
        #expect(
            try await waitFor {
                Self.json(try NightshiftBinary.run(["dlq", "stats", "--json"] + url).out)["total"] as? Int == 2
            })
        let waiting = await HTTP.send(
            "POST", daemon.url + "/api/agent/tasks",
            json: #"{"direction": "waits", "task_type": "impl", "depends_on": ["\#(needed)"]}"#)
        #expect(waiting?.status == 201)
        let log = (state as NSString).appendingPathComponent("tasks/\(gone).log")
        #expect(FileManager.default.fileExists(atPath: log))

        let dry = try NightshiftBinary.run(["dlq", "cleanup", "--older-than", "1ms", "--dry-run"] + url)
        #expect(dry.status == 0, "\(dry.err)")
        #expect(dry.out.contains("would delete 1 dead-letter task(s)") && dry.out.contains(gone), "\(dry.out)")
        #expect(dry.out.contains("kept \(needed): open task"), "\(dry.out)")
        #expect(FileManager.default.fileExists(atPath: log))
        #expect(try NightshiftBinary.run(["tasks", "show", gone] + url).status == 0)

        let real = try NightshiftBinary.run(["dlq", "cleanup", "--older-than", "1ms"] + url)
        #expect(real.status == 0 && real.out.contains("deleted 1 dead-letter task(s)"), "\(real.out) \(real.err)")
        #expect(!FileManager.default.fileExists(atPath: log), "its log went with it")
        #expect(try NightshiftBinary.run(["tasks", "show", gone] + url).status == 1)
        #expect(try NightshiftBinary.run(["tasks", "show", needed] + url).status == 0)
        #expect(try NightshiftBinary.run(["dlq", "cleanup", "--older-than", "30d"] + url).out.contains("deleted 0"))

        daemon.signal(SIGTERM)
        #expect(await daemon.waitForExit() == 0)
    }

    @Test("bad input: one line and exit 2, nothing changed; a down daemon: exit 1")
    func badInput() async throws {
        let down = ["--url", "http://127.0.0.1:9"]
        for args in [
            ["dlq", "reprocess"], ["dlq", "reprocess", "--all", "task_0123456789abcdef"], ["dlq", "reprocess", "nope"],
            ["dlq", "reprocess", "--all", "--error-class", "timeout"], ["dlq", "reprocess", "--error-class", "Bad Class"],
            ["dlq", "cleanup"], ["dlq", "cleanup", "--older-than", "30x"], ["dlq", "cleanup", "--older-than", "0d"],
            ["dlq", "list", "--limit", "0"], ["dlq", "list", "--error-class", "a b"],
        ] {
            let r = try NightshiftBinary.run(args + down)
            #expect(r.status == 2, "\(args): \(r.status) \(r.err)")
            #expect(r.err.hasPrefix("nightshift: ") && r.err.split(separator: "\n").count == 1, "\(args): \(r.err)")
        }
        let unreachable = try NightshiftBinary.run(["dlq", "stats"] + down)
        #expect(unreachable.status == 1 && unreachable.err.contains("cannot reach the daemon"))

        let dir = try TemporaryDirectory()
        let config = try dir.write(
            "runner: { executors: { default: { command: \"true\" } } }\nproject_manager: { backlog: \"\" }\n",
            to: "nightshift.yaml")
        let daemon = try DaemonProcess(stateDir: dir.path("state"), arguments: ["--config", config])
        #expect(await daemon.waitUntilReady(), "\(daemon.stderr)")
        let url = ["--url", daemon.url]
        let created = try NightshiftBinary.run(["tasks", "create", "--type", "impl", "passes"] + url)
        let id = try #require(created.out.split(separator: " ").dropFirst().first.map(String.init))
        #expect(
            try await waitFor { (try NightshiftBinary.run(["tasks", "show", id, "--json"] + url).out).contains("\"completed\"") })
        for (args, says) in [
            (["dlq", "reprocess", "task_00000000deadbeef"], "404"), (["dlq", "reprocess", id], "only failed tasks"),
        ] {
            let r = try NightshiftBinary.run(args + url)
            #expect(r.status == 2, "\(args): \(r.err)")
            #expect(r.err.contains(says) && r.err.split(separator: "\n").count == 1, "\(args): \(r.err)")
        }
        let shown = Self.json(try NightshiftBinary.run(["tasks", "show", id, "--json"] + url).out)
        #expect(shown["status"] as? String == "completed", "a refused reprocess changes nothing")
        daemon.signal(SIGTERM)
        #expect(await daemon.waitForExit() == 0)
    }
}
