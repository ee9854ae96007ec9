import Foundation
import Logging
import NightshiftCore
import NightshiftStore
import ServiceLifecycle

/// Watches the pipeline: each check builds one snapshot, runs the rules, keeps one issue per
/// (condition, subject), writes the operator files, asks the watchdog for a restart when one
/// helps, records fatal issues, files at most one heal task per issue, and sends alerts.
public final class Monitor: Service, Sendable {
    public struct Configuration: Sendable {
        /// Time between checks.
        public var interval: Double
        public var thresholds: MonitorThresholds
        /// May write restart_requested.json.
        public var autoRecover: Bool
        /// May file heal tasks.
        public var autoFix: Bool
        public var restartCooldown: Double
        public var apiProbe: Bool
        public var debounce: Double
    }

    /// What one check found and did.
    public struct CheckResult: Sendable {
        public var findings: [Finding]
        public var changes: IssueChanges
        public var report: StatusReport
        public var restartRequested: RestartRequest?
        public var healTasks: [String]
    }

    typealias Store = any TaskStore & MonitorStore & PipelineStore

    let env: ServiceEnvironment
    let store: Store
    let configuration: Configuration
    let logger: Logger
    let notifier: Notifier?
    let projectManager: ProjectManager?
    /// The daemon's own URL once it listens (for the API probe).
    let apiURL: Locked<String?>
    let logOffsets = Locked<[String: UInt64]>([:])
    let lastAttention = Locked<[JSONValue]>([])
    let lastAlert = Locked<[String: Date]>([:])
    /// Fatal conditions already logged (once each), and those not yet written to the file.
    let fatalState = Locked<(logged: Set<MonitorCondition>, unwritten: [MonitorCondition: FatalIssue])>(([], [:]))
    /// When this monitor began watching (a service that never beat gets this much grace).
    let watchingSince: Date
    static let lastRestartKey = "monitor_last_restart_request"
    static let watchedLogs = ["agent_runner", "project_manager", "api", "nightshift"]

    init(env: ServiceEnvironment, store: Store, notifier: Notifier?, projectManager: ProjectManager?, apiURL: Locked<String?>) {
        self.env = env
        self.store = store
        let m = env.config.monitor
        self.configuration = Configuration(
            interval: m.interval, thresholds: m.thresholds, autoRecover: m.autoRecover, autoFix: m.autoFix,
            restartCooldown: m.restartCooldown, apiProbe: m.apiProbe, debounce: env.config.notify.debounce)
        self.logger = env.logs.logger("monitor")
        self.notifier = notifier
        self.projectManager = projectManager
        self.apiURL = apiURL
        self.watchingSince = env.now()
    }

    public convenience init(
        env: ServiceEnvironment, store: some TaskStore & MonitorStore & PipelineStore, notifier: Notifier?,
        projectManager: ProjectManager?,
        apiURL: Locked<String?>
    ) {
        self.init(env: env, store: store as Store, notifier: notifier, projectManager: projectManager, apiURL: apiURL)
    }

    /// Attention flags of the last check, for pipeline-status.
    public var attention: [JSONValue] { lastAttention.value }

    public func run() async throws {
        env.health.setRunning("monitor", true)
        defer { env.health.setRunning("monitor", false) }
        let events = env.events.subscribe()
        await withTaskGroup(of: Void.self) { group in
            // Decisions are announced as they are asked, between the periodic checks.
            group.addTask {
                for await change in events where change.kind == .finished && change.task.status == .needsDecision {
                    self.alertDecision(change.task)
                }
            }
            await runPeriodically(every: configuration.interval, on: env.clock, logger: logger, what: "monitor check") {
                _ = try await self.runOnce()
            }
            group.cancelAll()
        }
    }

    func alertDecision(_ task: AgentTask) {
        notifier?.send(
            Alert(
                event: "needs_decision", at: env.now(),
                text: "Task \(task.id) needs a decision: \(task.decisionPrompt ?? "")\nReply: /reply \(task.id) <decision>",
                taskID: task.id))
    }

