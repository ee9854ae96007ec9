import Foundation
import NightshiftCore
import NightshiftRuntime
import NightshiftTesting
import Testing

/// The morning report as the daemon writes it when a run ends, and `nightshift open`.
@Suite("Morning report: written at the run's end and linked", .serialized)
struct MorningReportEndToEndTests {
    @Test("a run's end writes report.html (with its SVG), report.md and report.json; the session and status reports link it")
    func writtenAtTheEnd() throws {
        let dir = try TemporaryDirectory()
        let state = dir.path("state")
        let backlog = try dir.write("1. first item\n2. second item\n", to: "backlog.md")
        let config = try dir.write(
            """
            project_manager: { backlog: "\(backlog)" }
            runner: { executors: { default: { command: "true {direction}" } }, max_attempts: 1 }
            monitor: { interval: 1h, api_probe: false }
            """, to: "nightshift.yaml")
        let r = try NightshiftBinary.run(
            ["run", "--smoke", "--config", config, "--state-dir", state, "--no-api"],
            environment: ["NIGHTSHIFT_LOG_STDERR": "0"], cwd: dir.path(""))
        #expect(r.status == 0, "\(r.out)\(r.err)")
        let session = try String(contentsOfFile: state + "/reports/session_report.md", encoding: .utf8)
        let id = try #require(SessionReport.parseKeys(session)["RUN_ID"])
        let run = state + "/runs/" + id
        #expect(session.contains("- morning report: `runs/\(id)/report.html`"), "\(session)")
        let html = try String(contentsOfFile: run + "/report.html", encoding: .utf8)
        #expect(html.contains("<svg") && html.contains("id=\"waterfall-svg\""))
        #expect(html.contains("Shipped 2 of 2 item(s)"))
        #expect(!html.contains("This run is still going"), "the run ended")
        let md = try String(contentsOfFile: run + "/report.md", encoding: .utf8)
        #expect(md.hasPrefix("# Morning report — \(id)"))
        let report = try JSONDecoder.nightshift().decode(
            MorningReport.self, from: try Data(contentsOf: URL(fileURLWithPath: run + "/report.json")))
        #expect(report.run.id == id && !report.inProgress)
        #expect(report.shipped.map(\.key) == ["1", "2"])
        #expect(report.lanes.flatMap { $0 }.count == 8, "one bar per attempt of the 8 phase tasks")
        #expect(!report.nextSteps.isEmpty)
        let status = try String(contentsOfFile: state + "/pipeline_status_report.txt", encoding: .utf8)
        #expect(status.contains("Morning report: runs/\(id)/report.html"), "\(status)")
    }

    @Test("nightshift open prints the dashboard's URL, or a run's report URL; exit 1 when no daemon answers")
    func open() throws {
        let down = try NightshiftBinary.run(["open", "--url", "http://127.0.0.1:9"])
        #expect(down.out == "http://127.0.0.1:9/\n")
        #expect(down.status == 1)
        #expect(down.err.contains("no daemon answers at http://127.0.0.1:9"))
        let report = try NightshiftBinary.run(["open", "--url", "http://127.0.0.1:9", "--run", "latest"])
        #expect(report.out == "http://127.0.0.1:9/runs/latest\n")
        let bad = try NightshiftBinary.run(["open", "--url", "http://127.0.0.1:9", "--run", "yesterday"])
        #expect(bad.status == 2)
    }
}
