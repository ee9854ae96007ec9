import Foundation
import NightshiftCore
import NightshiftStore
import NightshiftTesting
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Phase output contracts as an operator meets them: `scripts/demo_agent.sh`'s
/// `[contract-miss]` through a real daemon (the loop the RUNBOOK describes, and the history
/// `nightshift tasks history` prints), and `serve` refusing a bad contract.
@Suite("demo agent [contract-miss]", .serialized, .timeLimit(.minutes(3)))
struct DemoAgentContractTests {
    static let headings = ["## Verification", "## Risks", "## Known gaps"]

    @Test("the first spec of each item has no sections, later ones have all three; other task types ignore the marker")
    func missesOncePerItem() throws {
        let dir = try TemporaryDirectory(prefix: "nightshift-demo-agent")
        let direction = "Write a spec.\n\nItem: Add a flag [contract-miss]"
        func summary(_ type: String, _ item: String, _ direction: String = direction) throws -> String {
            try #require(
                DemoAgentReviewFailTests.agent(type: type, item: item, state: dir.path, direction: direction)["summary"]
                    as? String)
        }
        let contract = PhaseContract(summary: .init(headings: Self.headings))
        #expect(!contract.missing(summary: try summary("impl", "1"), files: [:]).isEmpty, "impl ignores it")
        #expect(contract.missing(summary: try summary("spec", "1"), files: [:]).count == 3)
        #expect(contract.missing(summary: try summary("spec", "1"), files: [:]).isEmpty)
        #expect(contract.missing(summary: try summary("spec", "2"), files: [:]).count == 3)
        #expect(contract.missing(summary: try summary("spec", "3", "no marker"), files: [:]).count == 3)
    }

    @Test(
        "through the daemon: the first spec misses its sections, spec iteration 2 is told which and passes, the item is done; history shows it"
    )
    func loopsBackToSpecOnce() async throws {
        let dir = try TemporaryDirectory(prefix: "nightshift-demo-agent")
        let backlog = try dir.write("1. Add a --json flag to the report command [contract-miss]\n", to: "backlog.md")
        let config = try dir.write(
            """
            runner:
              executors:
                default: { command: "bash \(DemoAgentReviewFailTests.script) {direction}", env: { DEMO_AGENT_SPEED: "0" } }
            project_manager:
              backlog: \(backlog)
              max_iterations: 3
              contracts:
                spec:
                  summary:
                    headings: ["## Verification", "## Risks", "## Known gaps"]
            """, to: "nightshift.yaml")
        let state = dir.path("state")
        let daemon = try DaemonProcess(stateDir: state, arguments: ["--config", config])
        #expect(await daemon.waitUntilReady(), "\(daemon.stderr)")
        let done = await waitFor(timeout: 90) {
            ((await HTTP.get(daemon.url + "/api/agent/pm"))?.json?["items_by_state"] as? [String: Any])?["done"] as? Int == 1
        }
        let pm = await HTTP.get(daemon.url + "/api/agent/pm")?.json
        #expect(done, "pm: \(String(describing: pm))")

        let store = try SQLiteTaskStore(stateDir: state)
        let tasks = try await store.list(TaskQuery(limit: 100)).tasks.sorted { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) }
        #expect(
            tasks.map { "\($0.phase ?? "-")/\($0.iteration ?? 0)/\($0.status.rawValue)" } == [
                "spec/1/failed", "spec/2/completed", "impl/2/completed", "test/2/completed", "review/2/completed",
            ])
        guard tasks.count == 5 else { return }
        let missing = Self.headings.map { "heading \"\($0)\" in the summary" }
        #expect(tasks[0].errorClass == "contract_unmet")
        for part in missing { #expect(tasks[1].direction.contains(part), "\(part)") }

        // The operator's view of the miss: the API's history and `nightshift tasks history`.
        let events = try #require(await HTTP.get(daemon.url + "/api/agent/tasks/\(tasks[0].id)/events")?.json)
        let finished = try #require((events["events"] as? [[String: Any]])?.first { $0["kind"] as? String == "finished" })
        let detail = try #require(finished["detail"] as? [String: Any])
        #expect(detail["error_class"] as? String == "contract_unmet")
        #expect(detail["contract"] as? String == "unmet")
        #expect(detail["contract_missing"] as? [String] == missing)
        let history = try NightshiftBinary.run(
            ["tasks", "history", tasks[0].id, "--url", daemon.url], environment: ["COLUMNS": "1000"])
        #expect(history.status == 0, "\(history.err)")
        #expect(history.out.contains("error_class=contract_unmet"), "\(history.out)")
        #expect(history.out.contains("contract=unmet"), "\(history.out)")
        #expect(history.out.contains("contract_missing=" + missing.joined(separator: "; ")), "\(history.out)")
        let passed = try NightshiftBinary.run(
            ["tasks", "history", tasks[1].id, "--url", daemon.url], environment: ["COLUMNS": "1000"])
        #expect(passed.out.contains("contract=met"), "\(passed.out)")
        daemon.signal(SIGTERM)
        #expect(await daemon.waitForExit() == 0)
    }

    @Test(
        "serve refuses a bad contract with exit 2, naming the key and the reason",
        arguments: [
            (
                "project_manager:\n  contracts:\n    deploy: { summary: { headings: [\"## X\"] } }\n",
                "nightshift: config error: project_manager.contracts.deploy: not a phase (phases: spec, impl, test, review)\n"
            ),
            (
                "project_manager:\n  contracts:\n    spec:\n      summary: { patterns: [\"(unclosed\"] }\n",
                "nightshift: config error: project_manager.contracts.spec.summary.patterns[0]: is not a valid regular expression"
            ),
            (
                "project_manager:\n  contracts:\n    spec:\n      files: { \"../spec.md\": {} }\n",
                "nightshift: config error: project_manager.contracts.spec.files.../spec.md: must stay inside the item's worktree"
            ),
        ])
    func serveRefusesBadContract(yaml: String, expected: String) throws {
        let dir = try TemporaryDirectory(prefix: "nightshift-contract-config")
        let config = try dir.write(yaml, to: "nightshift.yaml")
        let r = try NightshiftBinary.run(["serve", "--config", config, "--state-dir", dir.path("state")])
        #expect(r.status == 2)
        #expect(r.err.hasPrefix(expected), "\(r.err)")
    }
}