    /// One check.
    public func runOnce() async throws -> CheckResult {
        let snapshot = try await makeSnapshot()
        let findings = MonitorRules.evaluate(snapshot, configuration.thresholds)
        let now = env.now()
        // Fatal conditions first: a full disk makes the store writes below fail.
        recordFatal(findings, now: now)
        let changes = try await store.applyFindings(findings, now: now)
        try writeIssueFiles(changes: changes, now: now)
        env.events.publishSignal(.issues)
        let restart = try await requestRestartIfHelpful(findings, now: now)
        let heal = configuration.autoFix ? try await fileHealTasks(now: now) : []
        await alert(changes, now: now)
        let report = try await buildReport(snapshot: snapshot, changes: changes, now: now)
        try? AtomicFile.writeJSON(report, to: env.paths.statusReportJSON)
        try? AtomicFile.write(Data(report.text.utf8), to: env.paths.statusReportText)
        logger.info("\(report.statusLine)")
        lastAttention.withLock { a in
            a = report.overall.needsAttention.map { JSONValue.string($0) }
        }
        env.health.beat("monitor", at: env.now())
        return CheckResult(findings: findings, changes: changes, report: report, restartRequested: restart, healTasks: heal)
    }

    func writeIssueFiles(changes: IssueChanges, now: Date) throws {
        if !changes.resolved.isEmpty {
            var lines = ""
            for i in changes.resolved {
                let entry: [String: JSONValue] = [
                    "id": .string(i.id), "condition": .string(i.condition.rawValue), "subject": .string(i.subject),
                    "severity": .string(i.severity.rawValue), "first_seen": .string(Timestamp.format(i.firstSeen)),
                    "resolved_at": .string(Timestamp.format(now)), "checks": .number(Double(i.count)),
                    "duration_seconds": .number((now.timeIntervalSince(i.firstSeen) * 10).rounded() / 10),
                ]
                lines += String(decoding: try JSONEncoder.nightshift().encode(entry), as: UTF8.self) + "\n"
                logger.info("resolved \(i.id) \(i.condition) \(i.subject)")
            }
            appendLine(lines, to: env.paths.monitorResolutions)
        }
        for i in changes.opened {
            logger.warning("opened \(i.id) [\(i.severity.rawValue)] \(i.condition) \(i.subject): \(i.message)")
        }
    }

