import Foundation
import Logging
import NightshiftCore
import NightshiftStore
import ServiceLifecycle

/// Periodic housekeeping: fails decisions nobody answered within `decision_timeout`, and
/// deletes task logs (and result files) and task events older than `logs.task_log_retention`.
public final class MaintenanceService: Service, Sendable {
    public struct Configuration: Sendable {
        /// Time between passes.
        public var interval: Double = 60
        /// 0 = wait forever for a decision.
        public var decisionTimeout: Double
        /// 0 = keep task logs forever.
        public var taskLogRetention: Double
    }

    public struct Result: Sendable, Equatable {
        public var expiredDecisions: [String] = []
        public var deletedLogs: [String] = []
        public var prunedEvents = 0
    }

    let env: ServiceEnvironment
    let configuration: Configuration
    let logger: Logger

    public init(env: ServiceEnvironment, interval: Double = 60) {
        self.env = env
        self.configuration = Configuration(
            interval: interval, decisionTimeout: env.config.projectManager.decisionTimeout,
            taskLogRetention: env.config.logs.taskLogRetention)
        self.logger = env.logs.logger("agent_runner")
    }

    public func run() async throws {
        await runPeriodically(every: configuration.interval, on: env.clock, logger: logger, what: "maintenance pass") {
            _ = try await self.runOnce()
        }
    }

    public func runOnce() async throws -> Result {
        var result = Result()
        let now = env.now()
        if configuration.decisionTimeout > 0 {
            for task in try await env.ledger.expireDecisions(
                askedBefore: now.addingTimeInterval(-configuration.decisionTimeout), now: now)
            {
                result.expiredDecisions.append(task.id)
                logger.warning(
                    "no decision within \(ConfigValues.formatDuration(configuration.decisionTimeout)); task failed",
                    metadata: ["task.id": "\(task.id)"])
            }
        }
        if configuration.taskLogRetention > 0 {
            let cutoff = now.addingTimeInterval(-configuration.taskLogRetention)
            for dir in [env.paths.tasksDir, env.paths.resultsDir] {
                for name in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] {
                    let path = (dir as NSString).appendingPathComponent(name)
                    guard let modified = (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date,
                        modified < cutoff
                    else { continue }
                    if (try? FileManager.default.removeItem(atPath: path)) != nil { result.deletedLogs.append(path) }
                }
            }
            if !result.deletedLogs.isEmpty {
                logger.info("deleted \(result.deletedLogs.count) task log(s) older than the retention")
            }
            result.prunedEvents = try await env.store.pruneEvents(before: cutoff)
            if result.prunedEvents > 0 { logger.info("pruned \(result.prunedEvents) task event(s) older than the retention") }
        }
        env.health.beat("maintenance", at: now)
        return result
    }
}
