import Foundation
import HTTPTypes
import HummingbirdTesting
import NightshiftCore
import Testing

@Suite("API: every error is problem+json")
struct ProblemTests {
    static let malformed = [
        #"{"direction":"#, "{", "not json", #"{'direction':'x'}"#, "\u{FEFF}\u{0}", #"{"a":1}{"#,
    ]
    static let notObjects = [#"[{"direction":"x","task_type":"impl"}]"#, #""direction""#, "42", "null", "true"]

    @Test("malformed JSON is a 400 on POST and PATCH", arguments: malformed)
    func malformedJSON(_ body: String) async throws {
        let h = try APIHarness()
        let t = try await h.pending()
        try await h.test { client in
            try expectProblem(try await client.post(body), .badRequest, type: "malformed_request")
            try expectProblem(try await client.patch(t.id, body), .badRequest, type: "malformed_request")
        }
        #expect(try await h.store.countByStatus()[.pending] == 1)
    }

    @Test("JSON that is not an object is a 400 on POST and PATCH", arguments: notObjects)
    func notAnObject(_ body: String) async throws {
        let h = try APIHarness()
        let t = try await h.pending()
        try await h.test { client in
            try expectProblem(try await client.post(body), .badRequest, type: "malformed_request")
            try expectProblem(try await client.patch(t.id, body), .badRequest, type: "malformed_request")
        }
    }

    @Test("an empty body is a 400 on POST and PATCH")
    func emptyBody() async throws {
        let h = try APIHarness()
        let t = try await h.pending()
        try await h.test { client in
            try expectProblem(try await client.send(.post, "/api/agent/tasks"), .badRequest, type: "malformed_request")
            try expectProblem(try await client.send(.post, "/api/agent/tasks", json: ""), .badRequest)
            try expectProblem(try await client.send(.patch, "/api/agent/tasks/\(t.id)"), .badRequest)
        }
    }

    @Test("an empty patch {} is a 400 and changes nothing")
    func emptyPatch() async throws {
        let h = try APIHarness()
        let t = try await h.needsDecision()
        try await h.test { client in
            let before = try await client.getJSON("/api/agent/tasks/\(t.id)")
            let p = try expectProblem(try await client.patch(t.id, "{}"), .badRequest, type: "malformed_request")
            #expect(p["detail"].string?.contains("empty") == true)
            #expect(try await client.getJSON("/api/agent/tasks/\(t.id)") == before)
        }
    }

    @Test(
        "an unknown route is a 404 problem",
        arguments: [
            "/api/nope", "/api/agent", "/api/agent/tasks/count/extra", "/api/agent/tasks/\(unknownTaskID)/log/more", "/nope",
            "/metrics/x",
        ])
    func unknownRoute(_ uri: String) async throws {
        let h = try APIHarness()
        try await h.test { client in
            try expectProblem(try await client.get(uri), .notFound, type: "not_found")
        }
    }

    @Test("a method a route does not have is a 4xx problem")
    func wrongMethod() async throws {
        let h = try APIHarness()
        let t = try await h.pending()
        try await h.test { client in
            for (method, uri) in [
                (HTTPRequest.Method.delete, "/api/agent/tasks/\(t.id)"), (.put, "/api/agent/tasks/\(t.id)"),
                (.post, "/api/health"), (.patch, "/api/agent/tasks"),
            ] {
                let r = try await client.send(method, uri, json: "{}")
                #expect((400..<500).contains(r.status.code), "\(method) \(uri): \(r.status)")
                try expectProblem(r, r.status)
            }
        }
        #expect(try await h.store.get(t.id).status == .pending)
    }

    @Test("a body over 1 MiB is a 413 on POST and PATCH, and nothing is created")
    func tooLarge() async throws {
        let h = try APIHarness()
        #expect(h.config.server.maxBodyBytes == 1024 * 1024)
        let t = try await h.pending()
        let big = #"{"direction":""# + String(repeating: "a", count: 1024 * 1024) + #"","task_type":"impl"}"#
        try await h.test { client in
            try expectProblem(try await client.post(big), .contentTooLarge, type: "body_too_large")
            try expectProblem(
                try await client.patch(t.id, #"{"decision":""# + String(repeating: "y", count: 1_100_000) + #""}"#),
                .contentTooLarge)
            // Just under the limit is read (and then refused for the direction's length, not its size).
            let under = #"{"direction":""# + String(repeating: "a", count: 1024 * 1024 - 64) + #"","task_type":"impl"}"#
            try expectProblem(try await client.post(under), .unprocessableContent, fields: ["direction"])
        }
        #expect(try await h.store.countByStatus().values.reduce(0, +) == 1)
    }

    @Test("a store refusal maps to its status: 404 unknown id on the log route too")
    func unknownLog() async throws {
        let h = try APIHarness()
        try await h.test { client in
            try expectProblem(try await client.get("/api/agent/tasks/\(unknownTaskID)/log"), .notFound, type: "not_found")
            try expectProblem(try await client.get("/api/agent/tasks/bogus/log"), .notFound, type: "not_found")
        }
    }
}
