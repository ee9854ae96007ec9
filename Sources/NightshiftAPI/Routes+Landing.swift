import Foundation
import Hummingbird
import NightshiftCore
import NightshiftRuntime
import NightshiftStore

/// The merge queue's routes: an operator's decision for an item waiting in it, and the WIP
/// refs that saved work from cleanups.
struct LandingRoutes {
    let views: PipelineViews
    let bodyLimit: Int

    func register(_ r: RouteRecorder) {
        r.on(.post, "/api/agent/pm/items/{key}/land") { request, context in
            try await decide(request, key: context.parameters.get("key") ?? "")
        }
        r.on(.get, "/api/agent/pm/wip") { _, _ in
            // Without a project manager there are no items, and no WIP refs it knows of.
            let refs = try await views.wipRefs?() ?? []
            return try JSONResponse.make(WIPList(wip: refs, count: refs.count))
        }
    }

    struct WIPList: Encodable {
        var wip: [WIPEntry]
        var count: Int
    }

    static let disabled = Problem(
        .conflict, type: "pm_disabled", title: "Conflict",
        detail: "the project manager is disabled (project_manager.backlog is empty)")

    /// `{"decision": "retry" | "skip"}` → the item as it is now.
    func decide(_ request: Request, key: String) async throws -> Response {
        let body = try await RequestBody.object(request, limit: bodyLimit)
        var errors = RequestBody.unknownKeys(body, allowed: ["decision"])
        var decision: LandDecision?
        if let v = body["decision"] {
            if let text = RequestBody.string(v, "decision", &errors) {
                decision = LandDecision(rawValue: text)
                if decision == nil { errors.append(.init(field: "decision", message: "must be retry or skip")) }
            }
        } else {
            errors.append(.init(field: "decision", message: "is required (retry or skip)"))
        }
        guard errors.isEmpty, let decision else { throw Problem.invalid(errors) }
        guard let decide = views.decideLanding else { throw Self.disabled }
        do {
            return try JSONResponse.make(try await decide(key, decision))
        } catch let off as ProjectManager.LandingOff {
            throw Problem(.conflict, type: "landing_off", title: "Conflict", detail: off.description)
        }
    }
}
