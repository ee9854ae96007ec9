import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NightshiftAPI
import NightshiftCore
import NightshiftRuntime
import NightshiftStore
import Testing

/// The merge queue's routes through the real router: a decision's body is checked before
/// anything is asked, each refusal of the project manager maps to one problem, the item comes back.
@Suite("API: merge queue routes")
struct LandingRouteTests {
    /// The router with the harness's live views plus landing closures: item "1" waits (a
    /// decision succeeds), "2" is not waiting (409), anything else is unknown (404).
    static func router(_ h: APIHarness, decisions: Locked<[String]>, off: Bool = false) -> Router<APIContext> {
        var views = h.pipelineViews()
        views.decideLanding = { key, decision in
            decisions.withLock { $0.append("\(key) \(decision.rawValue)") }
            if off { throw ProjectManager.LandingOff() }
            switch key {
            case "1":
                var item = BacklogItem(
                    entry: BacklogEntry(
                        key: "1", position: 1, title: "Only item", body: "Only item", after: [], file: "", line: 1),
                    now: Date(timeIntervalSince1970: 1_796_000_000))
                item.state = .done
                item.landState = decision == .retry ? .queued : .skipped
                return item
            case "2":
                throw StoreError(.illegalTransition, "item 2 is landed in the merge queue; retry needs it waiting or skipped")
            default: throw StoreError(.notFound, "no backlog item \(key)")
            }
        }
        views.wipRefs = {
            [
                WIPEntry(
                    wip: .init(
                        ref: "refs/nightshift/wip/1-only-item/20261203T041500Z", slug: "1-only-item",
                        commit: String(repeating: "a", count: 40),
                        createdAt: Date(timeIntervalSince1970: 1_796_000_000), subject: "[nightshift] WIP 1-only-item: shutdown"),
                    item: "1", title: "Only item")
            ]
        }
        return APIServer.buildRouter(env: h.env, views: views, isReady: { true }, logs: h.logs).router
    }

    @Test("retry and skip reach the project manager and answer with the item")
    func decide() async throws {
        let h = try APIHarness()
        let decisions = Locked<[String]>([])
        try await Application(router: Self.router(h, decisions: decisions)).test(.router) { client in
            let retried = try await client.send(.post, "/api/agent/pm/items/1/land", json: #"{"decision": "retry"}"#)
            #expect(retried.status == .ok, "\(retried.text)")
            #expect(try retried.json()["land_state"].string == "queued")
            #expect(try retried.json()["key"].string == "1")
            let skipped = try await client.send(.post, "/api/agent/pm/items/1/land", json: #"{"decision": "skip"}"#)
            #expect(try skipped.json()["land_state"].string == "skipped")
        }
        #expect(decisions.value == ["1 retry", "1 skip"])
    }

    @Test("a bad body is a 400 or 422 naming the field, and the project manager is not asked")
    func badBodies() async throws {
        let h = try APIHarness()
        let decisions = Locked<[String]>([])
        try await Application(router: Self.router(h, decisions: decisions)).test(.router) { client in
            let path = "/api/agent/pm/items/1/land"
            try expectProblem(try await client.send(.post, path, json: "{"), .badRequest)
            try expectProblem(try await client.send(.post, path, json: "[]"), .badRequest)
            try expectProblem(try await client.send(.post, path, json: "{}"), .unprocessableContent, fields: ["decision"])
            try expectProblem(
                try await client.send(.post, path, json: #"{"decision": "merge"}"#), .unprocessableContent, fields: ["decision"])
            try expectProblem(
                try await client.send(.post, path, json: #"{"decision": 1}"#), .unprocessableContent, fields: ["decision"])
            try expectProblem(
                try await client.send(.post, path, json: #"{"decision": "retry", "force": true}"#), .unprocessableContent,
                fields: ["force"])
        }
        #expect(decisions.value.isEmpty)
    }

    @Test("unknown item 404, not waiting 409, queue off 409, project manager disabled 409 (and no WIP refs)")
    func refusals() async throws {
        let h = try APIHarness()
        let decisions = Locked<[String]>([])
        try await Application(router: Self.router(h, decisions: decisions)).test(.router) { client in
            try expectProblem(
                try await client.send(.post, "/api/agent/pm/items/nope/land", json: #"{"decision": "retry"}"#), .notFound)
            try expectProblem(
                try await client.send(.post, "/api/agent/pm/items/2/land", json: #"{"decision": "skip"}"#), .conflict)
        }
        try await Application(router: Self.router(h, decisions: decisions, off: true)).test(.router) { client in
            try expectProblem(
                try await client.send(.post, "/api/agent/pm/items/1/land", json: #"{"decision": "retry"}"#), .conflict,
                type: "landing_off")
        }
        try await h.test { client in
            try expectProblem(
                try await client.send(.post, "/api/agent/pm/items/1/land", json: #"{"decision": "retry"}"#), .conflict,
                type: "pm_disabled")
            let wip = try await client.getJSON("/api/agent/pm/wip")
            #expect(wip["count"].int == 0 && wip["wip"].array?.isEmpty == true, "no project manager, no WIP refs it knows")
        }
    }

    @Test("GET /api/agent/pm/wip lists the WIP refs with their items")
    func wip() async throws {
        let h = try APIHarness()
        try await Application(router: Self.router(h, decisions: Locked([]))).test(.router) { client in
            let body = try await client.getJSON("/api/agent/pm/wip")
            #expect(body["count"].int == 1)
            #expect(body["wip"][0]["ref"].string == "refs/nightshift/wip/1-only-item/20261203T041500Z")
            #expect(body["wip"][0]["item"].string == "1")
            #expect(body["wip"][0]["created_at"].string == "2026-11-30T00:53:20.000Z")
        }
    }
}
