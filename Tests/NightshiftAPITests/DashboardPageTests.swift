import Foundation
import HTTPTypes
import HummingbirdTesting
import NightshiftCore
import NightshiftStore
import NightshiftTesting
import Testing

@Suite("Dashboard: pages, escaping, filters, bulk actions")
struct DashboardPageTests {
    static let probe = "<script>alert('x')</script><img src=x onerror=alert(1)>"

    @Test("tasks land in their sections: Needs you (prompt and answer form), Running, Pending with why, Finished")
    func sections() async throws {
        let h = try APIHarness()
        let asking = try await h.needsDecision("Which database?")
        let running = try await h.running("running now")
        let failed = try await h.failed("broke")
        let done = try await h.completed("fine")
        let dep = try await h.store.create(.make(direction: "after the running one", dependsOn: [running.id], now: h.clock.now))
        try await h.test { client in
            var page = PageClient(client)
            let r = try await page.get("/")
            #expect(r.status == .ok)
            let html = r.text
            func section(_ name: String) -> String {
                guard let start = html.range(of: "data-section=\"\(name)\" data-limit") else { return "" }
                return String(html[start.upperBound...].prefix { _ in true }.components(separatedBy: "</tbody>")[0])
            }
            #expect(html.contains("id=\"need-\(asking.id)\""))
            #expect(html.contains("Which database?"))
            #expect(html.contains("action=\"/dashboard/tasks/\(asking.id)/decide\""))
            #expect(html.contains("id=\"need-\(failed.id)\""), "failed for good is in the rail")
            #expect(section("running").contains("row-\(running.id)"))
            #expect(section("pending").contains("row-\(dep.id)"))
            #expect(section("pending").contains("dependency: waits for \(running.id) (running)"))
            #expect(section("finished").contains("row-\(done.id)") && section("finished").contains("row-\(failed.id)"))
            #expect(html.contains("data-last-event=\""))
        }
    }

    @Test("a <script> in a direction, a prompt, a decision and a filter is shown as text everywhere")
    func escaping() async throws {
        let h = try APIHarness()
        let asking = try await h.needsDecision(Self.probe, direction: Self.probe)
        let decided = try await h.needsDecision("ok?", direction: "decided")
        _ = try await h.store.decide(id: decided.id, decision: Self.probe, priority: nil, by: "test", now: h.clock.now)
        try await h.test { client in
            var page = PageClient(client)
            for uri in [
                "/", "/dashboard/tasks/\(asking.id)", "/dashboard/tasks/\(decided.id)", "/dashboard/fragments/needs",
                "/?item=%3Cscript%3Ealert(1)%3C%2Fscript%3E",
            ] {
                let r = try await page.get(uri)
                #expect(r.status == .ok, "\(uri)")
                #expect(!r.text.contains("<script>alert"), "\(uri) reflects a script")
                #expect(!r.text.contains("<img src=x"), "\(uri) reflects an image")
            }
            let task = try await page.get("/dashboard/tasks/\(asking.id)")
            #expect(task.text.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"))
        }
    }

    @Test("bad input is a 4xx page, never a 500")
    func badInput() async throws {
        let h = try APIHarness()
        let asking = try await h.needsDecision()
        let done = try await h.completed()
        try await h.test { client in
            var page = PageClient(client)
            let csrf = try #require(PageClient.csrf(try await page.get("/")))
            let cases: [(String, HTTPResponse.Status)] = [
                ("/?status=bogus", .unprocessableContent), ("/?type=nope", .unprocessableContent),
                ("/?run=yesterday", .unprocessableContent), ("/dashboard/tasks/not-a-task", .notFound),
                ("/dashboard/tasks/\(unknownTaskID)", .notFound), ("/runs/bogus", .unprocessableContent),
                ("/runs/run_20990101_000000_zzzz", .notFound), ("/dashboard/bulk?action=explode", .unprocessableContent),
                ("/dashboard/bulk", .unprocessableContent),
            ]
            for (uri, status) in cases {
                let r = try await page.get(uri)
                #expect(r.status == status, "\(uri): \(r.status)")
                #expect(r.isHTML, "\(uri) is a page")
            }
            let empty = try await page.send(
                .post, "/dashboard/tasks/\(asking.id)/decide", form: [("csrf", csrf), ("decision", "   ")])
            #expect(empty.status == .unprocessableContent)
            let illegal = try await page.send(
                .post, "/dashboard/tasks/\(done.id)/cancel", form: [("csrf", csrf)],
                headers: [HTTPField.Name("X-Requested-With")!: "fetch"])
            #expect(illegal.status == .conflict)
            #expect(illegal.headers[.contentType] == "application/problem+json", "the script gets problem+json")
            #expect(try await page.send(.delete, "/").status == .methodNotAllowed)
        }
    }

    @Test("an answer from the form resumes the task: needs_decision → pending with the decision, by the dashboard")
    func answer() async throws {
        let h = try APIHarness()
        let asking = try await h.needsDecision()
        try await h.test { client in
            var page = PageClient(client)
            let csrf = try #require(PageClient.csrf(try await page.get("/")))
            let r = try await page.send(
                .post, "/dashboard/tasks/\(asking.id)/decide", form: [("csrf", csrf), ("decision", "use SQLite")],
                headers: [HTTPField.Name("X-Requested-With")!: "fetch"])
            #expect(r.status == .ok)
            let t = try await h.store.get(asking.id)
            #expect(t.status == .pending && t.decision == "use SQLite")
        }
    }

