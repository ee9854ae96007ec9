import Foundation
import HTTPTypes
import HummingbirdTesting
import NightshiftCore
import NightshiftTesting
import Testing

@Suite("Dashboard: sign-in, session cookie and CSRF")
struct DashboardAuthTests {
    @Test("on loopback without a token the dashboard is open and sets only the client cookie (HttpOnly, SameSite=Strict)")
    func openOnLoopback() async throws {
        let h = try APIHarness()
        try await h.test { client in
            var page = PageClient(client)
            let r = try await page.get("/")
            #expect(r.status == .ok)
            #expect(r.isHTML)
            let set = r.headers[values: .setCookie].joined(separator: "\n")
            #expect(set.contains("ns_sid=") && set.contains("HttpOnly") && set.contains("SameSite=Strict"), "\(set)")
            #expect(!set.contains("ns_session"))
            #expect(PageClient.csrf(r)?.count == 64)
        }
    }

    @Test("a form without the CSRF token, with a wrong one, or with another browser's is refused (403) and changes nothing")
    func csrfRequired() async throws {
        let h = try APIHarness()
        let task = try await h.pending("cancel me")
        try await h.test { client in
            var page = PageClient(client)
            let csrf = try #require(PageClient.csrf(try await page.get("/")))
            var other = PageClient(client)
            let foreign = try #require(PageClient.csrf(try await other.get("/")))
            #expect(foreign != csrf, "each browser has its own token")
            // A wrong token: the right one with its first digit changed (never the same digit).
            let wrong = (csrf.first == "0" ? "1" : "0") + csrf.dropFirst()
            for form in [[("back", "/")], [("csrf", wrong)], [("csrf", foreign)]] {
                let r = try await page.send(.post, "/dashboard/tasks/\(task.id)/cancel", form: form)
                #expect(r.status == .forbidden, "\(form): \(r.status)")
                #expect(r.isHTML)
            }
            var stranger = PageClient(client)
            let r = try await stranger.send(.post, "/dashboard/tasks/\(task.id)/cancel", form: [("csrf", csrf)])
            #expect(r.status == .forbidden, "no client cookie: \(r.status)")
            #expect(try await h.store.get(task.id).status == .pending)
            let ok = try await page.send(.post, "/dashboard/tasks/\(task.id)/cancel", form: [("csrf", csrf), ("back", "/")])
            #expect(ok.status == .seeOther)
            #expect(ok.headers[.location] == "/")
            #expect(try await h.store.get(task.id).status == .cancelled)
            let events = try await h.store.events(taskID: task.id)
            #expect(events.last?.detail["by"]?.stringValue == "dashboard")
        }
    }

    @Test("a form's back link stays on this site")
    func backStaysLocal() async throws {
        let h = try APIHarness()
        let task = try await h.pending()
        try await h.test { client in
            var page = PageClient(client)
            let csrf = try #require(PageClient.csrf(try await page.get("/")))
            let r = try await page.send(
                .post, "/dashboard/tasks/\(task.id)/cancel", form: [("csrf", csrf), ("back", "//evil.example/x")])
            #expect(r.headers[.location] == "/")
        }
    }

    @Test(
        "with a token: the pages send a browser to sign in once; the session cookie is HttpOnly, SameSite=Strict and reads the API but never changes it"
    )
    func tokenSignIn() async throws {
        let h = try APIHarness { $0.server.token = "s3cret-token" }
        let task = try await h.pending()
        try await h.test { client in
            var page = PageClient(client)
            let first = try await page.get("/?status=pending")
            #expect(first.status == .seeOther)
            #expect(first.headers[.location] == "/dashboard/login?next=%2F%3Fstatus%3Dpending", "\(first.headers)")
            #expect(try await page.get("/dashboard/tasks/\(task.id)").status == .seeOther)
            #expect(try await page.get("/runs/latest").status == .seeOther)
            #expect(try await page.get("/dashboard/fragments/pending").status == .unauthorized)
            let login = try await page.get("/dashboard/login?next=%2F%3Fstatus%3Dpending")
            #expect(login.status == .ok)
            let csrf = try #require(PageClient.csrf(login))
            let wrong = try await page.send(
                .post, "/dashboard/login", form: [("csrf", csrf), ("token", "nope"), ("next", "/?status=pending")])
            #expect(wrong.status == .unauthorized)
            #expect(wrong.text.contains("value=\"/?status=pending\""), "the form keeps where it was going")
            #expect(page.cookies["ns_session"] == nil)
            let noCSRF = try await page.send(.post, "/dashboard/login", form: [("token", "s3cret-token")])
            #expect(noCSRF.status == .forbidden)
            let ok = try await page.send(
                .post, "/dashboard/login", form: [("csrf", csrf), ("token", "s3cret-token"), ("next", "/?status=pending")])
            #expect(ok.status == .seeOther)
            #expect(ok.headers[.location] == "/?status=pending")
            let set = ok.headers[values: .setCookie].first { $0.hasPrefix("ns_session=") } ?? ""
            #expect(set.contains("HttpOnly") && set.contains("SameSite=Strict") && set.contains("Path=/"), "\(set)")
            #expect(!set.contains("s3cret-token"), "the cookie is not the token")
            #expect(try await page.get("/").status == .ok)
            // Reads of the JSON API (the event stream's browser) work with the session...
            #expect(try await page.get("/api/agent/tasks/count").status == .ok)
            // ...but a JSON mutation still needs the bearer token.
            let patch = try await page.send(
                .patch, "/api/agent/tasks/\(task.id)", headers: [.contentType: "application/json"])
            #expect(patch.status == .unauthorized)
            // The dashboard's form, with the session and its CSRF token, may.
            let formCSRF = try #require(PageClient.csrf(try await page.get("/")))
            let cancel = try await page.send(.post, "/dashboard/tasks/\(task.id)/cancel", form: [("csrf", formCSRF)])
            #expect(cancel.status == .seeOther)
            #expect(try await h.store.get(task.id).status == .cancelled)
        }
    }

    @Test("off loopback a forged session cookie opens nothing")
    func forgedSession() async throws {
        let h = try APIHarness {
            $0.server.host = "0.0.0.0"
            $0.server.token = "t0ken"
        }
        try await h.test { client in
            var page = PageClient(client)
            page.cookies["ns_session"] = String(repeating: "a", count: 64)
            #expect(try await page.get("/").status == .seeOther)
            #expect(try await page.get("/api/agent/tasks").status == .unauthorized)
            let bearer = try await page.send(.get, "/", headers: [.authorization: "Bearer t0ken"])
            #expect(bearer.status == .ok, "a bearer token opens the pages too")
        }
    }
}
