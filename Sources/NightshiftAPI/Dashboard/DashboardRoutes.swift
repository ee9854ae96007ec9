import Foundation
import HTTPTypes
import Hummingbird
import NightshiftCore
import NightshiftRuntime
import NightshiftStore

/// The live dashboard (issue 14): server-rendered pages at `/` and `/dashboard/...`, kept live by
/// one `EventSource` on `/api/agent/events`: each event names the parts of the page it changes
/// (`DashboardPart`), and the page fetches those parts again, rendered here.
/// Pages are HTML (errors too, with their 4xx status); the fragments and form posts made by the
/// page's script answer problem+json on errors.
struct DashboardRoutes {
    let env: ServiceEnvironment
    let views: PipelineViews
    let auth: DashboardAuth
    let logs: LogAPI?
    let bodyLimit: Int

    func register(_ r: RouteRecorder) {
        r.page(.get, "/") { request, _ in try await page(request) { c in try await dashboard(request, c) } }
        r.page(.get, "/dashboard") { _, _ in Self.redirect("/") }
        r.page(.get, "/dashboard/login") { request, _ in try await loginPage(request, error: nil) }
        r.page(.post, "/dashboard/login") { request, _ in try await login(request) }
        r.page(.post, "/dashboard/logout") { request, _ in try await logout(request) }
        r.page(.get, "/dashboard/fragments/{part}") { request, context in
            try await fragment(request, part: context.parameters.get("part") ?? "")
        }
        r.page(.get, "/dashboard/tasks/{id}") { request, context in
            try await page(request) { c in try await taskPage(request, try taskID(context), c) }
        }
        r.page(.get, "/dashboard/tasks/{id}/summary") { request, context in
            try await taskSummary(request, try taskID(context))
        }
        for action in TaskAction.allCases {
            r.page(.post, "/dashboard/tasks/{id}/\(action.rawValue)") { request, context in
                try await act(request, id: try taskID(context), action: action)
            }
        }
        r.page(.get, "/dashboard/bulk") { request, _ in try await page(request) { c in try await bulkDryRun(request, c) } }
        r.page(.post, "/dashboard/bulk") { request, _ in try await bulk(request) }
        ReportPages(env: env, dashboard: self).register(r)
    }

    func taskID(_ context: APIContext) throws -> String {
        let id = context.parameters.get("id") ?? ""
        guard TaskID.isValid(id) else { throw Problem.notFound("no task with id \(id) (ids look like task_0123456789abcdef)") }
        return id
    }

    // MARK: - Pages

    /// What every page knows about the browser: its CSRF token.
    struct Client {
        var csrf: String
        var newID: String?
    }

    /// Runs a page: sends a browser without a session to the login page, renders errors as an
    /// HTML page with their 4xx status, and sets the client cookie on a browser's first visit.
    func page(
        _ request: Request, _ body: (Client) async throws -> (title: String, html: String, extra: [String: Any])
    )
        async throws -> Response
    {
        guard auth.signedIn(request) else {
            let next = request.uri.path + (request.uri.query.map { "?\($0)" } ?? "")
            return Self.redirect("/dashboard/login?" + FormBody.encode([("next", next)]))
        }
        let (id, isNew) = auth.clientID(request)
        let client = Client(csrf: auth.csrfToken(client: id), newID: isNew ? id : nil)
        var response: Response
        do {
            let (title, html, extra) = try await body(client)
            response = Self.html(layout(title: title, content: html, client: client, extra: extra))
        } catch let error {
            response = errorPage(error, client: client)
        }
        if let newID = client.newID { response.setCookie(DashboardAuth.clientCookie(newID)) }
        return response
    }

    /// A whole page around `content`.
    func layout(title: String, content: String, client: Client, extra: [String: Any] = [:]) -> String {
        var v: [String: Any] = [
            "title": title, "content": content, "css": DashboardAssets.css, "js": DashboardAssets.js, "csrf": client.csrf,
            "lastEvent": "", "filterQuery": "", "page": "message", "signOut": auth.canSignOut,
        ]
        for (k, x) in extra { v[k] = x }
        return DashboardTemplates.render("layout", v)
    }

    /// An error as an HTML page with its status (never a 500 for bad input).
    func errorPage(_ error: any Error, client: Client) -> Response {
        let p: Problem
        switch error {
        case let e as Problem: p = e
        case let e as StoreError: p = Problem.from(e)
        default:
            env.logs.logger("api").error("dashboard page failed: \(error)")
            p = Problem(.internalServerError, type: "internal", title: "Internal error", detail: "unexpected error; see api.log")
        }
        let content = DashboardTemplates.render(
            "message", ["heading": "\(p.status.code) \(p.title)", "text": p.detail, "back": "/"])
        return Self.html(layout(title: p.title, content: content, client: client), status: p.status)
    }

