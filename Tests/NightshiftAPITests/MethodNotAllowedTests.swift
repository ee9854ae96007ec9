import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing

@testable import NightshiftAPI

/// A known path with a method it does not serve is a 405 with `Allow`; an unknown path is a 404.
@Suite("API: 405 with Allow for unlisted methods")
struct MethodNotAllowedTests {
    static let unlisted: [HTTPRequest.Method] = [.put, .delete, .trace, .options, .head, HTTPRequest.Method("PURGE")!]

    /// The spec's methods per path, e.g. `/api/agent/tasks/{id}` → "GET, PATCH".
    static func specAllow() throws -> [String: String] {
        var byPath: [String: [String]] = [:]
        for op in try OpenAPISpec.load().operations {
            let parts = op.key.split(separator: " ", maxSplits: 1).map(String.init)
            byPath[parts[1], default: []].append(parts[0])
        }
        return byPath.mapValues { $0.sorted().joined(separator: ", ") }
    }

    @Test("every path of the spec answers each method it does not list with 405 and the spec's methods in Allow")
    func everyPath() async throws {
        let h = try APIHarness()
        let allow = try Self.specAllow()
        #expect(allow["/api/agent/tasks/{id}"] == "GET, PATCH")
        try await h.test { client in
            for (template, methods) in allow {
                let path = template.replacingOccurrences(of: "{id}", with: unknownTaskID)
                for method in Self.unlisted + [.get, .post, .patch]
                where !methods.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }).contains(method.rawValue) {
                    let r = try await client.send(method, path)
                    try expectProblem(r, .methodNotAllowed, type: "method_not_allowed")
                    #expect(r.headers[.allow] == methods, "\(method) \(path): Allow \(r.headers[.allow] ?? "-")")
                }
            }
        }
    }

    @Test("a literal segment wins over {id}: /api/agent/tasks/count allows GET only")
    func literalBeatsParameter() async throws {
        let h = try APIHarness()
        try await h.test { client in
            let r = try await client.send(.patch, "/api/agent/tasks/count", json: #"{"priority":1}"#)
            try expectProblem(r, .methodNotAllowed)
            #expect(r.headers[.allow] == "GET")
            let task = try await client.send(.delete, "/api/agent/tasks/whatever")
            #expect(task.headers[.allow] == "GET, PATCH")
            let trailing = try await client.send(.put, "/api/health/")
            #expect(trailing.status == .methodNotAllowed, "the router ignores a trailing slash; so does Allow")
        }
    }

    @Test("an unknown path is a 404 for every method, listed or not")
    func unknownPaths() async throws {
        let h = try APIHarness()
        try await h.test { client in
            for path in ["/api/nope", "/api/agent/tasks/\(unknownTaskID)/nope", "/api", "/api/health/extra", "/API/HEALTH"] {
                for method in Self.unlisted + [.get, .post, .patch] {
                    let r = try await client.send(method, path)
                    try expectProblem(r, .notFound, type: "not_found")
                    #expect(r.headers[.allow] == nil)
                }
            }
        }
    }

    @Test("served methods are untouched: a GET of an unknown task id is still the route's 404")
    func servedMethods() async throws {
        let h = try APIHarness()
        try await h.test { client in
            #expect(try await client.get("/api/health").status == .ok)
            try expectProblem(try await client.get("/api/agent/tasks/\(unknownTaskID)"), .notFound, type: "not_found")
        }
    }

    @Test("RouteTable resolves like the router: literal first, parameters match one segment")
    func routeTable() {
        let table = RouteTable([
            ("GET", "/a/{id}"), ("PATCH", "/a/{id}"), ("GET", "/a/count"), ("POST", "/a"), ("GET", "/a"), ("GET", "/a/{id}/log"),
        ])
        #expect(table.methods(for: "/a") == ["GET", "POST"])
        #expect(table.methods(for: "/a/count") == ["GET"])
        #expect(table.methods(for: "/a/x") == ["GET", "PATCH"])
        #expect(table.methods(for: "/a/x/log") == ["GET"])
        #expect(table.methods(for: "//a//x/") == ["GET", "PATCH"])
        #expect(table.methods(for: "/a/x/y") == nil)
        #expect(table.methods(for: "/b") == nil)
        #expect(table.methods(for: "/") == nil)
    }
}
