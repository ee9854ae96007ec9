import Foundation
import Logging
import NightshiftCore
import NightshiftStore

extension AgentRunner {
    /// What an agent's process sees: this process's environment, the executor's `env`, and the
    /// `NIGHTSHIFT_*` variables that tell it its task (the preflight's smoke run gets the same).
    static func agentEnvironment(
        for task: AgentTask, executor: NightshiftConfig.Executor, resultPath: String, paths: StatePaths
    ) -> [String: String] {
        var environment = ProcessInfo.processInfo.environment
        for (k, v) in executor.env { environment[k] = v }
        environment["NIGHTSHIFT_TASK_ID"] = task.id
        environment["NIGHTSHIFT_TASK_TYPE"] = task.taskType.rawValue
        environment["NIGHTSHIFT_ATTEMPT"] = "\(task.attempt)"
        environment["NIGHTSHIFT_RESULT_FILE"] = resultPath
        environment["NIGHTSHIFT_STATE_DIR"] = paths.root
        environment["NIGHTSHIFT_HOME"] = FileManager.default.currentDirectoryPath
        environment["NIGHTSHIFT_DECISION"] = nil
        if let decision = task.decision { environment["NIGHTSHIFT_DECISION"] = decision }
        if let item = task.backlogItem { environment["NIGHTSHIFT_BACKLOG_ITEM"] = item }
        return environment
    }

