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
            "GET /api/agent/events", "GET /metrics", "GET /api/agent/dlq", "POST /api/agent/dlq/reprocess",
            "POST /api/agent/dlq/cleanup",
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
            "GET /api/agent/dlq": ["401", "422"],
            "POST /api/agent/dlq/reprocess": ["400", "401", "404", "409", "413", "422"],
            "POST /api/agent/dlq/cleanup": ["400", "401", "413", "422"],
        ]
        for (key, codes) in expected {
            let responses = try #require(ops[key]?["responses"] as? [String: Any], "\(key) is in the spec")
            for code in codes { #expect(responses[code] != nil, "\(key) documents \(code)") }
        }
    }

    /// What `AccessPolicy` lets through without a token off loopback (`/metrics` only when
    /// `server.metrics_public` is set, so the spec documents its 401).
    static let openOffLoopback: Set<String> = ["GET /api/health", "GET /api/ready", "POST /api/agent/telegram/webhook"]

    @Test("every operation that can need the token documents 401; the ones that never do declare no security")
    func unauthorizedDocumented() throws {
        let spec = try OpenAPISpec.load()
        let global = try #require(spec.root["security"] as? [Any], "the spec declares the bearer scheme globally")
        #expect(global.count == 2, "bearer, or nothing (loopback reads): \(global)")
        for (key, op) in spec.operations {
            let responses = op["responses"] as? [String: Any] ?? [:]
            if Self.openOffLoopback.contains(key) {
                #expect((op["security"] as? [Any])?.isEmpty == true, "\(key) needs no token: security: []")
                #expect(responses["401"] == nil, "\(key) never answers 401")
            } else {
                #expect(responses["401"] != nil, "\(key) documents 401")
                #expect(op["security"] == nil, "\(key) follows the global security")
            }
        }
    }

    @Test("request schemas refuse unknown keys, as the server does; a patch takes decision or status, not both")
    func requestSchemas() throws {
        let spec = try OpenAPISpec.load()
        let schemas = try #require((spec.root["components"] as? [String: Any])?["schemas"] as? [String: Any])
        for name in ["NewTask", "TaskPatch"] {
            let schema = try #require(schemas[name] as? [String: Any])
            #expect(schema["additionalProperties"] as? Bool == false, "\(name)")
        }
        let patch = try #require(schemas["TaskPatch"] as? [String: Any])
        let not = try #require(patch["not"] as? [String: Any])
        #expect(Set(not["required"] as? [String] ?? []) == ["decision", "status"])
        let newTask = try #require(schemas["NewTask"] as? [String: Any])
        let executor = try #require((newTask["properties"] as? [String: Any])?["executor"] as? [String: Any])
        #expect(Set(executor["type"] as? [String] ?? []) == ["string", "null"], "executor null means absent")
        #expect(executor["minLength"] as? Int == 1, "an empty executor name is refused")
    }
}

/// The query patterns of `GET /api/agent/tasks` against the server, value by value.
@Suite("API: the list filters accept what their spec patterns accept")
struct ListFilterPatternTests {
    static func pattern(_ name: String) throws -> NSRegularExpression {
        let spec = try OpenAPISpec.load()
        let op = try #require(spec.operations.first { $0.key == "GET /api/agent/tasks" }?.operation)
        let params = (op["parameters"] as? [Any] ?? []).compactMap { $0 as? [String: Any] }
        let p = try #require(params.first { $0["name"] as? String == name })
        let schema = try #require(p["schema"] as? [String: Any])
        return try NSRegularExpression(pattern: try #require(schema["pattern"] as? String))
    }

    static func matches(_ re: NSRegularExpression, _ value: String) -> Bool {
        re.firstMatch(in: value, range: NSRange(value.startIndex..., in: value)) != nil
    }

    @Test(
        "status and task_type: a value the pattern allows is a 200 (for configured types), any other a 422",
        arguments: [
            ("status", "pending", true), ("status", "pending,running", true), ("status", " failed , completed ", true),
            ("status", "", false), ("status", "pending,", false), ("status", ",pending", false), ("status", "Pending", false),
            ("task_type", "impl", true), ("task_type", "impl,test", true), ("task_type", "test , impl", true),
            ("task_type", "", false), ("task_type", "impl,,test", false), ("task_type", "IMPL", false),
            ("task_type", "9x", false),
        ])
    func sameVerdict(_ name: String, _ value: String, _ valid: Bool) async throws {
        #expect(Self.matches(try Self.pattern(name), value) == valid, "the spec's pattern for \(name) on \"\(value)\"")
        let h = try APIHarness()
        let query = value.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? value
        try await h.test { client in
            let r = try await client.get("/api/agent/tasks?\(name)=\(query)")
            #expect(r.status == (valid ? .ok : .unprocessableContent), "\(name)=\"\(value)\": \(r.text)")
        }
    }
}
