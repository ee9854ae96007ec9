import Crypto
import Foundation
import HTTPTypes
import Hummingbird

/// The names of the dashboard's cookies.
enum DashboardCookies {
    /// Proof of the token (`AccessPolicy.dashboardSession`), set by the login form.
    static let session = "ns_session"
    /// A random id per browser, that the forms' CSRF tokens are bound to.
    static let client = "ns_sid"
}

/// The dashboard's access rules (issue 14, point 2): on loopback with no token it is open;
/// otherwise a browser signs in once with the token and keeps the session in an `HttpOnly`,
/// `SameSite=Strict` cookie. Every form that changes something carries a CSRF token: an HMAC,
/// under a secret made when the process starts, of the browser's `ns_sid` cookie.
struct DashboardAuth: Sendable {
    let policy: AccessPolicy
    let secret: SymmetricKey

    init(policy: AccessPolicy, secret: SymmetricKey = SymmetricKey(size: .bits256)) {
        self.policy = policy
        self.secret = secret
    }

    /// Whether this request may see the dashboard.
    func signedIn(_ request: Request) -> Bool {
        !policy.dashboardNeedsLogin || policy.hasSession(request)
            || (!policy.token.isEmpty && constantTimeEquals(request.headers[.authorization] ?? "", "Bearer \(policy.token)"))
    }

    /// The browser's client id, and whether it is new (then `cookies(for:)` sets it).
    func clientID(_ request: Request) -> (id: String, isNew: Bool) {
        if let v = request.cookies[DashboardCookies.client]?.value, v.count == 32, v.allSatisfy(\.isHexDigit) {
            return (v, false)
        }
        var rng = SystemRandomNumberGenerator()
        let hex = (0..<2).map { _ in String(format: "%016llx", rng.next() as UInt64) }.joined()
        return (hex, true)
    }

    /// The CSRF token of a client id.
    func csrfToken(client: String) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Data("csrf:\(client)".utf8), using: secret)
        return mac.map { String(format: "%02x", $0) }.joined()
    }

    /// Whether a form's `csrf` field belongs to the browser that sent it.
    func checkCSRF(_ request: Request, form: [String: String]) -> Bool {
        guard let client = request.cookies[DashboardCookies.client]?.value, let given = form["csrf"], !given.isEmpty else {
            return false
        }
        return constantTimeEquals(given, csrfToken(client: client))
    }

    /// `Set-Cookie` for a new client id.
    static func clientCookie(_ id: String) -> Cookie {
        Cookie(name: DashboardCookies.client, value: id, path: "/", httpOnly: true, sameSite: .strict)
    }

    /// `Set-Cookie` for a session.
    func sessionCookie() -> Cookie {
        Cookie(
            name: DashboardCookies.session, value: policy.dashboardSession, maxAge: 30 * 86_400, path: "/", httpOnly: true,
            sameSite: .strict)
    }

    /// `Set-Cookie` that removes the session from this browser (sign out).
    static func clearedSessionCookie() -> Cookie {
        Cookie(
            name: DashboardCookies.session, value: "", expires: Date(timeIntervalSince1970: 0), maxAge: 0, path: "/",
            httpOnly: true, sameSite: .strict)
    }

    /// Whether signing out means anything: a token is in force, so a browser holds a session.
    var canSignOut: Bool { !policy.token.isEmpty }

    /// Whether the token given at the login form is the configured one.
    func tokenMatches(_ given: String) -> Bool {
        !policy.token.isEmpty && constantTimeEquals(given, policy.token)
    }

    /// A path inside this site to go back to (`next`, `back`), so that a form cannot send the
    /// browser elsewhere.
    static func localPath(_ given: String?, default fallback: String = "/") -> String {
        guard let given, given.hasPrefix("/"), !given.hasPrefix("//"), !given.contains("\\"),
            !given.unicodeScalars.contains(where: { $0.value < 0x20 })
        else { return fallback }
        return given
    }
}

/// `application/x-www-form-urlencoded` bodies and query strings.
enum FormBody {
    /// Fields of a form body (the last value of a repeated name wins); 413 past `limit`.
    static func parse(_ request: Request, limit: Int) async throws -> [String: String] {
        let buffer = try await RequestBody.collect(request, limit: limit)
        return decode(String(decoding: buffer.readableBytesView, as: UTF8.self))
    }

    static func decode(_ text: String) -> [String: String] {
        var out: [String: String] = [:]
        for pair in text.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func unescape(_ s: Substring) -> String {
                String(s).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? ""
            }
            out[unescape(parts[0])] = parts.count > 1 ? unescape(parts[1]) : ""
        }
        return out
    }

    /// `a=1&b=2` with each name and value escaped for a URL query.
    static func encode(_ pairs: [(String, String)]) -> String {
        pairs.map { "\(escape($0.0))=\(escape($0.1))" }.joined(separator: "&")
    }

    /// One name or value escaped for a URL query (only unreserved characters stay).
    static func escape(_ text: String) -> String {
        var allowed = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
    }
}
