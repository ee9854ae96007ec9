import Foundation
import Logging
import NightshiftCore
import NightshiftStore

extension AgentRunner {
    /// The claim's exclusion: executors paused by a usage limit until a time still ahead. A
    /// pause that has ended stays recorded (its count of limits in a row sets the next backoff)
    /// until a task of that executor completes.
    func claimExclusion() async throws -> ClaimExclusion {
        if pauses.value == nil {
            let stored = try await env.store.executorPauses()
            pauses.withLock { $0 = $0 ?? Dictionary(stored.map { ($0.executor, $0) }) { a, _ in a } }
        }
        let now = env.now()
        let all = pauses.value ?? [:]
        let active = all.filter { $0.value.until > now }
        env.agents.setPauses(active)
        for p in active.values { wakeAt(p.until) }
        return CommandTemplate.exclusion(paused: Set(active.keys), config: env.config)
    }

    /// How many of `free` slots the budget lets start now (all when no run or day cap is set).
    func budgetAdmits(_ free: Int) async throws -> Int {
        let caps = env.config.budget
        var view = AgentBoard.BudgetView()
        view.perTaskUSD = caps.perTaskUSD
        view.perRunUSD = caps.perRunUSD
        view.perDayUSD = caps.perDayUSD
        guard !caps.isEmpty else {
            env.agents.setBudget(view)
            return free
        }
        let state = try await budgetState(excluding: nil)
        view.runSpentUSD = state.runSpentUSD
        view.daySpentUSD = state.daySpentUSD
        view.reservedUSD = state.runningReservedUSD
        view.roomUSD = BudgetAdmission.room(caps, state)
        guard caps.perRunUSD != nil || caps.perDayUSD != nil else {
            env.agents.setBudget(view)
            return free
        }
        let before = env.agents.budget.state
        switch BudgetAdmission.check(caps, state, reservation: caps.perTaskUSD ?? caps.reserveUSD) {
        case .admit(let n):
            env.agents.setBudget(view)
            if before != "ok" { logger.notice("budget: new tasks may start again") }
            return min(n, free)
        case .hold(let reason):
            view.state = "waiting"
            view.reason = reason
            env.agents.setBudget(view)
            if before != "waiting" { logger.notice("budget: \(reason)") }
            return 0
        case .exhausted(_, let reason):
            view.state = "exhausted"
            view.reason = reason
            env.agents.setBudget(view)
            if before != "exhausted" { logger.error("budget exhausted: \(reason)") }
            return 0
        }
    }

    /// Writes a structured attempt's live metering while it runs (at most four times a
    /// second, on change), and stops an agent that has said nothing for `runner.idle_timeout`.
    func meterWhileRunning(_ session: AgentSession, task: AgentTask, stopper: AttemptStopper, log: Logger) async {
        let idleTimeout = env.config.runner.idleTimeout
        let clock = env.clock
        var written = 0
        while !Task.isCancelled && stopper.stopReason == nil {
            let idle = session.idleSeconds(at: env.now())
            if idle >= idleTimeout {
                log.warning("no agent event for \(ConfigValues.formatDuration(idleTimeout)): stopping the agent as idle")
                stopper.halt(.idle(seconds: idleTimeout))
                return
            }
            // Until the next event, or the moment the idle timeout would pass.
            let wait = min(1.0, max(0.01, idleTimeout - idle))
            await withTaskGroup(of: Void.self) { race in
                race.addTask { try? await clock.sleep(for: .seconds(wait)) }
                race.addTask { await session.changed.wait() }
                await race.next()
                race.cancelAll()
            }
            guard !Task.isCancelled else { return }
            let version = session.version
            if version != written {
                written = version
                warnUnpriced(session, task: task, log: log)
                do {
                    _ = try await env.ledger.meter(id: task.id, owner: env.instanceID, reading: session.reading(), now: env.now())
                } catch let e as StoreError where e.code == .lostClaim {
                    return
                } catch {
                    log.warning("live metering not written: \(error)")
                }
                try? await clock.sleep(for: .milliseconds(250))
            }
        }
    }

