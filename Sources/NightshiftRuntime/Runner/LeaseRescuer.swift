import Foundation
import Logging
import NightshiftCore
import NightshiftStore
import ServiceLifecycle

/// Finds running tasks whose lease lapsed or whose owner is gone (a daemon killed with -9),
/// kills what is left of their process group, and requeues them as a new attempt (or fails
/// them when no attempts are left). Runs once at startup before the runner claims, then
/// periodically. This is what makes delivery at-least-once.
public final class LeaseRescuer: Service, Sendable {
    public struct Configuration: Sendable {
        /// Time between checks.
        public var interval: Double
        /// Grace between SIGTERM and SIGKILL of an orphaned process group.
        public var killGrace: Double
        public var retryBackoff: RetryPolicy
    }

    /// What one check did.
    public struct Result: Sendable, Equatable {
        public var requeued: [String] = []
        public var failed: [String] = []
        public var killedGroups: [Int32] = []
    }

    let env: ServiceEnvironment
    let configuration: Configuration
    let logger: Logger
    /// Attempts that this daemon is running right now and must not be rescued from under it.
    let isLive: @Sendable (String) -> Bool

    public init(env: ServiceEnvironment, isLive: @escaping @Sendable (String) -> Bool) {
        self.env = env
        self.configuration = Configuration(
            interval: max(0.05, env.config.runner.lease / 2), killGrace: env.config.runner.killGrace,
            retryBackoff: RetryPolicy(base: env.config.runner.retryBackoff.base, max: env.config.runner.retryBackoff.max))
        self.logger = env.logs.logger("agent_runner")
        self.isLive = isLive
    }

    public func run() async throws {
        await runPeriodically(every: configuration.interval, on: env.clock, logger: logger, what: "rescue check") {
            _ = try await self.runOnce()
        }
    }

    /// One check: rescue every task that lost its owner.
    ///
    /// Alone on its store (SQLite: the state dir lock), every other owner is a dead daemon, so
    /// its tasks are rescued at once. On a store that several nodes share, another owner may be
    /// alive on another machine: only the leader rescues, and only tasks whose lease lapsed
    /// (an owner renews its leases while it runs them; a dead node's agents died with it).
    public func runOnce() async throws -> Result {
        var result = Result()
        let now = env.now()
        let shared = env.cluster.isShared
        if shared && !env.cluster.isLeader { return result }
        for task in try await env.store.rescueCandidates(now: now, liveOwner: env.instanceID) where !isLive(task.id) {
            guard let owner = task.claimedBy else { continue }
            if shared && owner != env.instanceID && !(task.leaseExpiresAt.map { $0 < now } ?? true) { continue }
            let orphaned = owner != env.instanceID
            if let pgid = task.pgid ?? task.pid, ProcessGroup.belongsToTask(pgid, taskID: task.id) {
                logger.warning("killing the orphaned agent process group \(pgid)", metadata: ["task.id": "\(task.id)"])
                await ProcessGroup.terminate(pgid, grace: configuration.killGrace)
                result.killedGroups.append(pgid)
            }
            let reason =
                orphaned
                ? "the daemon that ran this attempt (\(owner)) is gone; rescued and requeued"
                : "the lease lapsed at \(task.leaseExpiresAt.map(Timestamp.format) ?? "?"); rescued and requeued"
            // An orphan did nothing wrong: run it again at once. A lapsed lease backs off.
            let delay =
                orphaned ? 0 : configuration.retryBackoff.delay(afterAttempt: task.attempt, random: Double.random(in: 0...1))
            do {
                let updated = try await env.ledger.rescue(
                    id: task.id, owner: owner, reason: reason, errorClass: orphaned ? .orphaned : .leaseExpired,
                    retryDelay: delay, now: env.now())
                if updated.status == .pending {
                    result.requeued.append(task.id)
                } else {
                    result.failed.append(task.id)
                }
                logger.warning(
                    "rescued task: \(reason)", metadata: ["task.id": "\(task.id)", "status": "\(updated.status.rawValue)"])
            } catch let error as StoreError where error.code == .lostClaim {
                continue  // finished or cancelled meanwhile: nothing to rescue
            }
        }
        return result
    }
}
