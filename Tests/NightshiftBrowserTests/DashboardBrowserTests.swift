import Foundation
import NightshiftTesting
import Testing

@Suite(
    "Dashboard in headless Chromium", .serialized, .enabled(if: BrowserFixture.enabled, "\(BrowserFixture.missing)"),
    .timeLimit(.minutes(3)))
struct DashboardBrowserTests {
    /// The probes the tests plant: none of them may ever run.
    static let directionProbe = "ask <script>window.__xss=4</script><img src=x onerror=\"window.__xss=5\">"
    static let decisionProbe = "yes <script>window.__xss=3</script><b onmouseover=window.__xss=6>ok</b>"

    @Test(
        "a question appears in Needs you without a reload; answering it in the form resumes the agent and the row moves to Running, then Finished"
    )
    func decisionFlow() async throws {
        try await withBrowser { f in
            let b = f.browser
            try await b.navigate(f.url + "/")
            try await b.waitUntil("document.getElementById('live').classList.contains('ok')")
            // A page that reloads loses this mark.
            try await b.execute("window.__mark = 'same page';")
            let id = try await f.create(Self.directionProbe)
            try await b.waitUntil("document.querySelector('#need-\(id) form.decide textarea')")
            #expect(try await b.check("window.__mark === 'same page'"), "no reload")
            let prompt = try await b.text("#need-\(id) .need-body")
            #expect(prompt.contains("<script>window.__xss=1</script>"), "the prompt is shown as text: \(prompt)")
            try await b.screenshot("dashboard-needs-you")

            try await b.type("#need-\(id) textarea", Self.decisionProbe)
            try await b.click("#need-\(id) button[type=submit]")
            try await b.waitUntil("document.querySelector('#row-\(id)[data-section=running]')")
            // Each part of the page updates by itself: the rail follows.
            try await b.waitUntil("!document.getElementById('need-\(id)')")
            #expect(await f.task(id)["decision"] as? String == Self.decisionProbe)
            try await b.screenshot("dashboard-running")

            // The agent resumed with the decision and waits to be released.
            FileManager.default.createFile(atPath: f.dir.path("release-\(id)"), contents: nil)
            try await b.waitUntil("document.querySelector('#row-\(id)[data-section=finished]')")
            try await b.waitUntil("!document.querySelector('#row-\(id)[data-section=running]')")
            #expect(try await b.text("#row-\(id) .c-outcome").hasPrefix("completed"))
            #expect(try await b.check("window.__mark === 'same page'"), "still no reload")
            #expect(try await b.check("window.__xss === undefined"), "no probe ran")
            try await b.screenshot("dashboard-finished")
            let log = try String(contentsOfFile: f.dir.path("state/tasks/\(id).log"), encoding: .utf8)
            #expect(log.contains("decided: \(Self.decisionProbe)"), "the agent got the decision: \(log)")
        }
    }

