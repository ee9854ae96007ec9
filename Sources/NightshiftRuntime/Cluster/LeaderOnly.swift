import Foundation
import Logging
import ServiceLifecycle

/// Runs a service only while this node leads: it waits for the leadership, runs the service,
/// and cancels it when the leadership is lost (to run it again if it comes back). On a daemon
/// alone on its store the role always leads, so the service simply runs.
public struct LeaderOnly: Service {
    let service: any Service
    let role: ClusterRole
    let name: String
    let logger: Logger

    public init(_ service: any Service, role: ClusterRole, name: String, logger: Logger) {
        self.service = service
        self.role = role
        self.name = name
        self.logger = logger
    }

    public func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            let leading = await withTaskGroup(of: Bool.self) { group in
                group.addTask {
                    await role.waitUntilLeading()
                    return !Task.isCancelled
                }
                group.addTask {
                    try? await gracefulShutdown()
                    return false
                }
                let first = await group.next() ?? false
                group.cancelAll()
                return first
            }
            guard leading, !Task.isShuttingDownGracefully else { return }
            // The service runs in the shutdown context it would have had: it winds down itself.
            let ended = await withTaskGroup(of: Bool.self) { group in
                group.addTask {
                    do { try await service.run() } catch { logger.error("\(name) stopped: \(error)") }
                    return true
                }
                group.addTask {
                    await role.waitUntilFollowing()
                    return Task.isCancelled
                }
                let first = await group.next() ?? true
                group.cancelAll()
                await group.waitForAll()
                return first
            }
            // The service ended by itself (shutdown): done. Leadership lost: wait for it again.
            if ended { return }
            logger.warning("\(name) paused: this node no longer leads")
        }
    }
}
