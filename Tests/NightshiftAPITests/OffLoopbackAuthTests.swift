import Foundation
import HTTPTypes
import HummingbirdTesting
import NightshiftCore
import Testing

/// Off loopback (issue 9, point 10): every route needs the token except the probes, `/metrics`
/// per `server.metrics_public`, and the Telegram webhook (its own secret header).
@Suite("API: off loopback, reads need the token too")
struct OffLoopbackAuthTests {
    static let token = AuthTests.token
    static let auth: HTTPFields = [.authorization: "Bearer \(token)"]

    static func offLoopback(_ c: inout NightshiftConfig) {
        c.server.host = "0.0.0.0"
        c.server.token = token
    }

    /// Every GET route of the router with `{id}` filled in, so a route added later is covered.
    /// Every GET route, with a task's id (or, for a run's route, a run that exists) filled in.
    static func readRoutes(_ h: APIHarness, id: String) throws -> [String] {
        let run = "run_20261201_220000_auth"
        try RunRouteTests.writeRun(h, run, startedAt: APIHarness.startedAt, ended: true)
        return h.build().routes.filter { $0.method == "GET" }.map {
            $0.path.hasPrefix("/api/agent/runs/")
                ? $0.path.replacingOccurrences(of: "{id}", with: run) : $0.path.replacingOccurrences(of: "{id}", with: id)
        }
    }

    @Test("without the right token every read but /api/health and /api/ready is a 401 problem")
    func readsRefused() async throws {
        let h = try APIHarness(configure: Self.offLoopback)
        let t = try await h.pending()
        let routes = try Self.readRoutes(h, id: t.id)
        #expect(routes.contains("/api/agent/tasks") && routes.contains("/api/agent/tasks/\(t.id)/log"))
        try await h.test { client in
            for uri in routes where !["/api/health", "/api/ready"].contains(uri) {
                for headers in AuthTests.wrong {
                    let r = try await client.send(.get, uri, headers: headers)
                    try expectProblem(r, .unauthorized, type: "unauthorized")
                    #expect(r.headers[.wwwAuthenticate] == "Bearer", "GET \(uri)")
                    #expect(!r.text.contains("do the thing"), "a refused read leaks nothing of the task: \(uri)")
                }
            }
        }
    }

    @Test("with the token the reads answer; the probes answer without it")
    func readsWithToken() async throws {
        let h = try APIHarness(configure: Self.offLoopback)
        let t = try await h.pending()
        _ = try await h.logs.service.clear(callbackURL: nil)
        try await h.test { client in
            for uri in ["/api/health", "/api/ready"] {
                #expect(try await client.get(uri).status == .ok, "\(uri) is open for probes")
            }
            for uri in try Self.readRoutes(h, id: t.id) where uri != "/api/agent/events" && uri != "/api/logs/tail" {
                let r = try await client.send(.get, uri, headers: Self.auth)
                #expect(r.status == .ok, "GET \(uri) with the token: \(r.status) \(r.text)")
            }
            let list = try await client.send(.get, "/api/agent/tasks", headers: Self.auth)
            #expect(try list.json()["tasks"][0]["direction"].string == "do the thing")
        }
    }

    @Test("a refused request looks the same for a task that exists, one that does not, and a path that does not")
    func noExistenceOracle() async throws {
        let h = try APIHarness(configure: Self.offLoopback)
        let t = try await h.pending()
        try await h.test { client in
            for headers in AuthTests.wrong {
                var bodies: Set<String> = []
                for (method, uri, json) in [
                    (HTTPRequest.Method.get, "/api/agent/tasks/\(t.id)", nil), (.get, "/api/agent/tasks/\(unknownTaskID)", nil),
                    (.get, "/api/agent/tasks/\(t.id)/log", nil), (.get, "/api/agent/tasks/\(unknownTaskID)/log", nil),
                    (.get, "/api/agent/tasks/nope", nil), (.get, "/api/no/such/path", nil),
                    (.patch, "/api/agent/tasks/\(t.id)", #"{"priority":1}"#),
                    (.patch, "/api/agent/tasks/\(unknownTaskID)", #"{"priority":1}"#),
                    (.put, "/api/agent/tasks/\(t.id)", "{}"), (.delete, "/api/agent/tasks/\(unknownTaskID)", nil),
                ] as [(HTTPRequest.Method, String, String?)] {
                    let r = try await client.send(method, uri, json: json, headers: headers)
                    try expectProblem(r, .unauthorized, type: "unauthorized")
                    bodies.insert(r.text)
                }
                #expect(bodies.count == 1, "one 401 body for all: \(bodies)")
            }
        }
        #expect(try await h.store.get(t.id).priority == 0)
    }

    @Test("/metrics needs the token off loopback unless server.metrics_public is set", arguments: [false, true])
    func metrics(_ metricsPublic: Bool) async throws {
        let h = try APIHarness {
            Self.offLoopback(&$0)
            $0.server.metricsPublic = metricsPublic
        }
        try await h.test { client in
            let open = try await client.get("/metrics")
            if metricsPublic {
                #expect(open.status == .ok)
                #expect(open.text.contains("nightshift_tasks"))
            } else {
                try expectProblem(open, .unauthorized)
            }
            #expect(try await client.send(.get, "/metrics", headers: Self.auth).status == .ok)
            try expectProblem(try await client.get("/api/agent/tasks"), .unauthorized, type: "unauthorized")
        }
    }

    @Test("mutations need the token; probes take no POST without it either")
    func mutations() async throws {
        let h = try APIHarness(configure: Self.offLoopback)
        try await h.test { client in
            try expectProblem(try await client.post(#"{"direction":"x","task_type":"impl"}"#), .unauthorized)
            try expectProblem(try await client.send(.post, "/api/health", json: "{}"), .unauthorized)
            let created = try await client.post(#"{"direction":"x","task_type":"impl"}"#, headers: Self.auth)
            #expect(created.status == .created, "\(created.text)")
        }
        #expect(try await h.store.countByStatus()[.pending] == 1)
    }

    @Test("the Telegram webhook keeps its own secret header and needs no bearer token")
    func telegramExempt() async throws {
        let h = try APIHarness {
            Self.offLoopback(&$0)
            ProjectManagerAndChatRouteTests.telegram(&$0)
        }
        let header = ProjectManagerAndChatRouteTests.secretHeader
        let update = ProjectManagerAndChatRouteTests.update(from: 42, text: "/status")
        try await h.test { client in
            let ok = try await client.send(.post, "/api/agent/telegram/webhook", json: update, headers: [header: "tg-secret"])
            #expect(ok.status == .ok, "\(ok.text)")
            #expect(try ok.json()["method"].string == "sendMessage")
            let wrong = try await client.send(.post, "/api/agent/telegram/webhook", json: update, headers: [header: "nope"])
            try expectProblem(wrong, .forbidden, type: "bad_secret")
        }
    }

    @Test("over real loopback HTTP: a daemon configured for 0.0.0.0 refuses reads without the token")
    func live() async throws {
        let h = try APIHarness(configure: Self.offLoopback)
        let t = try await h.pending()
        try await h.live { client in
            try expectProblem(try await client.get("/api/agent/tasks"), .unauthorized, type: "unauthorized")
            try expectProblem(try await client.get("/api/agent/tasks/\(t.id)/log"), .unauthorized)
            #expect(try await client.send(.get, "/api/agent/tasks", headers: Self.auth).status == .ok)
            #expect(try await client.get("/api/health").status == .ok)
            #expect(try await client.get("/api/ready").status == .ok)
        }
    }
}
