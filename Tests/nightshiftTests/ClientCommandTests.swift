import Foundation
import NightshiftTesting
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The client commands against a real daemon, and against none.
@Suite("client commands", .serialized)
struct ClientCommandTests {
    @Test("a down daemon gives one clear line and a non-zero exit")
    func daemonDown() throws {
        for args in [["status"], ["tasks", "list"], ["tasks", "show", "task_0123456789abcdef"]] {
            let r = try NightshiftBinary.run(args + ["--url", "http://127.0.0.1:9"])
            #expect(r.status == 1)
            #expect(r.err.hasPrefix("nightshift: cannot reach the daemon at http://127.0.0.1:9"))
            #expect(r.err.split(separator: "\n").count == 1)
        }
        let bad = try NightshiftBinary.run(["tasks", "show", "nope", "--url", "http://127.0.0.1:9"])
        #expect(bad.status == 2)
        #expect(bad.err.contains("is not a task id"))
    }

    @Test("tasks list pages by cursor: it prints the next page's command, and --after follows it")
    func listCursor() async throws {
        let dir = try TemporaryDirectory()
        let config = try dir.write(
            """
            runner:
              executors:
                default: { command: "true" }
            project_manager:
              backlog: ""
            """, to: "nightshift.yaml")
        let daemon = try DaemonProcess(stateDir: dir.path("state"), arguments: ["--config", config])
        #expect(await daemon.waitUntilReady())
        let url = ["--url", daemon.url]
        var ids: [String] = []
        for i in 0..<3 {
            let created = try NightshiftBinary.run(["tasks", "create", "--type", "test", "page \(i)"] + url)
            ids.append(try #require(created.out.split(separator: " ").dropFirst().first.map(String.init), "\(created.err)"))
        }
        let first = try NightshiftBinary.run(["tasks", "list", "--type", "test", "--limit", "2"] + url)
        #expect(first.status == 0, "\(first.err)")
        #expect(first.out.contains("2 of 3"))
        let more = try #require(first.out.split(separator: "\n").last.map(String.init))
        #expect(more.hasPrefix("more: nightshift tasks list --after c"), "\(first.out)")
        let cursor = String(more.split(separator: " ").last ?? "")
        let second = try NightshiftBinary.run(["tasks", "list", "--type", "test", "--limit", "2", "--after", cursor] + url)
        #expect(second.status == 0, "\(second.err)")
        #expect(second.out.contains("1 of 3") && !second.out.contains("more:"), "\(second.out)")
        let shown = ids.filter { second.out.contains($0) }
        #expect(shown.count == 1 && !first.out.contains(shown[0]), "the task the first page left: \(second.out)")
        let bad = try NightshiftBinary.run(["tasks", "list", "--after", "nope"] + url)
        #expect(bad.status != 0 && bad.err.contains("after"), "\(bad.err)")
    }

    @Test("create, list, show, decide, log, cancel and retry through the CLI")
    func roundTrip() async throws {
        let dir = try TemporaryDirectory()
        // Asks for a decision until it has one; prints a fake secret; "[fail]" fails.
        let agent = try dir.write(
            """
            echo "token=supersecretvalue123"
            case "$1" in *"[fail]"*) echo failing; exit 4;; esac
            if [ -z "$NIGHTSHIFT_DECISION" ]; then
              printf '{"status":"needs_decision","decision_prompt":"ship it?"}' > "$NIGHTSHIFT_RESULT_FILE"; exit 0
            fi
            echo "decided: $NIGHTSHIFT_DECISION"
            """, to: "agent.sh")
        let config = try dir.write(
            """
            runner:
              max_attempts: 1
              kill_grace: 500ms
              executors:
                default: { command: "/bin/sh \(agent) {direction}" }
                slow: { command: "sleep 300" }
            project_manager:
              backlog: ""
            """, to: "nightshift.yaml")
        let daemon = try DaemonProcess(stateDir: dir.path("state"), arguments: ["--config", config])
        #expect(await daemon.waitUntilReady())
        let url = ["--url", daemon.url]

        let created = try NightshiftBinary.run(["tasks", "create", "--type", "impl", "ask me"] + url)
        #expect(created.status == 0)
        let id = try #require(created.out.split(separator: " ").dropFirst().first.map(String.init))
        #expect(
            await waitFor {
                (try? NightshiftBinary.run(["tasks", "show", id, "--json"] + url).out.contains("\"needs_decision\"")) == true
            })
        let status = try NightshiftBinary.run(["status"] + url)
        #expect(status.status == 0)
        #expect(status.out.contains("ship it?"))
        let decided = try NightshiftBinary.run(["tasks", "decide", id, "yes"] + url)
        #expect(decided.status == 0)
        #expect(
            await waitFor {
                (try? NightshiftBinary.run(["tasks", "show", id, "--json"] + url).out.contains("\"completed\"")) == true
            })
        let log = try NightshiftBinary.run(["tasks", "log", id] + url)
        #expect(log.out.contains("decided: yes"))
        #expect(!log.out.contains("supersecretvalue123"))
        // A decision on a completed task is refused, with the reason, and exit 1.
        let again = try NightshiftBinary.run(["tasks", "decide", id, "no"] + url)
        #expect(again.status == 1)
        #expect(again.err.contains("409"))

        let failing = try NightshiftBinary.run(["tasks", "create", "--type", "test", "break [fail]"] + url)
        let failID = try #require(failing.out.split(separator: " ").dropFirst().first.map(String.init))
        #expect(
            await waitFor {
                (try? NightshiftBinary.run(["tasks", "show", failID, "--json"] + url).out.contains("\"failed\"")) == true
            })
        let listed = try NightshiftBinary.run(["tasks", "list", "--status", "failed"] + url)
        #expect(listed.out.contains(failID))
        #expect(try NightshiftBinary.run(["tasks", "retry", failID] + url).status == 0)

        let slow = try NightshiftBinary.run(["tasks", "create", "--type", "impl", "--executor", "slow", "wait"] + url)
        let slowID = try #require(slow.out.split(separator: " ").dropFirst().first.map(String.init))
        #expect(
            await waitFor {
                (try? NightshiftBinary.run(["tasks", "show", slowID, "--json"] + url).out.contains("\"running\"")) == true
            })
        #expect(try NightshiftBinary.run(["tasks", "cancel", slowID] + url).status == 0)
        let shown = try NightshiftBinary.run(["tasks", "show", slowID, "--json"] + url).out
        #expect(shown.contains("\"cancelled\""))

        daemon.signal(SIGTERM)
        #expect(await daemon.waitForExit() == 0)
    }
}
