import Foundation
import NightshiftCore
import NightshiftTesting
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The client commands' tables against a real daemon: they fit the width ($COLUMNS, else 100
/// when stdout is not a terminal), mark a cut with …, and `--json` keeps the full text.
@Suite("table output", .serialized, .timeLimit(.minutes(3)))
struct TableOutputTests {
    static let prompt =
        "Should the migration rewrite every row of the orders table tonight, or wait for the maintenance window on Sunday? END-OF-PROMPT"

    static func run(_ args: [String], columns: String) throws -> (status: Int32, out: String, err: String) {
        var env = DaemonDiscoveryTests.cleanEnvironment
        env["COLUMNS"] = columns
        return try NightshiftBinary.run(args, environment: env)
    }

    static func widest(_ text: String) -> Int { text.split(separator: "\n").map { TextTable.width(of: String($0)) }.max() ?? 0 }

    @Test("tasks list, status and issues fit 100 columns with … cuts; a wide terminal shows everything; --json is whole")
    func tablesFit() async throws {
        let dir = try TemporaryDirectory(prefix: "nightshift-tables")
        let agent = try dir.write(
            """
            if [ -z "$NIGHTSHIFT_DECISION" ]; then
              printf '{"status":"needs_decision","decision_prompt":"%s"}' "$PROMPT" > "$NIGHTSHIFT_RESULT_FILE"
            fi
            exit 0
            """, to: "agent.sh")
        let config = try dir.write(
            """
            runner:
              executors:
                default: { command: "/bin/sh \(agent) {direction}", env: { PROMPT: "\(Self.prompt)" } }
                ghost: { command: "/nonexistent/agent-cli {direction}" }
            project_manager: { backlog: "" }
            monitor: { interval: 200ms, thresholds: { disk_min_free: 0 } }
            """, to: "nightshift.yaml")
        let daemon = try DaemonProcess(stateDir: dir.path("state"), arguments: ["--config", config])
        #expect(await daemon.waitUntilReady(), "\(daemon.stderr)")
        let url = ["--url", daemon.url]
        let direction =
            "Rewrite the importer so that every malformed row is reported with its line number and the reason, then END-OF-DIRECTION"
        let created = try NightshiftBinary.run(["tasks", "create", "--type", "impl", direction] + url)
        let id = try #require(created.out.split(separator: " ").dropFirst().first.map(String.init), "\(created.err)")
        #expect(
            await waitFor {
                (try? NightshiftBinary.run(["tasks", "show", id, "--json"] + url).out.contains("\"needs_decision\"")) == true
            })

        // Not a terminal and no $COLUMNS: 100 columns.
        let list = try Self.run(["tasks", "list"] + url, columns: "")
        #expect(list.status == 0)
        #expect(Self.widest(list.out) <= 100, "\(list.out)")
        let header = try #require(list.out.split(separator: "\n").first)
        #expect(
            header.hasPrefix("ID  ") && header.contains("  ITEM  PHASE  CREATED  ") && header.hasSuffix("  DIRECTION"),
            "\(header)")
        let row = try #require(list.out.split(separator: "\n").first { $0.hasPrefix(id) })
        #expect(row.hasSuffix("…") && !row.contains("END-OF-DIRECTION"), "\(row)")
        #expect(row.contains("  -     impl   "), "no backlog item; outside the pipeline the phase column shows the type: \(row)")
        let wide = try Self.run(["tasks", "list"] + url, columns: "300")
        #expect(wide.out.contains(direction), "\(wide.out)")
        #expect(try Self.run(["tasks", "list", "--json"] + url, columns: "40").out.contains(direction))
        let narrow = try Self.run(["tasks", "list"] + url, columns: "95")
        #expect(Self.widest(narrow.out) <= 95 && narrow.out.contains("…"), "\(narrow.out)")

        let status = try Self.run(["status"] + url, columns: "")
        #expect(Self.widest(status.out) <= 100, "\(status.out)")
        let waiting = try #require(status.out.split(separator: "\n").first { $0.hasPrefix("  \(id)") }, "\(status.out)")
        #expect(waiting.hasSuffix("…") && waiting.contains("Should the migration"), "\(waiting)")
        #expect(try Self.run(["status"] + url, columns: "300").out.contains(Self.prompt))
        #expect(try Self.run(["status", "--json"] + url, columns: "40").out.contains(Self.prompt))

        // The monitor finds the missing executor: the issue's row, then its suggested action.
        #expect(await waitFor { (try? NightshiftBinary.run(["issues"] + url).out.contains("executor_missing")) == true })
        let issues = try Self.run(["issues"] + url, columns: "")
        #expect(Self.widest(issues.out) <= 100, "\(issues.out)")
        let lines = issues.out.split(separator: "\n").map(String.init)
        let at = try #require(lines.firstIndex { $0.contains("executor_missing") }, "\(issues.out)")
        #expect(lines.indices.contains(at + 1) && lines[at + 1].hasPrefix("    → "), "\(issues.out)")
        let action = try #require(
            (try JSONSerialization.jsonObject(with: Data(try Self.run(["issues", "--json"] + url, columns: "").out.utf8))
                as? [String: Any])
                .flatMap {
                    ($0["issues"] as? [[String: Any]])?.first { $0["condition"] as? String == "executor_missing" }?[
                        "suggested_action"] as? String
                })
        let wideIssues = try Self.run(["issues"] + url, columns: "400")
        #expect(wideIssues.out.contains("    → " + action), "\(wideIssues.out)")

        daemon.signal(SIGTERM)
        #expect(await daemon.waitForExit() == 0)
    }
}
