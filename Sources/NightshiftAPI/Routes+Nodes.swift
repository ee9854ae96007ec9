import Foundation
import Hummingbird
import NightshiftCore
import NightshiftRuntime
import NightshiftStore

/// The nodes that share this daemon's store (`GET /api/agent/nodes`).
struct NodeRoutes {
    let env: ServiceEnvironment

    /// Running tasks read per request, at most: more than any cluster here runs at once.
    static let runningLimit = 10_000

    func register(_ r: RouteRecorder) {
        r.on(.get, "/api/agent/nodes") { _, _ in
            try JSONResponse.make(try await NodeRoutes.list(env))
        }
    }

    static func list(_ env: ServiceEnvironment) async throws -> NodeList {
        let role = env.cluster
        let now = env.now()
        let nodes = try await role.store?.nodes() ?? []
        let leader = try await role.store?.leadership()
        var query = TaskQuery()
        query.statuses = [.running]
        query.limit = runningLimit
        var running: [String: [String]] = [:]
        for task in try await env.store.list(query).tasks {
            if let owner = task.claimedBy { running[owner, default: []].append(task.id) }
        }
        let entries = nodes.map { node in
            let alive = node.isAlive(now: now, lease: role.nodeLease)
            return NodeList.Entry(
                node, alive: alive, leader: alive && leader?.instanceID == node.instanceID,
                running: (running[node.instanceID] ?? []).sorted())
        }
        let leading = entries.first { $0.leader }?.id
        return NodeList(selfID: role.nodeID, leader: leading, shared: role.isShared, nodes: entries)
    }
}
