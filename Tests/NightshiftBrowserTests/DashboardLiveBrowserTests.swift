import Foundation
import NightshiftTesting
import Testing

/// Every part of the dashboard follows the event stream in a real browser: the rows of retried
/// tasks move, monitor issues open and resolve in their section and the rail, a backlog item's
/// phases advance, a new run shows up in the runs list; and signing out asks for the token again.
/// `window.__mark` is set on the page first: a reload would lose it.
@Suite(
    "Dashboard live parts in headless Chromium", .serialized,
    .enabled(if: BrowserFixture.enabled, "\(BrowserFixture.missing)"), .timeLimit(.minutes(3)))
struct DashboardLiveBrowserTests {
    static let live = "document.getElementById('live').classList.contains('ok')"

    static func row(_ id: String, _ section: String) -> String {
        "document.querySelector('#row-\(id)[data-section=\(section)]')"
    }

    /// Opens the dashboard and marks the page.
    static func openDashboard(_ f: BrowserFixture, _ query: String = "") async throws {
        try await f.browser.navigate(f.url + "/" + query)
        try await f.browser.waitUntil(live)
        try await f.browser.execute("window.__mark = 'same page';")
    }

    static func samePage(_ b: WebDriver) async throws -> Bool { try await b.check("window.__mark === 'same page'") }

    @Test("the retry button on a failed task's page requeues it; on the dashboard its row moves to Running, then Finished")
    func retryFromTaskPage() async throws {
        try await withBrowser { f in
            let b = f.browser
            let id = try await f.create("flaky until fixed")
            #expect(await f.waitForStatus(id, "failed"))
            try await Self.openDashboard(f)
            try await b.waitUntil(Self.row(id, "finished"))
            #expect(try await b.check("document.querySelector('#row-\(id)').classList.contains('st-failed')"))
            #expect(try await b.check("document.getElementById('need-\(id)')"), "failed for good: in the rail")
            let dashboard = try await b.window()

            let tab = try await b.newTab()
            try await b.switchTo(tab)
            try await b.navigate(f.url + "/dashboard/tasks/\(id)")
            try await b.waitUntil("\(Self.live) && document.getElementById('retry-button')")
            f.touch("fixed-\(id)")
            try await b.click("#retry-button")
            try await b.waitUntil("document.getElementById('task-status').textContent === 'running'")
            #expect(!(try await b.check("document.getElementById('retry-button')")), "a running task has no retry button")
            try await b.screenshot("task-page-retried")

            try await b.switchTo(dashboard)
            try await b.waitUntil(Self.row(id, "running"))
            // Each part updates by itself: Finished and the rail follow.
            try await b.waitUntil("!document.querySelector('#sec-finished #row-\(id)')")
            try await b.waitUntil("!document.getElementById('need-\(id)')")
            #expect(try await b.text("#sec-running .total") == "1")
            try await b.screenshot("dashboard-retried-running")
            f.touch("release-\(id)")
            try await b.waitUntil(
                "\(Self.row(id, "finished")) && document.querySelector('#row-\(id)').classList.contains('st-completed')")
            try await b.waitUntil("document.querySelector('#sec-running .total').textContent === '0'")
            #expect(try await Self.samePage(b), "no reload")
            try await b.screenshot("dashboard-retried-finished")
        }
    }