    @Test("bulk retry: the dry run counts what the filter matches; the post does it only when the count still holds")
    func bulkRetry() async throws {
        let h = try APIHarness()
        var made: [AgentTask] = []
        for n in 0..<3 { made.append(try await h.failed("broke \(n)")) }
        let failed = made
        let other = try await h.failed("other", type: .test)
        _ = try await h.completed()
        try await h.test { client in
            var page = PageClient(client)
            let dry = try await page.get("/dashboard/bulk?action=retry&type=impl")
            #expect(dry.status == .ok)
            #expect(dry.text.contains("<b>3</b> task(s) would be retried"), "\(dry.text)")
            let csrf = try #require(PageClient.csrf(dry))
            let stale = try await page.send(
                .post, "/dashboard/bulk", form: [("csrf", csrf), ("action", "retry"), ("type", "impl"), ("expected", "2")])
            #expect(stale.status == .conflict)
            #expect(try await h.store.get(failed[0].id).status == .failed, "nothing changed")
            let ok = try await page.send(
                .post, "/dashboard/bulk", form: [("csrf", csrf), ("action", "retry"), ("type", "impl"), ("expected", "3")])
            #expect(ok.status == .ok)
            #expect(ok.text.contains("retried 3 task(s)"))
            for t in failed { #expect(try await h.store.get(t.id).status == .pending) }
            #expect(try await h.store.get(other.id).status == .failed, "outside the filter")
            let again = try await page.get("/dashboard/bulk?action=retry&type=impl")
            #expect(again.text.contains("<b>0</b> task(s)"))
            #expect(!again.text.contains("id=\"bulk-confirm\""), "nothing to confirm")
        }
    }

    @Test("filters by error class and run narrow the tables and their totals")
    func filters() async throws {
        let h = try APIHarness()
        let broke = try await h.failed("broke")
        let timedOut = try await h.finished(
            .failed(errorClass: "timeout", error: "too slow", retryDelay: nil), direction: "slow")
        try await h.test { client in
            var page = PageClient(client)
            let r = try await page.get("/?error_class=timeout")
            #expect(r.text.contains("row-\(timedOut.id)"))
            #expect(!r.text.contains("row-\(broke.id)\""))
            #expect(r.text.contains("value=\"timeout\""), "the filter stays in the form")
            let none = try await page.get("/?run=run_20990101_000000_zzzz")
            #expect(!none.text.contains("id=\"row-"))
        }
    }
}

/// What real agents add to the dashboard: a budget stop asks in the rail, a usage-limit pause
/// shows until when (in the rail and as the pending task's reason), and the running row shows
/// the agent's last tool and event.
@Suite("Dashboard: budget stops, usage-limit pauses, live metering")
struct DashboardAgentsTests {
    @Test("a budget stop is a decision in the rail; a usage-limit pause says when it starts again")
    func budgetAndPause() async throws {
        let h = try APIHarness()
        let running = try await h.running("over budget")
        var stop = AttemptOutcome(
            .needsDecision(prompt: "Budget: this task spent $0.60 (estimated) and reached its cap of $0.50."))
        stop.decisionClass = .budgetExceeded
        let stopped = try await h.store.finish(id: running.id, owner: APIHarness.owner, outcome: stop, now: h.clock.now)
        let limited = try await h.running("hit the limit")
        let until = h.clock.now.addingTimeInterval(3600)
        let pause = AttemptOutcome(
            .paused(until: until, errorClass: .usageLimited, error: "usage limit: Claude AI usage limit reached"))
        let paused = try await h.store.finish(id: limited.id, owner: APIHarness.owner, outcome: pause, now: h.clock.now)
        #expect(paused.status == .pending)
        try await h.test { client in
            var page = PageClient(client)
            let html = try await page.get("/").text
            #expect(html.contains("id=\"need-\(stopped.id)\""))
            #expect(html.contains("budget stop"))
            #expect(html.contains("reached its cap of $0.50"))
            #expect(html.contains("action=\"/dashboard/tasks/\(stopped.id)/decide\""))
            #expect(html.contains("id=\"need-\(paused.id)\""))
            #expect(html.contains("usage-limit pause"))
            #expect(html.contains("starts again by itself at \(Timestamp.format(until))"))
            #expect(html.contains("pause: usage limit until \(Timestamp.format(until))"))
        }
    }

    @Test("a running structured agent shows its last tool and when it last said anything")
    func lastEvent() async throws {
        let h = try APIHarness()
        let t = try await h.running("metered")
        _ = try await h.store.meter(
            id: t.id, owner: APIHarness.owner,
            reading: MeterReading(
                costUSD: 0.0415, costSource: "estimated", tokensIn: 28753, tokensOut: 179, tokensCacheRead: 18971,
                tokensCacheWrite: 5120, turns: 3, lastTool: "Bash", lastEventAt: h.clock.now.addingTimeInterval(-5)),
            now: h.clock.now)
        try await h.test { client in
            var page = PageClient(client)
            let html = try await page.get("/").text
            #expect(html.contains("Bash 5.0s ago"), "\(html.components(separatedBy: "row-\(t.id)").last?.prefix(1500) ?? "")")
        }
    }
}