    /// Warns once per model the price table does not know (its cost is estimated at 0), in the
    /// runner's log and the task's.
    func warnUnpriced(_ session: AgentSession, task: AgentTask, log: Logger) {
        for model in session.unwarnedModels() {
            let line =
                "[nightshift] warning: model \(model) is not in the price table (pricing \(env.config.pricing.version)); its cost is estimated at 0"
            log.warning("\(line)")
            Self.appendNote(line, to: env.paths.taskLog(task.id))
        }
    }

    /// A line of the daemon's own in a task's log (appended whole; the agent's output goes on).
    static func appendNote(_ line: String, to path: String) {
        guard let h = FileHandle(forWritingAtPath: path) else { return }
        defer { try? h.close() }
        _ = try? h.seekToEnd()
        try? h.write(contentsOf: Data((line + "\n").utf8))
    }

    /// After an attempt: a usage limit pauses its executor (and wakes the runner at the reset);
    /// a completed task ends its executor's run of limits.
    func afterAttempt(executor: String, refined: StructuredOutcome.Refined, task: AgentTask, log: Logger) async {
        if let until = refined.until, let limit = refined.limit {
            do {
                let p = try await env.store.pauseExecutor(
                    executor, until: until, reason: "usage limit: \(limit.evidence)", taskID: task.id, now: env.now())
                pauses.withLock { $0 = ($0 ?? [:]).merging([executor: p]) { _, new in new } }
                env.agents.setPauses((pauses.value ?? [:]).filter { $0.value.until > env.now() })
                log.warning(
                    "usage limit: executor \(executor) paused until \(Timestamp.format(p.until)); the task waits without using an attempt",
                    metadata: ["error_class": "usage_limited"])
                wakeAt(p.until)
            } catch {
                log.error("could not record the pause of executor \(executor): \(error)")
            }
        } else if case .completed = refined.outcome.kind, pauses.value?[executor] != nil {
            _ = try? await env.store.clearExecutorPause(executor, ifUntilBefore: nil)
            _ = pauses.withLock { $0?.removeValue(forKey: executor) }
            env.agents.setPauses((pauses.value ?? [:]).filter { $0.value.until > env.now() })
        }
    }

    /// Spend of the run and the day, and what running tasks (but `excluding`) may still spend.
    func budgetState(excluding: String?) async throws -> BudgetState {
        let caps = env.config.budget
        var runSpent = 0.0
        if !caps.isEmpty, let run = env.run, let runs = env.store as? any RunStore {
            runSpent = try await runs.progress(inRun: run.paths.id).spentUSD
        }
        var utc = Calendar(identifier: .gregorian)
        utc.timeZone = TimeZone(identifier: "UTC")!
        let daySpent = caps.isEmpty ? 0 : try await env.store.spentUSD(since: utc.startOfDay(for: env.now()))
        let metered = sessions.value
        let reserved = active.value.values.filter { $0.task.id != excluding }.reduce(0.0) { sum, a in
            sum + max(0, caps.reservation(of: a.task) - (metered[a.task.id]?.meter.costUSD ?? 0))
        }
        return BudgetState(runSpentUSD: runSpent, daySpentUSD: daySpent, runningReservedUSD: reserved)
    }

    /// The live cap of a task starting now: its own cap, lowered to what the run and day caps
    /// leave after the spend so far and what the other running tasks reserve, so a metered
    /// task stops before a run or day cap passes too.
    func liveCap(for task: AgentTask) async -> Double? {
        let caps = env.config.budget
        let own = caps.cap(of: task)
        guard caps.perRunUSD != nil || caps.perDayUSD != nil,
            let state = try? await budgetState(excluding: task.id), let room = BudgetAdmission.room(caps, state)
        else { return own }
        // Its spend so far counts in the run's and day's: what it may add is the room.
        let shared = (task.costUSD ?? 0) + room
        return own.map { min($0, shared) } ?? shared
    }

    /// Limits of `executor` in a row so far (0 when it is not paused).
    func consecutiveLimits(_ executor: String) -> Int { pauses.value?[executor]?.consecutive ?? 0 }
}
