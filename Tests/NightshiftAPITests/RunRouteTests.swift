import Foundation
import HummingbirdTesting
import NightshiftCore
import NightshiftRuntime
import Testing

@Suite("API: runs")
struct RunRouteTests {
    /// Writes a run's `run.json` (and a summary when `ended`) under the harness's state dir.
    static func writeRun(_ h: APIHarness, _ id: String, startedAt: Date, ended: Bool) throws {
        let files = try RunFiles(paths: h.paths.run(id))
        var info = RunInfo(
            id: id, mode: .full, budgetUSD: 2, target: "/repo", backlog: "b.md", gitSHA: "abc", configDigest: "d", host: "h",
            startedAt: startedAt, starts: 1)
        if ended {
            info.endedAt = startedAt.addingTimeInterval(60)
            info.state = .success
            var summary = RunSummary.build(run: info, tasks: [], attempts: [:], items: [], decisions: [], now: startedAt)
            summary.result = .warn
            try AtomicFile.writeJSON(summary, to: files.paths.summaryJSON)
        }
        try files.write(info)
    }

    @Test("GET /api/agent/runs lists runs newest first; /runs/{id} and /runs/latest show one")
    func listAndShow() async throws {
        let h = try APIHarness()
        let old = "run_20261130_220000_aaaa"
        let new = "run_20261201_220000_bbbb"
        try Self.writeRun(h, old, startedAt: Timestamp.parse("2026-11-30T22:00:00Z")!, ended: true)
        try Self.writeRun(h, new, startedAt: Timestamp.parse("2026-12-01T22:00:00Z")!, ended: false)
        try await h.test { client in
            let list = try await client.getJSON("/api/agent/runs")
            #expect(list["runs"][0]["id"].string == new)
            #expect(list["runs"][0]["state"].string == "RUNNING")
            #expect(list["runs"][0]["result"].isNull)
            #expect(list["runs"][1]["id"].string == old)
            #expect(list["runs"][1]["result"].string == "WARN")
            #expect(list["runs"][1]["tasks_run"].int == 0)
            let one = try await client.getJSON("/api/agent/runs/\(old)")
            #expect(one["run"]["id"].string == old)
            #expect(one["run"]["budget_usd"].double == 2)
            #expect(one["summary"]["result"].string == "WARN")
            let latest = try await client.getJSON("/api/agent/runs/latest")
            #expect(latest["run"]["id"].string == new)
            #expect(latest["summary"].isNull)
        }
    }

    @Test("a malformed run id is a 422 naming the form; an unknown one a 404; no runs at all, latest is a 404")
    func badIDs() async throws {
        let h = try APIHarness()
        try await h.test { client in
            #expect(try await client.get("/api/agent/runs/latest").status == .notFound)
            let bad = try await client.get("/api/agent/runs/..%2Fetc")
            #expect(bad.status == .unprocessableContent)
            #expect(bad.text.contains("run_YYYYMMDD_HHMMSS_xxxx"))
            #expect(try await client.get("/api/agent/runs/run_20261201_220000_zzzz").status == .notFound)
            let empty = try await client.getJSON("/api/agent/runs")
            #expect(empty["runs"].array?.isEmpty == true)
        }
    }
}