    static func html(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(
            status: status,
            headers: [
                .contentType: "text/html; charset=utf-8", .cacheControl: "no-store",
                HTTPField.Name("X-Content-Type-Options")!: "nosniff", HTTPField.Name("X-Frame-Options")!: "DENY",
                HTTPField.Name("Referrer-Policy")!: "same-origin",
            ], body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    static func redirect(_ location: String) -> Response {
        Response(status: .seeOther, headers: [.location: location, .cacheControl: "no-store"])
    }

    // MARK: - The dashboard

    func dashboard(_ request: Request, _ client: Client) async throws -> (title: String, html: String, extra: [String: Any]) {
        let filter = try DashboardFilter.parse(request.queryDictionary, knownTypes: env.config.allTaskTypes)
        // Read before the tables, so the stream replays anything that changes while they render.
        let lastEvent = try await env.store.lastEventID()
        let data = try await DashboardData.load(env: env, views: views, filter: filter)
        var filterValues: [String: String] = [:]
        for (k, v) in filter.pairs { filterValues[k] = v }
        let parts = DashboardPart.allCases.map { render($0, data, filter: filter, client: client) }
        let value: [String: Any] = [
            "filter": filterValues, "filterQuery": filter.queryString, "parts": parts.joined(separator: "\n"),
        ]
        let html = DashboardTemplates.render("dashboard", value)
        return (
            "Dashboard", html,
            ["lastEvent": "\(lastEvent)", "filterQuery": filter.queryString, "page": "dashboard", "stream": true]
        )
    }

    static func counts(_ counts: [TaskStatus: Int]) -> [[String: Any]] {
        TaskStatus.allCases.map { ["name": $0.rawValue, "value": "\(counts[$0] ?? 0)"] }
    }

    /// `GET /dashboard/tasks/{id}/summary`: the task page's live part.
    func taskSummary(_ request: Request, _ id: String) async throws -> Response {
        guard auth.signedIn(request) else { throw Self.unauthorized }
        let (cid, _) = auth.clientID(request)
        let client = Client(csrf: auth.csrfToken(client: cid), newID: nil)
        let (_, html, _) = try await taskPage(request, id, client, summaryOnly: true)
        return Self.html(html)
    }

    static let unauthorized = Problem(
        .unauthorized, type: "unauthorized", title: "Unauthorized", detail: "sign in at /dashboard/login first")

    // MARK: - Sign-in

    /// The sign-in form; `next` is where it goes after (from the query, or the form posted).
    func loginPage(
        _ request: Request, error: String?, next given: String? = nil, status: HTTPResponse.Status = .ok
    ) async throws -> Response {
        let (id, isNew) = auth.clientID(request)
        let client = Client(csrf: auth.csrfToken(client: id), newID: isNew ? id : nil)
        let next = DashboardAuth.localPath(given ?? request.uri.queryParameters.get("next").map { String($0) })
        var v: [String: Any] = ["csrf": client.csrf, "next": next]
        if let error { v["error"] = error }
        var response = Self.html(
            layout(
                title: "Sign in", content: DashboardTemplates.render("login", v), client: client, extra: ["signOut": false]),
            status: status)
        if isNew { response.setCookie(DashboardAuth.clientCookie(id)) }
        return response
    }

    func login(_ request: Request) async throws -> Response {
        let form = try await FormBody.parse(request, limit: 16 * 1024)
        guard auth.checkCSRF(request, form: form) else {
            return try await loginPage(request, error: "the form expired; try again", next: form["next"], status: .forbidden)
        }
        guard auth.tokenMatches(form["token"] ?? "") else {
            return try await loginPage(request, error: "that is not the token", next: form["next"], status: .unauthorized)
        }
        var response = Self.redirect(DashboardAuth.localPath(form["next"]))
        response.setCookie(auth.sessionCookie())
        return response
    }

    /// `POST /dashboard/logout` (with the CSRF token): clears this browser's session cookie and
    /// goes to the sign-in page. Other browsers keep theirs until the token changes.
    func logout(_ request: Request) async throws -> Response {
        let form = try await FormBody.parse(request, limit: 16 * 1024)
        guard auth.checkCSRF(request, form: form) else {
            let (id, _) = auth.clientID(request)
            return errorPage(
                Problem(
                    .forbidden, type: "csrf", title: "Forbidden",
                    detail: "the form's CSRF token does not match this browser; reload the page and try again"),
                client: Client(csrf: auth.csrfToken(client: id), newID: nil))
        }
        var response = Self.redirect("/dashboard/login")
        response.setCookie(DashboardAuth.clearedSessionCookie())
        return response
    }
}

extension RouteRecorder {
    /// A dashboard page: served and known to the 405 table, but not part of the JSON API that
    /// `api/openapi.yaml` documents.
    func page(
        _ method: HTTPRequest.Method, _ path: String,
        _ handler: @escaping @Sendable (Request, APIContext) async throws -> Response
    ) {
        pages.append((method.rawValue, path))
        router.on(RouterPath(path), method: method, use: handler)
    }
}
