import Foundation
import HTTPTypes
import HummingbirdTesting
import NightshiftCore
import Testing

@Suite("API: bearer token on mutating requests")
struct AuthTests {
    static let token = "s3cret"
    static let wrong: [HTTPFields] = [
        [:], [.authorization: "Bearer nope"], [.authorization: "s3cret"], [.authorization: "Bearer s3cret2"],
        [.authorization: "Bearer s3cre"], [.authorization: "Basic czNjcmV0"], [.authorization: "Bearer "],
        [.authorization: "bearer  s3cret"],
    ]

    @Test("POST without the right token is a 401 problem and creates nothing")
    func postRefused() async throws {
        let h = try APIHarness { $0.server.token = Self.token }
        try await h.test { client in
            for headers in Self.wrong {
                let r = try await client.post(#"{"direction":"x","task_type":"impl"}"#, headers: headers)
                try expectProblem(r, .unauthorized, type: "unauthorized")
                #expect(r.text.contains(Self.token) == false, "the problem never echoes the token")
            }
        }
        #expect(try await h.store.countByStatus().values.reduce(0, +) == 0)
    }

    @Test("PATCH without the right token is a 401 problem and changes nothing")
    func patchRefused() async throws {
        let h = try APIHarness { $0.server.token = Self.token }
        let t = try await h.needsDecision()
        try await h.test { client in
            for headers in Self.wrong {
                try expectProblem(try await client.patch(t.id, #"{"decision":"yes"}"#, headers: headers), .unauthorized)
                try expectProblem(try await client.patch(t.id, #"{"status":"cancelled"}"#, headers: headers), .unauthorized)
            }
        }
        let stored = try await h.store.get(t.id)
        #expect(stored.status == .needsDecision)
        #expect(stored.decision == nil)
    }

    @Test("the right token lets POST and PATCH through")
    func rightToken() async throws {
        let h = try APIHarness { $0.server.token = Self.token }
        let waiting = try await h.needsDecision()
        try await h.test { client in
            let auth: HTTPFields = [.authorization: "Bearer \(Self.token)"]
            let r = try await client.post(#"{"direction":"x","task_type":"impl"}"#, headers: auth)
            #expect(r.status == .created, "\(r.text)")
            let d = try await client.patch(waiting.id, #"{"decision":"yes"}"#, headers: auth)
            #expect(d.status == .ok)
            #expect(try d.json()["status"].string == "pending")
        }
        #expect(try await h.store.countByStatus()[.pending] == 2)
    }

    @Test("on loopback, reads need no token")
    func readsAreOpen() async throws {
        let h = try APIHarness { $0.server.token = Self.token }
        let t = try await h.pending()
        try await h.test { client in
            for uri in [
                "/api/health", "/api/ready", "/api/version", "/api/agent/tasks", "/api/agent/tasks/count",
                "/api/agent/tasks/\(t.id)",
                "/api/agent/tasks/\(t.id)/log", "/api/agent/pipeline-status", "/api/agent/metrics", "/api/agent/monitor-issues",
                "/api/agent/fatal-issues", "/api/agent/effectiveness", "/metrics",
            ] {
                let r = try await client.get(uri)
                #expect(r.status == .ok, "GET \(uri): \(r.status)")
            }
        }
    }

    @Test("without a configured token, mutating requests need none")
    func noToken() async throws {
        let h = try APIHarness()
        #expect(h.config.server.token.isEmpty)
        try await h.test { client in
            let r = try await client.post(#"{"direction":"x","task_type":"impl"}"#)
            #expect(r.status == .created)
        }
    }
}
