import Foundation
import HTTPTypes
import Hummingbird

/// The methods each registered path answers, matched the way Hummingbird's router matches paths
/// (same `RouterPath` elements; a literal segment beats a `{parameter}` one, so
/// `/api/agent/tasks/count` is its own path, not a task id).
struct RouteTable: Sendable {
    private let entries: [(path: RouterPath, methods: Set<String>)]

    init(_ routes: [(method: String, path: String)]) {
        var byPath: [String: Set<String>] = [:]
        var order: [String] = []
        for r in routes {
            if byPath[r.path] == nil { order.append(r.path) }
            byPath[r.path, default: []].insert(r.method.uppercased())
        }
        entries = order.map { (RouterPath($0), byPath[$0] ?? []) }
    }

    /// The methods of the registered path `path` resolves to, or nil when no path matches.
    func methods(for path: String) -> Set<String>? {
        let parts = path.split(separator: "/")
        var best: (score: [Bool], methods: Set<String>)?
        for e in entries where e.path.count == parts.count {
            guard zip(e.path, parts).allSatisfy({ $0.0 ~= $0.1 }) else { continue }
            let score = zip(e.path, parts).map { $0.0 == $0.1 }
            if best.map({ Self.isMoreLiteral(score, than: $0.score) }) ?? true { best = (score, e.methods) }
        }
        return best?.methods
    }

    /// The first segment where the two differ decides: a literal match beats a parameter.
    private static func isMoreLiteral(_ a: [Bool], than b: [Bool]) -> Bool {
        for (x, y) in zip(a, b) where x != y { return x }
        return false
    }
}

/// A known path asked with a method it does not serve is a 405 with `Allow` (RFC 9110 15.5.6);
/// an unknown path stays a 404.
///
/// Added to the router after every route, so it runs only on Hummingbird's not-found path: a
/// router middleware applies to the routes registered after it, and to the not-found responder,
/// which `buildResponder()` wraps in every middleware. Bearer auth runs before it.
struct MethodNotAllowedMiddleware<Context: RequestContext>: RouterMiddleware {
    let table: RouteTable

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response
    {
        guard let methods = table.methods(for: request.uri.path), !methods.contains(request.method.rawValue) else {
            return try await next(request, context)
        }
        let allow = methods.sorted().joined(separator: ", ")
        var response = Problem.response(
            Problem(
                .methodNotAllowed, type: "method_not_allowed", title: "Method Not Allowed",
                detail: "\(request.method.rawValue) is not allowed on \(request.uri.path) (allowed: \(allow))"))
        response.headers[.allow] = allow
        return response
    }
}
