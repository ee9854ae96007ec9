import Foundation
import Logging
import NightshiftCore
import NightshiftStore
import ServiceLifecycle

/// Watches a run while it goes on: refreshes its summary, and for `nightshift run` ends it when
/// there is nothing left to do (every item done or blocked, no open task of the run), when its
/// window has closed with nothing running, or when its spend passes the budget. Ending = this
/// service returns, and the service group shuts down gracefully behind it.
public final class RunController: Service, Sendable {
    public struct Settings: Sendable {
        /// End the run by itself (`nightshift run`); a daemon run only refreshes its summary.
        public var endsByItself: Bool
        public var budgetUSD: Double?
        /// How often the end conditions are looked at when no task event woke it.
        public var interval: Double = 2
        /// How often the summary is rewritten.
        public var refreshInterval: Double = 30
        public init(endsByItself: Bool, budgetUSD: Double? = nil) {
            self.endsByItself = endsByItself
            self.budgetUSD = budgetUSD
        }
    }

    /// Why a run ended.
    public enum End: Sendable, Equatable {
        /// Every item done or blocked, no task of the run open.
        case finished
        /// The overnight window closed and nothing is running; items not started are warnings.
        case windowClosed(notStarted: Int)
        case budgetExceeded(spent: Double, budget: Double)
        /// Stopped from outside (SIGINT/SIGTERM) before it ended by itself.
        case interrupted
    }

    let env: ServiceEnvironment
    let store: any RunStore
    let reporter: RunReporter
    let info: RunInfo
    let settings: Settings
    let onBudgetExceeded: @Sendable (String) async -> Void
    let logger: Logger
    private let ended = Locked<End?>(nil)
    private let notes = Locked<[String]>([])

    public init(
        env: ServiceEnvironment, store: any RunStore, reporter: RunReporter, info: RunInfo, settings: Settings,
        onBudgetExceeded: @escaping @Sendable (String) async -> Void
    ) {
        self.env = env
        self.store = store
        self.reporter = reporter
        self.info = info
        self.settings = settings
        self.onBudgetExceeded = onBudgetExceeded
        self.logger = env.logs.logger("runs")
    }

    /// How the run ended: `.interrupted` when the group stopped before it ended by itself.
    public var end: End { ended.value ?? .interrupted }

    /// Warnings gathered while it ran (for the summary and the report).
    public var warnings: [String] { notes.value }

    public func warn(_ text: String) {
        notes.withLock { $0.append(text) }
        logger.warning("\(text)")
    }

    public func run() async throws {
        let events = env.events.subscribe()
        let wake = WakeSignal()
        let clock = env.clock
        let interval = settings.interval
        logger.info("run \(info.id) started (\(info.mode.rawValue))", metadata: ["run_id": "\(info.id)"])
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    for await change in events where change.kind != .updated {
                        _ = change
                        wake.signal()
                    }
                }
                group.addTask {
                    while !Task.isCancelled {
                        do { try await clock.sleep(for: .milliseconds(Int64(interval * 1000))) } catch { return }
                        wake.signal()
                    }
                }
                var lastRefresh = ContinuousClock.now
                while !Task.isCancelled {
                    await wake.wait()
                    if Task.isCancelled { break }
                    if ContinuousClock.now - lastRefresh >= .milliseconds(Int64(self.settings.refreshInterval * 1000)) {
                        _ = try? await self.reporter.refresh(info: self.info, warnings: self.warnings)
                        lastRefresh = ContinuousClock.now
                    }
                    guard self.settings.endsByItself else { continue }
                    do {
                        if let end = try await self.check() {
                            self.ended.withLock { $0 = end }
                            break
                        }
                    } catch {
                        self.logger.error("run check failed: \(error)")
                    }
                }
                group.cancelAll()
            }
        }
        switch end {
        case .finished: logger.info("run \(info.id): nothing left to do")
        case .windowClosed(let n): logger.info("run \(info.id): the window closed with \(n) item(s) not started")
        case .budgetExceeded(let spent, let budget):
            logger.error(
                "run \(info.id): spent \(String(format: "%.4f", spent)) USD of a \(String(format: "%.2f", budget)) USD budget")
        case .interrupted: logger.warning("run \(info.id) interrupted")
        }
    }

    /// The end condition that holds now, if any.
    func check() async throws -> End? {
        let progress = try await store.progress(inRun: info.id)
        if let budget = settings.budgetUSD {
            let spent = progress.spentUSD
            if spent > budget {
                await onBudgetExceeded("the run's spend \(String(format: "%.4f", spent)) USD passed its budget of \(budget) USD")
                return .budgetExceeded(spent: spent, budget: budget)
            }
        }
        let overview = try await store.overview(blockedLimit: 0)
        let queued = overview.counts[.queued, default: 0]
        let active = overview.counts[.active, default: 0]
        if progress.open == 0 && active == 0 && queued == 0 { return .finished }
        if let closes = overview.windowEndsAt, env.now() >= closes, progress.running == 0, active == 0 {
            return .windowClosed(notStarted: queued)
        }
        return nil
    }
}
