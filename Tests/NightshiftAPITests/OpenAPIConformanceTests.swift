import Foundation
import Testing

@Suite("API: api/openapi.yaml matches the router")
struct OpenAPIConformanceTests {
    @Test("the spec and the router have exactly the same (method, path) pairs")
    func sameRoutes() throws {
        let spec = try OpenAPISpec.load()
        let h = try APIHarness()
        let routes = h.build().routes
        let served = Set(routes.map { "\($0.method.uppercased()) \($0.path)" })
        #expect(served.count == routes.count, "no route is registered twice: \(routes)")
        let documented = Set(spec.operations.map(\.key))
        let (notInSpec, notServed) = OpenAPISpec.diff(spec: documented, server: served)
        #expect(notInSpec.isEmpty, "routes the spec lacks: \(notInSpec)")
        #expect(notServed.isEmpty, "operations in the spec that no route serves: \(notServed)")
        // The contract of DESIGN.md, so a route dropped from both places is caught too.
        for route in [
            "GET /api/health", "GET /api/ready", "GET /api/version", "GET /api/agent/tasks", "POST /api/agent/tasks",
            "GET /api/agent/tasks/{id}", "PATCH /api/agent/tasks/{id}", "GET /api/agent/tasks/{id}/log",
            "GET /api/agent/tasks/count", "GET /api/agent/pipeline-status", "GET /api/agent/metrics",
            "GET /api/agent/monitor-issues", "GET /api/agent/fatal-issues", "GET /api/agent/effectiveness",
            "GET /api/agent/events", "GET /metrics",
        ] {
            #expect(served.contains(route), "the router serves \(route)")
        }
    }

    @Test("the comparison reports a route on either side only")
    func diffCatchesBothDirections() {
        let (notInSpec, notServed) = OpenAPISpec.diff(
            spec: ["GET /a", "POST /b"], server: ["GET /a", "DELETE /c"])
        #expect(notInSpec == ["DELETE /c"])
        #expect(notServed == ["POST /b"])
    }

    @Test("every operation declares at least one response, and a 2xx one")
    func everyOperationResponds() throws {
        let spec = try OpenAPISpec.load()
        #expect(spec.operations.count >= 16)
        for (key, op) in spec.operations {
            let responses = op["responses"] as? [String: Any] ?? [:]
            #expect(!responses.isEmpty, "\(key) declares responses")
            #expect(responses.keys.contains { $0.hasPrefix("2") }, "\(key) declares a success response")
        }
    }

    @Test("every operation on a path with {id} declares the id parameter")
    func pathParameters() throws {
        let spec = try OpenAPISpec.load()
        for (key, op) in spec.operations where key.contains("{id}") {
            let params = op["parameters"] as? [Any] ?? []
            let declares = params.contains { p in
                guard let p = p as? [String: Any] else { return false }
                return (p["name"] as? String == "id" && p["in"] as? String == "path")
                    || (p["$ref"] as? String) == "#/components/parameters/TaskId"
            }
            #expect(declares, "\(key) declares {id}")
        }
    }

    @Test("the routes that can refuse input document their 4xx answers")
    func errorResponses() throws {
        let spec = try OpenAPISpec.load()
        let ops = Dictionary(uniqueKeysWithValues: spec.operations.map { ($0.key, $0.operation) })
        let expected: [String: [String]] = [
            "POST /api/agent/tasks": ["400", "401", "413", "422"],
            "PATCH /api/agent/tasks/{id}": ["400", "401", "404", "409", "413", "422"],
            "GET /api/agent/tasks/{id}": ["404"],
            "GET /api/agent/tasks/{id}/log": ["404", "422"],
            "GET /api/agent/tasks": ["422"],
            "GET /api/agent/monitor-issues": ["422"],
            "GET /api/ready": ["503"],
        ]
        for (key, codes) in expected {
            let responses = try #require(ops[key]?["responses"] as? [String: Any], "\(key) is in the spec")
            for code in codes { #expect(responses[code] != nil, "\(key) documents \(code)") }
        }
    }
}
