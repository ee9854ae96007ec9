import Foundation
import HTTPTypes
import HummingbirdTesting
import NightshiftCore
import NightshiftRuntime
import NightshiftStore
import NightshiftTesting
import Testing

/// The live parts the page's script fetches (`/dashboard/fragments/{part}`) and signing out.
@Suite("Dashboard: live fragments and sign-out")
struct DashboardFragmentTests {
    @Test("each part is one element with its id, drawn as the page draws it, with its total")
    func everyPart() async throws {
        let h = try APIHarness()
        let asking = try await h.needsDecision("Which database?")
        let running = try await h.running("running now")
        let failed = try await h.failed("broke")
        _ = try await h.completed("fine")
        let waiting = try await h.store.create(.make(direction: "after it", dependsOn: [running.id], now: h.clock.now))
        _ = try await h.store.applyFindings(
            [
                Finding(
                    condition: .executorMissing, subject: "executor:tool", severity: .critical,
                    message: "the program of executor tool cannot be found", suggestedAction: "install it")
            ], now: h.clock.now)
        try await h.test { client in
            var page = PageClient(client)
            let whole = try await page.get("/").text
            let ids = [
                "counts": "counts", "needs": "needs-you", "running": "sec-running", "pending": "sec-pending",
                "finished": "sec-finished", "items": "items", "issues": "issues", "runs": "runs",
            ]
            for (part, id) in ids {
                let r = try await page.get("/dashboard/fragments/\(part)")
                #expect(r.status == .ok, "\(part)")
                #expect(r.isHTML)
                #expect(
                    r.text.hasPrefix("<div id=\"\(id)\"") || r.text.hasPrefix("<section id=\"\(id)\""),
                    "\(part): \(r.text.prefix(80))")
                #expect(whole.contains(r.text), "\(part) is what the page draws")
            }
            let needs = try await page.get("/dashboard/fragments/needs").text
            #expect(needs.contains("id=\"need-\(asking.id)\"") && needs.contains("Which database?"))
            #expect(needs.contains("action=\"/dashboard/tasks/\(asking.id)/decide\""), "the answer form")
            #expect(needs.contains("name=\"csrf\" value=\"\(PageClient.csrf(try await page.get("/")) ?? "-")\""))
            #expect(needs.contains("id=\"need-\(failed.id)\""))
            #expect(needs.contains("executor:tool"), "a critical issue is in the rail")
            let pending = try await page.get("/dashboard/fragments/pending").text
            #expect(pending.contains("row-\(waiting.id)") && pending.contains("dependency: waits for \(running.id) (running)"))
            #expect(pending.contains("<span class=\"total\">1</span>"))
            let finished = try await page.get("/dashboard/fragments/finished").text
            #expect(finished.contains("<span class=\"total\">2</span>"))
            let issues = try await page.get("/dashboard/fragments/issues").text
            #expect(issues.contains("data-condition=\"executor_missing\"") && issues.contains("<span class=\"total\">1</span>"))
            let counts = try await page.get("/dashboard/fragments/counts").text
            #expect(counts.contains("data-count=\"failed\">1<"))
        }
    }

    @Test("a part follows the page's filter: its rows and its total")
    func filtered() async throws {
        let h = try APIHarness()
        let broke = try await h.failed("broke")
        let slow = try await h.finished(.failed(errorClass: "timeout", error: "too slow", retryDelay: nil), direction: "slow")
        let done = try await h.completed()
        try await h.test { client in
            var page = PageClient(client)
            let all = try await page.get("/dashboard/fragments/finished").text
            #expect(all.contains("<span class=\"total\">3</span>"))
            let r = try await page.get("/dashboard/fragments/finished?error_class=timeout").text
            #expect(r.contains("row-\(slow.id)") && !r.contains("row-\(broke.id)") && !r.contains("row-\(done.id)"))
            #expect(r.contains("<span class=\"total\">1</span>"))
            let hidden = try await page.get("/dashboard/fragments/running?status=failed").text
            #expect(hidden.contains("hidden by the status filter"))
        }
    }

    @Test("an unknown part is a 404, a bad filter a 422, both problem+json; no session is a 401")
    func badInput() async throws {
        let h = try APIHarness()
        try await h.test { client in
            var page = PageClient(client)
            let unknown = try await page.get("/dashboard/fragments/everything")
            #expect(unknown.status == .notFound)
            #expect(unknown.headers[.contentType] == "application/problem+json")
            #expect(unknown.text.contains("counts, needs, running"), "it names the parts")
            let bad = try await page.get("/dashboard/fragments/finished?status=bogus")
            #expect(bad.status == .unprocessableContent)
            #expect(bad.headers[.contentType] == "application/problem+json")
        }
        let locked = try APIHarness { $0.server.token = "s3cret-token" }
        try await locked.test { client in
            var page = PageClient(client)
            let r = try await page.get("/dashboard/fragments/needs")
            #expect(r.status == .unauthorized)
        }
    }

    @Test("the probes stay text in every part")
    func escaping() async throws {
        let h = try APIHarness()
        let probe = DashboardPageTests.probe
        let asking = try await h.needsDecision(probe, direction: probe)
        _ = try await h.failed(probe)
        _ = try await h.store.applyFindings(
            [Finding(condition: .executorMissing, subject: probe, severity: .critical, message: probe, suggestedAction: probe)],
            now: h.clock.now)
        try await h.test { client in
            var page = PageClient(client)
            for part in ["needs", "finished", "issues", "pending"] {
                let r = try await page.get("/dashboard/fragments/\(part)?item=%3Cscript%3E")
                #expect(r.status == .ok, "\(part)")
                #expect(!r.text.contains("<script>alert"), "\(part) reflects a script")
                #expect(!r.text.contains("<img src=x"), "\(part) reflects an image")
            }
            #expect(try await page.get("/dashboard/fragments/needs").text.contains("need-\(asking.id)"))
        }
    }

    @Test(
        "sign out (with the CSRF token) clears the session cookie and goes to the sign-in page; without the token it is not offered"
    )
    func signOut() async throws {
        let open = try APIHarness()
        try await open.test { client in
            var page = PageClient(client)
            let home = try await page.get("/")
            #expect(!home.text.contains("id=\"sign-out\""), "no token: nothing to sign out of")
        }
        let h = try APIHarness { $0.server.token = "s3cret-token" }
        try await h.test { client in
            var page = PageClient(client)
            let login = try await page.get("/dashboard/login")
            #expect(!login.text.contains("id=\"sign-out\""))
            let csrf = try #require(PageClient.csrf(login))
            let signedIn = try await page.send(.post, "/dashboard/login", form: [("csrf", csrf), ("token", "s3cret-token")])
            #expect(signedIn.status == .seeOther)
            #expect(page.cookies["ns_session"] != nil)
            let home = try await page.get("/")
            #expect(home.status == .ok)
            #expect(home.text.contains("action=\"/dashboard/logout\"") && home.text.contains("id=\"sign-out\""))
            let refused = try await page.send(.post, "/dashboard/logout", form: [("csrf", "0")])
            #expect(refused.status == .forbidden)
            #expect(page.cookies["ns_session"] != nil, "a forged form signs nobody out")
            let out = try await page.send(.post, "/dashboard/logout", form: [("csrf", csrf)])
            #expect(out.status == .seeOther)
            #expect(out.headers[.location] == "/dashboard/login")
            let set = out.headers[values: .setCookie].first { $0.hasPrefix("ns_session=") } ?? ""
            #expect(set.hasPrefix("ns_session=;") && set.contains("Max-Age=0"), "\(set)")
            #expect(set.contains("HttpOnly") && set.contains("SameSite=Strict") && set.contains("Path=/"), "\(set)")
            #expect(page.cookies["ns_session"] == nil)
            let next = try await page.get("/")
            #expect(next.status == .seeOther)
            #expect(next.headers[.location]?.hasPrefix("/dashboard/login") == true, "the next page asks for the token")
        }
    }

    @Test("a pending row says why it waits: a dependency, a backoff, busy workers, a paused project manager")
    func waitReasons() async throws {
        let h = try APIHarness { $0.runner.workers = 1 }
        let running = try await h.running("holds the only worker")
        let retrying = try await h.finished(.failed(errorClass: "timeout", error: "too slow", retryDelay: 90), direction: "slow")
        #expect(retrying.status == .pending)
        let dep = try await h.store.create(.make(direction: "after it", dependsOn: [running.id], now: h.clock.now))
        let queued = try await h.pending("next in line")
        try await h.test { client in
            var page = PageClient(client)
            func reason(_ id: String) async throws -> String {
                let html = try await page.get("/dashboard/fragments/pending").text
                guard let row = html.components(separatedBy: "id=\"row-\(id)\"").dropFirst().first else { return "" }
                let cell = row.components(separatedBy: "class=\"c-why\">").dropFirst().first ?? ""
                return String(cell.prefix { $0 != "<" })
            }
            #expect(try await reason(dep.id) == "dependency: waits for \(running.id) (running)")
            let backoff = try await reason(retrying.id)
            #expect(backoff.hasPrefix("backoff: retry in ") && backoff.hasSuffix("(attempt 2 of 2)"), "\(backoff)")
            #expect(try await reason(queued.id) == "queued: all 1 workers busy")
            h.projectManager.withLock {
                $0 = .object(["enabled": .bool(true), "state": .string("paused"), "paused": .bool(true)])
            }
            #expect(try await reason(queued.id) == "pause: the project manager is paused")
        }
    }

    @Test("the event stream carries the bus's signals as `event: signal` frames without an id, and asks for a 1 s retry")
    func signalFrames() async throws {
        let h = try APIHarness()
        try await h.live { client in
            let port = try #require(client.port)
            let stream = try LoopbackStream(port: port)
            defer { stream.close() }
            try stream.sendGET("/api/agent/events", headers: ["Accept": "text/event-stream"])
            let deadline = ContinuousClock.now + .seconds(15)
            try await stream.read(until: deadline) { $0.contains("retry: 1000\n\n") }
            h.env.events.publishSignal(.issues)
            h.env.events.publishSignal(.backlog)
            let body = try await stream.read(until: deadline) { $0.contains(#"{"topic":"backlog"}"#) }
            #expect(body.contains("event: signal\ndata: {\"topic\":\"issues\"}\n\n"), "\(body)")
            #expect(body.contains("event: signal\ndata: {\"topic\":\"backlog\"}\n\n"), "\(body)")
            #expect(!body.contains("id:"), "signals are not history")
        }
    }

    @Test("a blocked backlog item is in the rail with its reason, and in the backlog with the phase it stopped at")
    func blockedItem() async throws {
        let h = try APIHarness { $0.projectManager.phases = ["spec", "impl", "test"] }
        h.projectManager.withLock {
            $0 = .object([
                "enabled": .bool(true), "state": .string("working"),
                "blocked": .array([
                    .object([
                        "key": .string("3"), "title": .string("Retry webhooks"), "reason": .string("review failed 5 times"),
                    ])
                ]),
                "items": .array([
                    .object([
                        "key": .string("3"), "title": .string("Retry webhooks"), "state": .string("blocked"),
                        "phase": .string("impl"), "blocked_reason": .string("review failed 5 times"),
                    ]),
                    .object(["key": .string("4"), "title": .string("Next"), "state": .string("queued")]),
                ]),
            ])
        }
        try await h.test { client in
            var page = PageClient(client)
            let needs = try await page.get("/dashboard/fragments/needs").text
            #expect(needs.contains("id=\"need-item-3\"") && needs.contains("review failed 5 times"), "\(needs)")
            #expect(needs.contains("item 3: Retry webhooks"))
            let items = try await page.get("/dashboard/fragments/items").text
            #expect(items.contains("<span class=\"total\">2</span>"))
            #expect(items.contains("data-item=\"3\" data-state=\"blocked\""))
            #expect(items.contains("blocked: review failed 5 times"))
            #expect(
                items.contains(
                    "<span class=\"ph ph-done\" title=\"done\">spec</span><span class=\"ph ph-blocked\" title=\"blocked\">impl</span><span class=\"ph ph-todo\" title=\"todo\">test</span>"
                ), "\(items)")
        }
    }
}
