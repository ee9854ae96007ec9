import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import NightshiftCore

/// Which requests need `Authorization: Bearer <token>` (issue 9, point 10).
///
/// - With a token configured, every mutating request needs it, even on loopback.
/// - Off loopback (`server.host` is not 127.0.0.0/8, ::1 or localhost) every request needs it,
///   reads included, except `/api/health` and `/api/ready` (probes of load balancers and the
///   watchdog) and, with `server.metrics_public`, `/metrics`.
/// - The Telegram webhook never needs it: Telegram cannot send one, and the route checks its own
///   secret-token header.
///
/// - The dashboard's pages (`/`, `/dashboard/...`, `/runs/...`) check the session themselves, so
///   that a browser without one is sent to the login page rather than given a 401; and a browser
///   that signed in there (the `ns_session` cookie, `DashboardAuth`) may read every route, the
///   event stream included, but changes things only through the dashboard's CSRF-checked forms.
///
/// The decision uses only the method and the path, never whether a route or a task exists, so a
/// refused request cannot tell an existing task from a missing one.
struct AccessPolicy: Sendable {
    let token: String
    let offLoopback: Bool
    let metricsPublic: Bool

    init(token: String, offLoopback: Bool, metricsPublic: Bool) {
        self.token = token
        self.offLoopback = offLoopback
        self.metricsPublic = metricsPublic
    }

    /// The value of the dashboard's session cookie: derived from the token, so it is good for as
    /// long as the token is (across restarts) and tells nothing about it. Empty without a token.
    var dashboardSession: String {
        guard !token.isEmpty else { return "" }
        let mac = HMAC<SHA256>.authenticationCode(
            for: Data("nightshift-dashboard-session-v1".utf8), using: SymmetricKey(data: Data(token.utf8)))
        return mac.map { String(format: "%02x", $0) }.joined()
    }

    /// Whether the dashboard asks for the token (and its forms need the session).
    var dashboardNeedsLogin: Bool { !token.isEmpty || offLoopback }

    /// The dashboard's pages, which check the session themselves.
    static func isPage(_ path: String) -> Bool {
        path == "/" || path == "/dashboard" || path.hasPrefix("/dashboard/") || path.hasPrefix("/runs/")
    }

    /// Whether the request carries the dashboard's session cookie.
    func hasSession(_ request: Request) -> Bool {
        let session = dashboardSession
        guard !session.isEmpty, let cookie = request.cookies[DashboardCookies.session]?.value else { return false }
        return constantTimeEquals(cookie, session)
    }

    init(_ server: NightshiftConfig.Server) {
        self.init(
            token: server.token, offLoopback: !NightshiftConfig.isLoopback(host: server.host), metricsPublic: server.metricsPublic
        )
    }

    static let telegramWebhook = "/api/agent/telegram/webhook"
    static let probes: Set<String> = ["/api/health", "/api/ready"]
    static let reading: Set<HTTPRequest.Method> = [.get, .head, .options]

    /// Whether a request with this method and path must carry the token.
    func needsToken(_ method: HTTPRequest.Method, path: String) -> Bool {
        // The router ignores repeated and trailing slashes; so must the policy.
        let path = "/" + path.split(separator: "/").joined(separator: "/")
        if path == Self.telegramWebhook || Self.isPage(path) { return false }
        if !Self.reading.contains(method) { return !token.isEmpty || offLoopback }
        guard offLoopback else { return false }
        if Self.probes.contains(path) { return false }
        if path == "/metrics" && metricsPublic { return false }
        return true
    }

    /// Whether the request carries the configured token. An empty token matches nothing, so a
    /// daemon started off loopback without one (config validation refuses that) fails closed.
    func authorized(_ request: Request) -> Bool {
        guard !token.isEmpty else { return false }
        if constantTimeEquals(request.headers[.authorization] ?? "", "Bearer \(token)") { return true }
        return Self.reading.contains(request.method) && hasSession(request)
    }
}

/// Enforces `AccessPolicy` before routing, so unknown ids and unknown paths get the same 401 as
/// known ones. The problem never echoes the header or the token.
struct BearerAuthMiddleware<Context: RequestContext>: RouterMiddleware {
    let policy: AccessPolicy
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response
    {
        guard !policy.needsToken(request.method, path: request.uri.path) || policy.authorized(request) else {
            var response = Problem.response(
                Problem(
                    .unauthorized, type: "unauthorized", title: "Unauthorized",
                    detail: "send Authorization: Bearer <token> (server.token / NIGHTSHIFT_API_TOKEN)"))
            response.headers[.wwwAuthenticate] = "Bearer"
            return response
        }
        return try await next(request, context)
    }
}

/// Compares secrets in time that does not depend on where they differ.
func constantTimeEquals(_ given: String, _ expected: String) -> Bool {
    let a = Array(given.utf8)
    let b = Array(expected.utf8)
    var diff: UInt8 = a.count == b.count ? 0 : 1
    for i in 0..<min(a.count, b.count) { diff |= a[i] ^ b[i] }
    return diff == 0
}
