import Foundation
import Logging
import NightshiftCore
import NightshiftStore
import ServiceLifecycle

/// Claims runnable tasks and runs each as a supervised agent process, up to `runner.workers`
/// at once. Woken by task events (created, decided, retried) so work starts without a polling
/// delay; a slow poll only guards against a missed wake-up.
public final class AgentRunner: Service, Sendable {
    /// Runner settings (from `runner.*`), validated by the config loader.
    public struct Configuration: Sendable {
        /// Attempts running at once.
        public var workers: Int
        /// Lease of a claimed task; heartbeats renew it every third of it.
        public var lease: Double
        /// Fallback poll when nothing woke the dispatcher.
        public var pollInterval: Double
        /// On graceful shutdown, how long running attempts may go on before they are torn down.
        public var drainTimeout: Double
        public init(workers: Int, lease: Double, pollInterval: Double, drainTimeout: Double) {
            self.workers = workers
            self.lease = lease
            self.pollInterval = pollInterval
            self.drainTimeout = drainTimeout
        }
    }

    struct Active: Sendable {
        let task: AgentTask
        let stopper: AttemptStopper
    }

    let env: ServiceEnvironment
    let configuration: Configuration
    let logger: Logger
    let wake = WakeSignal()
    let active = Locked<[String: Active]>([:])
    let draining = Locked<Bool>(false)
    /// The earliest retry time (`not_before`) to look for work at, besides the fallback poll.
    let nextWake = Locked<Date?>(nil)
    /// Signalled when `nextWake` moves earlier, so the timer loop sleeps anew.
    let timerChanged = WakeSignal()
    /// The meters of running structured attempts (their live spend counts against the caps).
    let sessions = Locked<[String: AgentSession]>([:])
    /// Executors paused by a usage limit (loaded from the store at the first claim).
    let pauses = Locked<[String: ExecutorPause]?>(nil)

    public init(env: ServiceEnvironment, drainTimeout: Double? = nil) {
        self.env = env
        self.configuration = Configuration(
            workers: env.config.runner.workers, lease: env.config.runner.lease, pollInterval: env.config.runner.pollInterval,
            drainTimeout: drainTimeout ?? env.config.runner.drainTimeout)
        self.logger = env.logs.logger("agent_runner")
    }

    /// Ids of the attempts this runner is running now.
    public var activeTaskIDs: Set<String> { Set(active.value.keys) }

    /// Asks the dispatcher to look for work now.
    public func poke() { wake.signal() }

    /// The second level of stopping: tear every running attempt down now (a second SIGTERM or
    /// SIGINT during the drain). Their tasks stay running in the store for the rescuer.
    public func tearDownNow(_ why: String) {
        let running = active.value.values
        logger.notice("\(why): tearing down \(running.count) running attempt(s) now; their tasks are left for the rescuer")
        for a in running { a.stopper.stop(why) }
    }

