import Foundation
import Logging
import NightshiftCore
import NightshiftStore
import ServiceLifecycle

/// Periodic housekeeping: fails decisions nobody answered within `decision_timeout`; deletes
/// task logs (and result files) and task events older than `logs.task_log_retention`; prunes
/// ended tasks past `store.retention`, in batches, with their events and files; and folds the
/// write-ahead log back into the database so it stays small while the daemon runs.
public final class MaintenanceService: Service, Sendable {
    public struct Configuration: Sendable {
        /// Time between passes.
        public var interval: Double = 60
        /// 0 = wait forever for a decision.
        public var decisionTimeout: Double
        /// 0 = keep task logs forever.
        public var taskLogRetention: Double
        /// Seconds an ended task is kept, by status; absent = forever.
        public var retention: [TaskStatus: Double] = [:]
        public var pruneBatch = 500
        /// Batches pruned per pass at most, so one pass never holds the store for long; what
        /// is left goes next pass.
        public var pruneBatchesPerPass = 20
    }

    public struct Result: Sendable, Equatable {
        public var expiredDecisions: [String] = []
        public var deletedLogs: [String] = []
        public var prunedEvents = 0
        public var prunedTasks: [TaskStatus: Int] = [:]
        public var wal: WALCheckpoint?
    }

    let env: ServiceEnvironment
    let configuration: Configuration
    let logger: Logger

    public convenience init(env: ServiceEnvironment, interval: Double = 60) {
        self.init(
            env: env,
            configuration: Configuration(
                interval: interval, decisionTimeout: env.config.projectManager.decisionTimeout,
                taskLogRetention: env.config.logs.taskLogRetention, retention: env.config.store.retention,
                pruneBatch: env.config.store.pruneBatch))
    }

    public init(env: ServiceEnvironment, configuration: Configuration) {
        self.env = env
        self.configuration = configuration
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
        try await prune(now: now, into: &result)
        result.wal = try await env.store.checkpointWAL()
        env.health.beat("maintenance", at: now)
        return result
    }

    /// Deletes ended tasks past their status's retention, a batch per transaction, and their
    /// log and result files.
    func prune(now: Date, into result: inout Result) async throws {
        for status in TaskStatus.allCases {
            guard let keep = configuration.retention[status], keep > 0 else { continue }
            let cutoff = now.addingTimeInterval(-keep)
            var pruned = 0
            for _ in 0..<configuration.pruneBatchesPerPass {
                let batch = try await env.store.pruneEnded(status: status, endedBefore: cutoff, limit: configuration.pruneBatch)
                for task in batch {
                    for file in [task.logPath ?? env.paths.taskLog(task.id), env.paths.resultFile(task.id)] {
                        try? FileManager.default.removeItem(atPath: file)
                    }
                }
                pruned += batch.count
                if batch.count < configuration.pruneBatch { break }
                await Task.yield()
            }
            if pruned > 0 {
                result.prunedTasks[status] = pruned
                logger.info(
                    "pruned \(pruned) \(status.rawValue) task(s) that ended over \(ConfigValues.formatDuration(keep)) ago",
                    metadata: ["retention.status": "\(status.rawValue)"])
            }
        }
    }
}