    @Test("the XSS probes in a direction, a prompt and a decision stay text on the task page and the dashboard")
    func xssProbesStayText() async throws {
        try await withBrowser { f in
            let b = f.browser
            let id = try await f.create(Self.directionProbe)
            #expect(await f.waitForStatus(id, "needs_decision"))
            let decided = await HTTP.send(
                "PATCH", f.url + "/api/agent/tasks/\(id)",
                json: String(
                    decoding: try JSONSerialization.data(withJSONObject: ["decision": Self.decisionProbe]), as: UTF8.self))
            #expect(decided?.status == 200)
            try await b.navigate(f.url + "/dashboard/tasks/\(id)")
            try await b.waitUntil("document.querySelector('.direction')")
            #expect(try await b.text(".direction") == Self.directionProbe)
            #expect(try await b.text("q.decision") == Self.decisionProbe)
            #expect(try await b.text(".prompt").contains("<script>window.__xss=1</script>"))
            #expect(try await b.check("document.querySelectorAll('main script, main img, main b[onmouseover]').length === 0"))
            // Filters echo what was typed, as text.
            try await b.navigate(f.url + "/?item=%22%3E%3Cscript%3Ewindow.__xss%3D7%3C%2Fscript%3E")
            try await b.waitUntil("document.querySelector('input[name=item]')")
            #expect(
                try await b.check("document.querySelector('input[name=item]').value === '\"><script>window.__xss=7</script>'"))
            #expect(try await b.check("window.__xss === undefined"), "no probe ran")
            try await b.screenshot("task-page-xss")
            FileManager.default.createFile(atPath: f.dir.path("release-\(id)"), contents: nil)
        }
    }

    @Test("the cancel button on the task page tears the agent down: its process group is gone")
    func cancelTearsDown() async throws {
        try await withBrowser { f in
            let b = f.browser
            let id = try await f.create("hang until cancelled")
            let childFile = f.dir.path("child-\(id)")
            #expect(await waitFor(timeout: 30) { FileManager.default.fileExists(atPath: childFile) })
            let child = try #require(
                Int32((try String(contentsOfFile: childFile, encoding: .utf8)).trimmingCharacters(in: .whitespacesAndNewlines)))
            let pgid = try #require(await f.task(id)["pgid"] as? Int)
            #expect(!BrowserFixture.isGone(child), "the agent's child runs")
            try await b.navigate(f.url + "/dashboard/tasks/\(id)")
            try await b.waitUntil(
                "document.getElementById('live').classList.contains('ok') && document.getElementById('cancel-button')")
            try await b.click("#cancel-button")
            try await b.waitUntil("document.getElementById('task-status').textContent === 'cancelled'")
            #expect(await waitFor(timeout: 20) { BrowserFixture.isGone(child) }, "the background child was killed")
            #expect(await waitFor(timeout: 20) { kill(-Int32(pgid), 0) != 0 }, "no process is left in group \(pgid)")
            #expect(await f.task(id)["status"] as? String == "cancelled")
            try await b.screenshot("task-cancelled")
        }
    }

    @Test("a filter typed into the form lives in the URL; bulk cancel of what matches shows a dry-run count first")
    func filterAndBulkCancel() async throws {
        try await withBrowser { f in
            let b = f.browser
            // Two agents hold both workers; two more tasks wait.
            let busy = [try await f.create("hang busy one"), try await f.create("hang busy two")]
            for id in busy { #expect(await f.waitForStatus(id, "running")) }
            let waiting = [try await f.create("hang waits one"), try await f.create("hang waits two")]
            try await b.navigate(f.url + "/")
            try await b.waitUntil("document.querySelector('input[name=status]')")
            try await b.type("input[name=status]", "pending")
            try await b.click("form.filters button[type=submit]")
            try await b.waitUntil("location.search.indexOf('status=pending') >= 0")
            for id in waiting { try await b.waitUntil("document.querySelector('#row-\(id)[data-section=pending]')") }
            for id in busy { #expect(try await b.check("!document.getElementById('row-\(id)')"), "filtered out") }
            try await b.screenshot("dashboard-filtered")

            try await b.click("#bulk-cancel")
            try await b.waitUntil("document.getElementById('bulk-count')")
            #expect(try await b.text("#bulk-count").hasPrefix("2 task(s) would be cancelled"))
            for id in waiting { #expect(await f.task(id)["status"] as? String == "pending", "a dry run changes nothing") }
            try await b.click("#bulk-confirm")
            for id in waiting { #expect(await f.waitForStatus(id, "cancelled")) }
            for id in busy { #expect(await f.task(id)["status"] as? String == "running", "only what matched") }
            try await b.screenshot("dashboard-bulk-cancelled")
            for id in busy { _ = await HTTP.send("PATCH", f.url + "/api/agent/tasks/\(id)", json: #"{"status":"cancelled"}"#) }
        }
    }

    @Test("the task page's log: grep keeps the matching lines, next error jumps to the error line")
    func taskLogGrep() async throws {
        try await withBrowser { f in
            let b = f.browser
            let id = try await f.create("log some lines")
            #expect(await f.waitForStatus(id, "completed"))
            try await b.navigate(f.url + "/dashboard/tasks/\(id)")
            try await b.waitUntil("document.querySelectorAll('#log span.l').length >= 3")
            try await b.type("#log-grep", "planted")
            try await b.waitUntil("document.getElementById('log-count').textContent === '1 matching line(s)'")
            #expect(try await b.check("document.querySelectorAll('#log span.l:not(.gone)').length === 1"))
            #expect(try await b.text("#log span.hit") == "error: a planted error line")
            try await b.execute(
                "document.getElementById('log-grep').value = ''; document.getElementById('log-grep').dispatchEvent(new Event('input'));"
            )
            try await b.click("#log-next-error")
            try await b.waitUntil("document.getElementById('log-count').textContent === 'error 1 of 1'")
            #expect(try await b.text("#log span.here") == "error: a planted error line")
            try await b.screenshot("task-log-grep")
        }
    }

    @Test("the morning report of the run renders its waterfall SVG, its headline and its next steps")
    func morningReport() async throws {
        try await withBrowser { f in
            let b = f.browser
            let done = try await f.create("plain work")
            let asking = try await f.create("ask for the report")
            #expect(await f.waitForStatus(done, "completed"))
            #expect(await f.waitForStatus(asking, "needs_decision"))
            try await b.navigate(f.url + "/runs/latest")
            try await b.waitUntil("document.querySelector('#waterfall-svg rect')")
            #expect(try await b.check("document.querySelector('#waterfall-svg g.bar rect').getBBox().width > 0"))
            #expect(try await b.check("document.querySelectorAll('#waterfall-svg g.bar').length >= 2"))
            let headline = try await b.text("#headline")
            #expect(headline.contains("1 task(s) wait for your decision"), "\(headline)")
            #expect(try await b.check("document.querySelectorAll('#next-steps li').length > 0"))
            #expect(
                try await b.check("document.querySelectorAll('script, link[rel=stylesheet], img').length === 0"), "self-contained"
            )
            try await b.screenshot("morning-report")
            FileManager.default.createFile(atPath: f.dir.path("release-\(asking)"), contents: nil)
        }
    }

    @Test("with a token the dashboard asks for it once and keeps the session in an HttpOnly cookie")
    func signIn() async throws {
        try await withBrowser(token: "browser-test-token") { f in
            let b = f.browser
            try await b.navigate(f.url + "/?status=pending")
            try await b.waitUntil("location.pathname === '/dashboard/login'")
            try await b.type("input[name=token]", "wrong")
            try await b.click("button[type=submit]")
            try await b.waitUntil("document.querySelector('.form-error')")
            try await b.type("input[name=token]", "browser-test-token")
            try await b.click("button[type=submit]")
            try await b.waitUntil("location.pathname === '/' && document.getElementById('live').classList.contains('ok')")
            #expect(try await b.check("location.search === '?status=pending'"), "back where it was going")
            #expect(try await b.check("!document.cookie.includes('ns_session')"), "scripts cannot read the session")
            // The event stream works with the session: a new task shows up.
            let id = try await f.create("plain work with a token", headers: ["Authorization": "Bearer browser-test-token"])
            try await b.navigate(f.url + "/")
            try await b.waitUntil("document.querySelector('#row-\(id)[data-section=finished]')")
            try await b.screenshot("signed-in")
        }
    }
}
