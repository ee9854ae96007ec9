import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing

@testable import NightshiftAPI

/// `AccessPolicy` alone: which (method, path) pairs need the token.
@Suite("AccessPolicy")
struct AccessPolicyTests {
    @Test("loopback with a token: only mutations need it; without a token nothing does")
    func loopback() {
        let withToken = AccessPolicy(token: "t", offLoopback: false, metricsPublic: false)
        #expect(!withToken.needsToken(.get, path: "/api/agent/tasks"))
        #expect(!withToken.needsToken(.get, path: "/metrics"))
        #expect(withToken.needsToken(.post, path: "/api/agent/tasks"))
        #expect(withToken.needsToken(.patch, path: "/api/agent/tasks/x"))
        #expect(withToken.needsToken(.delete, path: "/api/health"))
        #expect(!withToken.needsToken(.post, path: "/api/agent/telegram/webhook"))
        let open = AccessPolicy(token: "", offLoopback: false, metricsPublic: false)
        #expect(!open.needsToken(.post, path: "/api/agent/tasks"))
    }

    @Test("off loopback: everything but the probes, public metrics and the webhook; slashes do not matter")
    func offLoopback() {
        let p = AccessPolicy(token: "t", offLoopback: true, metricsPublic: true)
        for path in ["/api/agent/tasks", "/api/version", "/api/health/x", "/api/healthz", "/API/health", "/dashboardx"] {
            #expect(p.needsToken(.get, path: path), "\(path)")
        }
        // The dashboard's pages check the session cookie themselves (DashboardAuthTests).
        for path in ["/", "/dashboard/login", "//dashboard//tasks/x", "/runs/run_20261201_220000_a1b2"] {
            #expect(!p.needsToken(.get, path: path), "\(path)")
        }
        for path in ["/api/health", "/api/ready", "//api//health/", "/metrics", "/api/agent/telegram/webhook"] {
            #expect(!p.needsToken(.get, path: path), "\(path)")
        }
        #expect(p.needsToken(.post, path: "/api/ready"))
        #expect(AccessPolicy(token: "t", offLoopback: true, metricsPublic: false).needsToken(.get, path: "/metrics"))
    }

    @Test("an empty token authorizes nothing, so a misconfigured daemon fails closed")
    func emptyToken() async throws {
        let p = AccessPolicy(token: "", offLoopback: true, metricsPublic: false)
        #expect(p.needsToken(.get, path: "/api/agent/tasks"))
        let h = try APIHarness { $0.server.host = "0.0.0.0" }
        try await h.test { client in
            for value in ["Bearer ", "Bearer", ""] {
                try expectProblem(
                    try await client.send(.get, "/api/agent/tasks", headers: [.authorization: value]), .unauthorized)
            }
            #expect(try await client.get("/api/health").status == .ok)
        }
    }
}
