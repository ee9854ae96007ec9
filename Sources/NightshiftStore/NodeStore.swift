import Foundation
import NightshiftCore

/// The nodes that share a store, and which one leads them.
public protocol NodeStore: Sendable {
    /// True when other daemons may work on this store at the same time (PostgreSQL). SQLite's
    /// state dir lock keeps one daemon per database, so there every other owner is dead.
    var sharedByNodes: Bool { get }
    /// Writes the node's heartbeat row (inserted or replaced by id).
    func beat(_ node: NodeInfo) async throws
    /// Every node that ever beat, newest heartbeat first.
    func nodes() async throws -> [NodeInfo]
    /// Marks the instance stopped (a clean exit), if it is still the one behind the id.
    func stopNode(id: String, instanceID: String, at: Date) async throws
    /// Tries to become, or stay, the leader. True while this node leads.
    func tryLead(nodeID: String, instanceID: String, now: Date) async throws -> Bool
    /// Gives the leadership up (shutdown), so another node takes over at once.
    func resign(instanceID: String) async
    /// Who leads, as last recorded.
    func leadership() async throws -> Leadership?
}