    public func run() async throws {
        logger.info("agent runner started", metadata: ["workers": "\(configuration.workers)", "owner": "\(env.instanceID)"])
        env.health.setRunning("agent_runner", true)
        defer { env.health.setRunning("agent_runner", false) }
        let events = env.events.subscribe()
        await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await self.watchEvents(events) }
                group.addTask { await self.heartbeatLoop() }
                group.addTask { await self.timerLoop() }
                await self.dispatchLoop()
                group.cancelAll()
            }
        } onGracefulShutdown: {
            self.draining.withLock { $0 = true }
            self.wake.signal()
        }
        logger.info("agent runner stopped")
    }

    /// Claims work whenever there is a free slot, and runs each claim in its own child task.
    /// The group discards each attempt as it ends: a plain task group keeps every finished
    /// child until it is awaited, about 15 KB per task run, for the whole night.
    func dispatchLoop() async {
        await withDiscardingTaskGroup { attempts in
            while !draining.value && !Task.isCancelled {
                let free = configuration.workers - active.value.count
                if free > 0 {
                    do {
                        let exclusion = try await claimExclusion()
                        let limit = try await budgetAdmits(free)
                        guard limit > 0 else {
                            env.health.beat("agent_runner", at: env.now())
                            await wake.wait()
                            continue
                        }
                        let claimed = try await env.ledger.claim(
                            owner: env.instanceID, limit: limit, now: env.now(), lease: configuration.lease,
                            excluding: exclusion)
                        for task in claimed {
                            let stopper = AttemptStopper()
                            active.withLock { $0[task.id] = Active(task: task, stopper: stopper) }
                            attempts.addTask {
                                await self.runAttempt(task, stopper: stopper)
                                _ = self.active.withLock { $0.removeValue(forKey: task.id) }
                                self.wake.signal()
                            }
                        }
                        if claimed.count == limit { continue }  // there may be more: look again at once
                    } catch {
                        logger.error("claim failed: \(error)")
                    }
                }
                env.health.beat("agent_runner", at: env.now())
                await wake.wait()
            }
            await drain(attempts: &attempts)
        }
    }

    /// Graceful stop: let attempts finish until the drain deadline, then tear them down and
    /// leave their tasks running in the store for the rescuer of the next start.
    func drain(attempts: inout DiscardingTaskGroup) async {
        let running = active.value.count
        guard running > 0 else { return }
        logger.info("draining \(running) running attempt(s) for up to \(ConfigValues.formatDuration(configuration.drainTimeout))")
        // The deadline is a child of the attempts' group: it ends with it.
        let clock = env.clock
        attempts.addTask {
            if self.configuration.drainTimeout > 0 {
                do { try await clock.sleep(for: .seconds(self.configuration.drainTimeout)) } catch { return }
            }
            guard !Task.isCancelled else { return }
            for a in self.active.value.values { a.stopper.stop("shutdown") }
        }
        // Each attempt signals as it ends; once none is left the deadline is no longer needed
        // (cancelled here, and awaited when the group closes).
        // A cancelled task's wait returns at once: stop waiting then, or this loop would spin
        // (the group's cancellation tears the attempts down and awaits them).
        while !active.value.isEmpty && !Task.isCancelled { await wake.wait() }
        attempts.cancelAll()
    }

    func watchEvents(_ events: AsyncStream<TaskChange>) async {
        for await change in events {
            switch change.kind {
            case .created, .decided, .retried, .reprocessed:
                wake.signal()
            case .finished where change.task.status == .pending, .rescued where change.task.status == .pending:
                // A retry with backoff, from this runner or another: look again at its not_before.
                wakeAt(change.task.notBefore)
            case .cancelled:
                if let a = active.value[change.task.id] { a.stopper.stop("cancelled") }
            default:
                break
            }
        }
    }

    /// Renews the leases of running attempts; an attempt whose task was taken away is stopped.
    func heartbeatLoop() async {
        let interval = max(0.05, configuration.lease / 3)
        while !Task.isCancelled {
            do { try await env.clock.sleep(for: .seconds(interval)) } catch { return }
            let ids = Array(active.value.keys)
            env.health.beat("agent_runner", at: env.now())
            guard !ids.isEmpty else { continue }
            do {
                let lost = try await env.store.heartbeat(
                    ids: ids, owner: env.instanceID, now: env.now(), lease: configuration.lease)
                for id in lost {
                    logger.warning("lease lost; stopping the attempt", metadata: ["task.id": "\(id)"])
                    active.value[id]?.stopper.stop("lease lost")
                }
            } catch {
                logger.error("heartbeat failed: \(error)")
            }
        }
    }

    /// Looks for work at `date` (a retry's `not_before`), besides the fallback poll: the timer
    /// loop sleeps until the earliest such time.
    func wakeAt(_ date: Date?) {
        guard let date else { return wake.signal() }
        let earlier = nextWake.withLock { next -> Bool in
            guard next.map({ date < $0 }) ?? true else { return false }
            next = date
            return true
        }
        if earlier { timerChanged.signal() }
    }

    /// Wakes the dispatcher at the earliest retry time, and every `poll_interval` as a fallback.
    func timerLoop() async {
        let clock = env.clock
        while !Task.isCancelled {
            let due = nextWake.value
            let untilDue = due.map { max(0, $0.timeIntervalSince(env.now())) + 0.001 }
            let wait = min(configuration.pollInterval, untilDue ?? configuration.pollInterval)
            let timedOut = await withTaskGroup(of: Bool.self) { race -> Bool in
                race.addTask { (try? await clock.sleep(for: .seconds(wait))) != nil }
                race.addTask {
                    await self.timerChanged.wait()
                    return false
                }
                let first = await race.next() ?? false
                race.cancelAll()
                return first
            }
            guard !Task.isCancelled else { return }
            if timedOut {
                if let due, env.now() >= due { nextWake.withLock { if $0 == due { $0 = nil } } }
                wake.signal()
            }
        }
    }
}
