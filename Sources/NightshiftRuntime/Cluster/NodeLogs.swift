import Foundation
import NightshiftCore

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// A task's log lives in the state dir of the node that ran it. When this node does not have
/// the file, the other live nodes are asked for it (`?local=true`, so none of them asks on).
public enum NodeLogs {
    /// Seconds one node has to answer.
    static let timeout = 3.0

    /// The log's last `tail` lines from the first live node that has it, or nil.
    public static func fetch(taskID: String, tail: Int, env: ServiceEnvironment) async -> String? {
        guard env.cluster.isShared, let store = env.cluster.store, let nodes = try? await store.nodes() else { return nil }
        let now = env.now()
        let others = nodes.filter {
            $0.id != env.cluster.nodeID && $0.instanceID != env.instanceID && $0.isAlive(now: now, lease: env.cluster.nodeLease)
        }
        for node in others {
            guard let base = node.url, let url = URL(string: "\(base)/api/agent/tasks/\(taskID)/log?tail=\(tail)&local=true")
            else { continue }
            var request = URLRequest(url: url, cachePolicy: .reloadIgnoringLocalCacheData, timeoutInterval: timeout)
            if !env.config.server.token.isEmpty {
                request.setValue("Bearer \(env.config.server.token)", forHTTPHeaderField: "Authorization")
            }
            let prepared = request
            guard let (data, response) = try? await URLSession.shared.data(for: prepared),
                (response as? HTTPURLResponse)?.statusCode == 200, !data.isEmpty
            else { continue }
            return String(decoding: data, as: UTF8.self)
        }
        return nil
    }
}