    /// Runs one claimed attempt from spawn to recorded outcome.
    func runAttempt(_ task: AgentTask, stopper: AttemptStopper) async {
        let config = env.config.runner
        let log: Logger = {
            var l = logger
            l[metadataKey: "task.id"] = "\(task.id)"
            if let item = task.backlogItem { l[metadataKey: "item"] = "\(item)" }
            if let phase = task.phase { l[metadataKey: "phase"] = "\(phase)" }
            return l
        }()
        let executorName = CommandTemplate.executorName(for: task, config: env.config)
        guard let executor = config.executors[executorName] else {
            await record(
                task,
                AttemptOutcome(
                    .failed(
                        errorClass: .executorMissing, error: "no executor named \(executorName) in runner.executors",
                        retryDelay: nil)), log: log)
            return
        }
        // A structured agent that asked for a decision continues its own session.
        let resuming =
            executor.format.isStructured && !executor.resumeCommand.isEmpty && task.decision != nil && task.sessionID != nil
        let sessionID = resuming ? (task.sessionID ?? "") : UUID().uuidString.lowercased()
        let capUSD = await liveCap(for: task)
        let remaining = capUSD.map { max(0.01, $0 - (task.costUSD ?? 0)) }
        var extra: [String: String] = [
            "session_id": sessionID, "model": executor.model,
            // No cap: a figure no run reaches, so a preset that passes it stays valid.
            "max_budget_usd": String(format: "%.2f", remaining ?? 999_999),
        ]
        if resuming, task.errorClass == ErrorClass.budgetExceeded.rawValue {
            extra["decision"] = "Continue where you stopped; your budget was raised."
        }
        let command = CommandTemplate.render(resuming ? executor.resumeCommand : executor.command, task: task, extra: extra)
        let resultPath = env.paths.resultFile(task.id)
        try? FileManager.default.removeItem(atPath: resultPath)
        var environment = Self.agentEnvironment(for: task, executor: executor, resultPath: resultPath, paths: env.paths)
        environment["NIGHTSHIFT_SESSION_ID"] = sessionID
        if resuming { environment["NIGHTSHIFT_RESUME"] = "1" }
        let workdir = task.context["workdir"]?.stringValue ?? (config.workspace.isEmpty ? nil : config.workspace)
        let session: AgentSession? =
            executor.format.isStructured
            ? AgentSession(
                format: executor.format, task: task, model: executor.model.isEmpty ? nil : executor.model,
                prices: env.config.pricing, capUSD: capUSD, maxTurns: executor.maxTurns, stopper: stopper, now: env.now)
            : nil
        if let session { sessions.withLock { $0[task.id] = session } }
        defer { if session != nil { _ = sessions.withLock { $0.removeValue(forKey: task.id) } } }

        env.run?.linkAttemptLog(taskLog: env.paths.taskLog(task.id), task: task)
        let launch = AgentLaunch(
            taskID: task.id, command: command, environment: environment, workingDirectory: workdir,
            logPath: env.paths.taskLog(task.id), timeout: config.taskTimeout, stallTimeout: config.stallTimeout,
            killGrace: config.killGrace, tailBytes: config.outputTailBytes, logTap: env.logTap,
            runID: task.runID ?? env.run?.paths.id,
            onLine: session.map { s in { @Sendable bytes, complete in s.line(bytes, complete: complete) } })
        let header =
            "=== \(Timestamp.format(env.now())) attempt \(task.attempt)/\(task.maxAttempts) \(task.taskType) executor=\(executorName) ==="
        let ledger = env.ledger
        let owner = env.instanceID
        let now = env.now
        log.info("starting attempt \(task.attempt) of \(task.taskType) task\(resuming ? " (resuming session \(sessionID))" : "")")
        // The agent, and beside it (for a structured one) the live metering, which ends with it.
        let report = await withTaskGroup(of: AttemptReport?.self) { group -> AttemptReport in
            group.addTask {
                await AgentProcess.run(launch, redactor: self.env.redactor, stopper: stopper, header: header) { pid in
                    do {
                        _ = try await ledger.recordStart(
                            id: task.id, owner: owner, pid: pid, command: command, logPath: launch.logPath, now: now())
                        return true
                    } catch {
                        log.warning("not starting the agent: \(error)")
                        return false
                    }
                }
            }
            if let session {
                group.addTask {
                    await self.meterWhileRunning(session, task: task, stopper: stopper, log: log)
                    return nil
                }
            }
            var ended: AttemptReport?
            for await r in group where r != nil {
                ended = r
                group.cancelAll()
            }
            return ended
                ?? AttemptReport(
                    end: .spawnFailed("no report"), tail: "", claudeResultLine: nil, outputBytes: 0, killedLeftovers: false)
        }
        if report.killedLeftovers { log.warning("killed background processes that outlived the agent") }
        let delay = RetryPolicy(base: config.retryBackoff.base, max: config.retryBackoff.max)
            .delay(afterAttempt: task.attempt, random: Double.random(in: 0...1))
        let result = AgentResult.read(path: resultPath)
        if let session { warnUnpriced(session, task: task, log: log) }
        guard
            let classified = OutcomeClassifier.classify(
                report: report, result: result, retryDelay: delay, limits: (config.taskTimeout, config.stallTimeout))
        else {
            log.info("attempt stopped: \(stopper.stopReason ?? "stopped")")
            if let session {
                // The spend of a cancelled or interrupted attempt is still spend.
                _ = try? await env.ledger.meter(id: task.id, owner: env.instanceID, reading: session.reading(), now: env.now())
            }
            return
        }
        let refined = StructuredOutcome.refine(
            classified, report: report, meter: session?.meter, base: session?.base, executor: executor,
            backoff: config.usageLimitBackoff, consecutiveLimits: consecutiveLimits(executorName), now: env.now(),
            retryDelay: delay, capUSD: capUSD)
        var outcome = refined.outcome
        await afterAttempt(executor: executorName, refined: refined, task: task, log: log)
        // Before the auto-commit: output that misses its contract is not committed; the next
        // iteration of the phase finds it in the worktree as it was left.
        if outcome.kind == .completed, let phase = task.phase,
            let contract = OutputContract.contract(for: task, config: env.config)
        {
            outcome = OutputContract.apply(
                contract, to: outcome, phase: phase, workdir: workdir ?? FileManager.default.currentDirectoryPath)
        }
        if outcome.kind == .completed, env.config.projectManager.autoCommit, let workdir, task.backlogItem != nil {
            outcome = await commitChanges(task, workdir: workdir, outcome: outcome, retryDelay: delay, log: log)
        }
        await record(task, outcome, log: log)
    }

