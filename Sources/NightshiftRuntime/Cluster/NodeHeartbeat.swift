import Foundation
import Logging
import NightshiftCore
import NightshiftStore
import ServiceLifecycle

/// The node's heartbeat: every `node.heartbeat` it writes its row and tries to become (or
/// stay) the leader, and tells the cluster role. On shutdown it gives the lead up and marks the
/// node stopped, so another node takes over at once instead of after a lease.
public final class NodeHeartbeat: Service, Sendable {
    let env: ServiceEnvironment
    let store: any NodeStore
    let apiURL: Locked<String?>
    let logger: Logger
    let startedAt: Date

    public init(env: ServiceEnvironment, store: any NodeStore, apiURL: Locked<String?>, startedAt: Date) {
        self.env = env
        self.store = store
        self.apiURL = apiURL
        self.logger = env.logs.logger("nightshift")
        self.startedAt = startedAt
    }

    public func run() async throws {
        await runPeriodically(every: env.config.node.heartbeat, on: env.clock, logger: logger, what: "node heartbeat") {
            try await self.beatOnce()
        }
        await store.resign(instanceID: env.instanceID)
        env.cluster.setLeading(false)
        try? await store.stopNode(id: env.cluster.nodeID, instanceID: env.instanceID, at: env.now())
    }

    /// One heartbeat: the row, then the leadership. A store that cannot be reached leaves the
    /// node following (it never leads on a guess).
    public func beatOnce() async throws {
        let now = env.now()
        let node = NodeInfo(
            id: env.cluster.nodeID, instanceID: env.instanceID, host: ProcessInfo.processInfo.hostName,
            pid: getpid(), url: apiURL.value, version: env.version.version, startedAt: startedAt, lastSeen: now)
        let leading: Bool
        do {
            try await store.beat(node)
            leading = try await store.tryLead(nodeID: node.id, instanceID: env.instanceID, now: now)
        } catch {
            if env.cluster.setLeading(false) { logger.warning("this node no longer leads: \(error)") }
            throw error
        }
        if env.cluster.setLeading(leading) {
            if leading {
                logger.info("this node (\(node.id)) now leads", metadata: ["node_id": "\(node.id)"])
            } else {
                logger.warning("this node (\(node.id)) no longer leads", metadata: ["node_id": "\(node.id)"])
            }
        }
    }
}