    /// Appends whole lines with one write (O_APPEND), so a reader never sees half a line.
    func appendLine(_ text: String, to path: String) {
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return }
        defer { close(fd) }
        var t = text
        t.withUTF8 { _ = write(fd, $0.baseAddress, $0.count) }
        fsync(fd)
    }

    func requestRestartIfHelpful(_ findings: [Finding], now: Date) async throws -> RestartRequest? {
        guard configuration.autoRecover, let f = findings.first(where: { MonitorRules.restartable.contains($0.condition) }) else {
            return nil
        }
        if let last = try await store.pipelineValue(Self.lastRestartKey).flatMap(Double.init),
            now.timeIntervalSince1970 - last < configuration.restartCooldown
        {
            return nil
        }
        guard !FileManager.default.fileExists(atPath: env.paths.restartRequested) else { return nil }
        let request = RestartRequest(reason: "\(f.condition): \(f.message)", at: now, requestedBy: "monitor")
        try request.write(to: env.paths.restartRequested)
        try await store.setPipelineValue(Self.lastRestartKey, "\(now.timeIntervalSince1970)")
        logger.warning("asked the watchdog for a restart: \(request.reason)")
        return request
    }

    /// Records each fatal finding in fatal_issues.json, logging it once when it appears (not at
    /// every check). One that cannot be written (the disk is full) is kept and served from memory
    /// (`unwrittenFatal`) until a later check can write it.
    func recordFatal(_ findings: [Finding], now: Date) {
        let fatal = findings.filter { MonitorRules.fatal.contains($0.condition) }
        let conditions = Set(fatal.map(\.condition))
        for f in fatal {
            let issue = FatalIssue(
                condition: f.condition, reason: f.message, detail: f.suggestedAction, source: "monitor", at: now,
                context: ["subject": .string(f.subject)])
            let isNew = !fatalState.value.logged.contains(f.condition)
            do {
                try FatalIssues.report(issue, path: env.paths.fatalIssues)
                fatalState.withLock { $0.unwritten[f.condition] = nil }
                if isNew { logger.critical("fatal: \(f.condition): \(f.message)") }
            } catch {
                fatalState.withLock { $0.unwritten[f.condition] = issue }
                if isNew {
                    logger.critical("fatal: \(f.condition): \(f.message) (fatal_issues.json cannot be written yet: \(error))")
                }
            }
            fatalState.withLock { _ = $0.logged.insert(f.condition) }
        }
        fatalState.withLock { state in
            state.logged.formIntersection(conditions)
            state.unwritten = state.unwritten.filter { conditions.contains($0.key) }
        }
    }

    /// Fatal issues found but not yet written to fatal_issues.json (the disk is full).
    public var unwrittenFatal: [FatalIssue] {
        fatalState.value.unwritten.values.sorted { $0.condition.rawValue < $1.condition.rawValue }
    }

    /// One heal task per open issue that a task could fix, never one per check.
    func fileHealTasks(now: Date) async throws -> [String] {
        // An agent cannot fix a question, a blocked item or a stuck task; nor a spent budget or a
        // usage limit, which a heal task would only spend more on or hit again.
        // Nor a log fingerprint shared by tasks: a heal task's own output could feed it.
        let skip: Set<MonitorCondition> = [
            .needsDecisionWaiting, .itemBlocked, .stuckRunning, .budgetExhausted, .executorPaused, .logRecurring,
        ]
        var filed: [String] = []
        for issue in try await store.monitorIssues(includeResolved: false, limit: 100)
        where issue.healTaskID == nil && issue.severity >= .medium && !skip.contains(issue.condition) {
            let task = AgentTask(
                taskType: .heal,
                direction:
                    "Investigate and fix a pipeline problem found by the monitor.\n\nProblem (\(issue.condition), \(issue.subject)): \(issue.message)\nSuggested action: \(issue.suggestedAction)",
                maxAttempts: env.config.runner.maxAttempts, context: ["monitor_issue": .string(issue.id)], now: now)
            if let created = try await env.ledger.fileHealTask(in: store, issueID: issue.id, task: task) {
                filed.append(created.id)
                logger.info("filed heal task \(created.id) for \(issue.id)")
            }
        }
        return filed
    }

    func alert(_ changes: IssueChanges, now: Date) async {
        guard let notifier, notifier.isConfigured else { return }
        var notified: [String] = []
        for issue in changes.opened where issue.severity >= .high {
            let key = "\(issue.condition)\u{0}\(issue.subject)"
            let recent = lastAlert.withLock { last -> Bool in
                if let t = last[key], now.timeIntervalSince(t) < configuration.debounce { return true }
                last[key] = now
                return false
            }
            if recent { continue }
            notifier.send(
                Alert(
                    event: "issue_opened", at: now,
                    text:
                        "[\(issue.severity.rawValue)] \(issue.condition) \(issue.subject): \(issue.message)\n→ \(issue.suggestedAction)",
                    issue: issue))
            notified.append(issue.id)
        }
        for issue in changes.resolved where issue.notifiedAt != nil {
            notifier.send(
                Alert(event: "issue_resolved", at: now, text: "resolved: \(issue.condition) \(issue.subject)", issue: issue))
        }
        try? await store.markNotified(issueIDs: notified, at: now)
    }
}