    /// Auto-commit: the completed task's changes become one commit on the item's branch, before
    /// the next phase can start in the same worktree.
    func commitChanges(
        _ task: AgentTask, workdir: String, outcome: AttemptOutcome, retryDelay: Double, log: Logger
    ) async -> AttemptOutcome {
        let title = task.context["backlog_title"]?.stringValue ?? String(task.direction.prefix(60))
        let message = "[nightshift] \(task.taskType) \(task.id): \(title)"
        do {
            if try await Workspace.commitAll(in: workdir, message: message, redactor: env.redactor) {
                log.info("committed: \(message)")
                if env.config.projectManager.autoPush, let branch = task.context["branch"]?.stringValue {
                    do { try await Workspace.push(in: workdir, branch: branch) } catch { log.error("auto-push failed: \(error)") }
                }
            }
            return outcome
        } catch let blocked as WorktreeSafety.SecretBlocked {
            // A secret is never committed: a human removes it, then answers (the task runs again).
            log.error("auto-commit refused: \(blocked)")
            var asking = outcome
            asking.kind = .needsDecision(
                prompt: "Auto-commit stopped: the staged changes hold a secret (value masked):\n\(blocked.listing)\n"
                    + "Remove it from the worktree \(workdir), then answer to run the task again.")
            return asking
        } catch {
            log.error("auto-commit failed: \(error)")
            var failed = outcome
            failed.kind = .failed(errorClass: .commitFailed, error: "\(error)", retryDelay: retryDelay)
            return failed
        }
    }

    /// Records the outcome. A store that cannot take the write now (a full disk, a database
    /// briefly unavailable) is retried with backoff until it can, so the attempt's result is not
    /// lost and the task does not sit "running" until its lease lapses; shutdown ends the wait
    /// (the rescuer then runs the task again: at-least-once).
    func finishRetrying(_ task: AgentTask, _ outcome: AttemptOutcome, log: Logger) async throws -> AgentTask {
        var delay = Duration.milliseconds(250)
        var warned = false
        while true {
            do {
                let updated = try await env.ledger.finish(id: task.id, owner: env.instanceID, outcome: outcome, now: env.now())
                if warned { log.notice("outcome recorded after the store could take writes again") }
                return updated
            } catch let error as StoreError where error.code == .diskFull || error.code == .unavailable {
                if !warned {
                    log.error("outcome not recorded yet (\(error.message)); retrying until the store takes it")
                    warned = true
                }
                try await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(5))
            }
        }
    }

    func record(_ task: AgentTask, _ outcome: AttemptOutcome, log: Logger) async {
        do {
            let updated = try await finishRetrying(task, outcome, log: log)
            switch updated.status {
            case .pending:
                log.warning(
                    "attempt failed, retrying",
                    metadata: [
                        "error_class": "\(updated.errorClass ?? "")",
                        "not_before": "\(updated.notBefore.map(Timestamp.format) ?? "")",
                    ])
            case .failed where updated.errorClass == ErrorClass.contractUnmet.rawValue:
                // Not an error of the daemon's: the pipeline runs the phase again (or blocks the item).
                log.warning("output contract not met: \(updated.error ?? "")", metadata: ["error_class": "contract_unmet"])
            case .failed:
                log.error("task failed: \(updated.error ?? "")", metadata: ["error_class": "\(updated.errorClass ?? "")"])
            case .needsDecision:
                log.info("task needs a decision: \(updated.decisionPrompt ?? "")")
            default:
                log.info("task \(updated.status.rawValue)")
            }
        } catch let error as StoreError where error.code == .lostClaim {
            log.warning("outcome not recorded: \(error.message)")
        } catch is CancellationError {
            log.warning("outcome not recorded before shutdown; the rescuer runs the task again")
        } catch {
            log.error("outcome not recorded: \(error)")
        }
    }
}
