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
        if path == Self.telegramWebhook { return false }
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
        return constantTimeEquals(request.headers[.authorization] ?? "", "Bearer \(token)")
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