    @Test("bulk retry of a filter shows the dry-run count, then retries them all; on the dashboard the rows move")
    func bulkRetry() async throws {
        try await withBrowser { f in
            let b = f.browser
            var ids: [String] = []
            for n in 0..<3 { ids.append(try await f.create("flaky bulk \(n)")) }
            for id in ids { #expect(await f.waitForStatus(id, "failed")) }
            let plain = try await f.create("plain work outside the filter")
            #expect(await f.waitForStatus(plain, "completed"))
            try await Self.openDashboard(f)
            for id in ids { try await b.waitUntil(Self.row(id, "finished")) }
            try await b.waitUntil("document.querySelector('#sec-finished .total').textContent === '4'")
            let dashboard = try await b.window()

            let tab = try await b.newTab()
            try await b.switchTo(tab)
            try await b.navigate(f.url + "/?status=failed")
            try await b.waitUntil("document.getElementById('bulk-retry')")
            try await b.click("#bulk-retry")
            try await b.waitUntil("document.getElementById('bulk-count')")
            #expect(try await b.text("#bulk-count").hasPrefix("3 task(s) would be retried"))
            for id in ids { #expect(await f.task(id)["status"] as? String == "failed", "a dry run changes nothing") }
            try await b.screenshot("bulk-retry-dry-run")
            for id in ids { f.touch("fixed-\(id)") }
            try await b.click("#bulk-confirm")
            try await b.waitUntil(
                "document.querySelector('main h1') && document.querySelector('main h1').textContent === 'retried 3 task(s)'")

            try await b.switchTo(dashboard)
            for id in ids {
                try await b.waitUntil("\(Self.row(id, "running")) || \(Self.row(id, "pending"))")
            }
            // Only the completed one is left in Finished.
            try await b.waitUntil("document.querySelector('#sec-finished .total').textContent === '1'")
            #expect(try await b.check(Self.row(plain, "finished")))
            try await b.screenshot("bulk-retried")
            for id in ids { f.touch("release-\(id)") }
            for id in ids {
                try await b.waitUntil(
                    "\(Self.row(id, "finished")) && document.querySelector('#row-\(id)').classList.contains('st-completed')")
            }
            #expect(try await Self.samePage(b), "no reload")
        }
    }

    @Test(
        "a critical monitor issue appears in the issues section and the Needs you rail without a reload, and leaves both when it resolves"
    )
    func monitorIssueLive() async throws {
        var options = BrowserFixture.Options()
        options.monitorInterval = "500ms"
        options.toolExecutor = true
        try await withBrowser(options) { f in
            let b = f.browser
            try await Self.openDashboard(f)
            let issue = "document.querySelector('#issues .issue[data-condition=executor_missing]')"
            #expect(!(try await b.check(issue)), "no issue yet")
            try f.setToolPresent(false)
            try await b.waitUntil(issue)
            let issueID = try #require(try await b.execute("return \(issue).id.slice('issue-'.length);") as? String)
            #expect(issueID.count > 0)
            #expect(try await b.text("#issue-\(issueID)").contains("executor:tool"))
            try await b.waitUntil("document.getElementById('need-issue-\(issueID)')")
            #expect(try await b.text("#need-issue-\(issueID) .badge") == "critical")
            #expect(try await Self.samePage(b), "no reload")
            try await b.screenshot("monitor-issue-opened")

            try f.setToolPresent(true)
            try await b.waitUntil("!\(issue)")
            try await b.waitUntil("!document.getElementById('need-issue-\(issueID)')")
            #expect(try await b.check("document.querySelector('#issues .empty')"), "No open issues.")
            #expect(try await Self.samePage(b), "no reload")
            try await b.screenshot("monitor-issue-resolved")
        }
    }

    @Test("a backlog item's phase progress advances live: spec current, then spec done and impl current, then done")
    func backlogPhaseProgress() async throws {
        var options = BrowserFixture.Options()
        options.backlog = "1. Ship the widget\n"
        try await withBrowser(options) { f in
            let b = f.browser
            let item = "document.querySelector('#items tr[data-item=\"1\"]')"
            func phases() async throws -> String {
                try await b.execute(
                    "return Array.prototype.map.call(\(item).querySelectorAll('.ph'), function (p) { return p.textContent + ':' + p.title; }).join(' ');"
                ) as? String ?? ""
            }
            try await Self.openDashboard(f)
            try await b.waitUntil("\(item) && \(item).querySelector('.ph-current')")
            #expect(try await phases() == "spec:current impl:todo")
            f.touch("go-spec")
            try await b.waitUntil(
                "\(item).querySelector('.ph-current') && \(item).querySelector('.ph-current').textContent === 'impl'")
            #expect(try await phases() == "spec:done impl:current")
            try await b.screenshot("backlog-impl")
            f.touch("go-impl")
            try await b.waitUntil("\(item).dataset.state === 'done'")
            #expect(try await phases() == "spec:done impl:done")
            #expect(try await Self.samePage(b), "no reload")
            try await b.screenshot("backlog-done")
        }
    }

    @Test("a new run shows up in the runs list without a reload: the daemon restarts and the page's stream reconnects")
    func runAppearsLive() async throws {
        try await withBrowser { f in
            let b = f.browser
            func currentRun() async -> String? { await HTTP.get(f.url + "/api/agent/runs")?.json?["current"] as? String }
            let first = try #require(await currentRun())
            try await Self.openDashboard(f)
            #expect(try await b.check("document.querySelector('#runs tr[data-run=\"\(first)\"]')"))
            #expect(try await b.text("#runs tr[data-run=\"\(first)\"] td").contains("this daemon"))
            try await f.restartDaemon()
            let second = try #require(await currentRun())
            #expect(second != first)
            try await b.waitUntil("document.querySelector('#runs tr[data-run=\"\(second)\"]')", timeout: 30)
            try await b.waitUntil(Self.live)
            #expect(try await b.text("#runs tr[data-run=\"\(second)\"] td").contains("this daemon"))
            #expect(try await b.text("#runs tr[data-run=\"\(first)\"] .c-state") != "running", "the first run ended")
            #expect(try await Self.samePage(b), "no reload")
            try await b.screenshot("runs-new-run")
        }
    }

    @Test("answering on the task page resumes the agent: the page follows it to running, then completed, without a reload")
    func answerOnTaskPage() async throws {
        try await withBrowser { f in
            let b = f.browser
            let id = try await f.create("ask on the task page")
            #expect(await f.waitForStatus(id, "needs_decision"))
            try await b.navigate(f.url + "/dashboard/tasks/\(id)")
            try await b.waitUntil("\(Self.live) && document.querySelector('form.decide textarea')")
            try await b.execute("window.__mark = 'same page';")
            #expect(try await b.text(".prompt").hasPrefix("Ship it?"))
            try await b.type("form.decide textarea", "ship it")
            try await b.click("form.decide button[type=submit]")
            try await b.waitUntil("document.getElementById('task-status').textContent === 'running'")
            #expect(try await b.check("!document.querySelector('form.decide')"), "answered: no form")
            #expect(try await b.text("q.decision") == "ship it")
            f.touch("release-\(id)")
            try await b.waitUntil("document.getElementById('task-status').textContent === 'completed'")
            #expect(try await Self.samePage(b), "no reload")
            try await b.screenshot("task-page-answered")
        }
    }

    @Test("signing out clears the session cookie: the next page asks for the token again")
    func signOut() async throws {
        try await withBrowser(token: "browser-test-token") { f in
            let b = f.browser
            try await b.navigate(f.url + "/")
            try await b.waitUntil("location.pathname === '/dashboard/login'")
            #expect(!(try await b.check("document.getElementById('sign-out')")), "nothing to sign out of yet")
            try await b.type("input[name=token]", "browser-test-token")
            try await b.click("button[type=submit]")
            try await b.waitUntil("location.pathname === '/' && \(Self.live)")
            try await b.navigate(f.url + "/dashboard/tasks/\(Self.unknownID)")
            try await b.waitUntil("location.pathname === '/dashboard/tasks/\(Self.unknownID)'")
            try await b.navigate(f.url + "/")
            try await b.waitUntil(Self.live)
            // What the session cookie opens (the cookie itself is HttpOnly: scripts cannot see it).
            let fragment =
                "var x = new XMLHttpRequest(); x.open('GET', '/dashboard/fragments/counts', false); x.send(); return x.status;"
            #expect(try await b.execute(fragment) as? Int == 200, "signed in")
            try await b.click("#sign-out")
            try await b.waitUntil("location.pathname === '/dashboard/login' && document.querySelector('input[name=token]')")
            #expect(try await b.execute(fragment) as? Int == 401, "the session cookie is gone")
            try await b.navigate(f.url + "/dashboard/tasks/\(Self.unknownID)")
            try await b.waitUntil("location.pathname === '/dashboard/login'")
            try await b.navigate(f.url + "/")
            try await b.waitUntil("location.pathname === '/dashboard/login' && document.querySelector('input[name=token]')")
            try await b.screenshot("signed-out")
        }
    }

    static let unknownID = "task_0123456789abcdef"
}
