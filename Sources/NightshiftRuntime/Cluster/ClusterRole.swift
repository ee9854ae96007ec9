import Foundation
import NightshiftCore
import NightshiftStore
import Synchronization

/// This daemon's place among the nodes that share its store: its node id, and whether it
/// leads right now. A daemon alone on its store (SQLite, or a test) leads from the start.
public final class ClusterRole: Sendable {
    public let nodeID: String
    /// The nodes' store; nil when the daemon is alone (tests that need no cluster).
    public let store: (any NodeStore)?
    /// Seconds after its last heartbeat that a node counts as dead.
    public let nodeLease: Double
    private let state: Mutex<(leading: Bool, changed: OneShotEvent)>

    public init(nodeID: String, store: (any NodeStore)?, nodeLease: Double, leading: Bool) {
        self.nodeID = nodeID
        self.store = store
        self.nodeLease = nodeLease
        self.state = Mutex((leading, OneShotEvent()))
    }

    /// A daemon that is the only node and always leads.
    public static func alone(nodeID: String = "local") -> ClusterRole {
        ClusterRole(nodeID: nodeID, store: nil, nodeLease: 0, leading: true)
    }

    /// True when other daemons may share the store.
    public var isShared: Bool { store?.sharedByNodes ?? false }

    public var isLeader: Bool { state.withLock { $0.leading } }

    /// Records whether this node leads; returns true when that changed.
    @discardableResult
    public func setLeading(_ leading: Bool) -> Bool {
        let fired: OneShotEvent? = state.withLock { s in
            guard s.leading != leading else { return nil }
            let old = s.changed
            s = (leading, OneShotEvent())
            return old
        }
        fired?.set()
        return fired != nil
    }

    /// Returns when this node leads (at once if it does), or when the task is cancelled.
    public func waitUntilLeading() async {
        await wait(for: true)
    }

    /// Returns when this node stops leading, or when the task is cancelled.
    public func waitUntilFollowing() async {
        await wait(for: false)
    }

    private func wait(for leading: Bool) async {
        while !Task.isCancelled {
            let (now, changed) = state.withLock { ($0.leading, $0.changed) }
            if now == leading { return }
            await changed.wait()
        }
    }

    /// The instance ids of the nodes alive at `now` (their tasks are theirs to finish).
    public func liveInstances(now: Date) async throws -> Set<String> {
        guard let store else { return [] }
        return Set(try await store.nodes().filter { $0.isAlive(now: now, lease: nodeLease) }.map(\.instanceID))
    }
}
