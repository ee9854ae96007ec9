import Foundation
import NightshiftCore
import NightshiftStore

extension Monitor {
    /// `monitor_issues.json`: open issues first, then the last resolved ones.
    func writeIssuesView(now: Date) async throws -> [MonitorIssue] {
        let issues = try await store.monitorIssues(includeResolved: true, limit: 200)
        let open = issues.filter(\.isOpen)
        struct View: Encodable {
            var generatedAt: Date
            var open: Int
            var issues: [MonitorIssue]
            enum CodingKeys: String, CodingKey {
                case open, issues
                case generatedAt = "generated_at"
            }
        }
        try AtomicFile.writeJSON(View(generatedAt: now, open: open.count, issues: issues), to: env.paths.monitorIssues)
        return open
    }

    func buildReport(snapshot s: MonitorSnapshot, changes: IssueChanges, now: Date) async throws -> StatusReport {
        let open = try await writeIssuesView(now: now)
        let recent = try await store.recentFinished(limit: Effectiveness.window)
        let eff = try await Effectiveness.compute(store: store, now: now, recent: recent)
        let metrics = TaskMetrics.compute(recent, windowSize: Effectiveness.window)
        let pm = try? await projectManager?.status()
        var services: [String: StatusReport.Service] = [:]
        for name in Set(s.expectedServices + Array(s.heartbeats.keys) + ["monitor"]) {
            let age = s.heartbeats[name].map { now.timeIntervalSince($0) }
            let alive = name == "monitor" ? true : age.map { $0 <= configuration.thresholds.heartbeatStale } ?? false
            // Right after a start a service may not have beaten yet: that is "starting", not dead.
            let starting =
                !alive && age == nil
                && now.timeIntervalSince(s.watchingSince ?? .distantPast) <= configuration.thresholds.heartbeatStale
            services[name] = .init(alive: alive, starting: starting, lastBeatAgeSeconds: age.map { ($0 * 10).rounded() / 10 })
        }
        var well: [String] = []
        var attention: [String] = []
        if let rate = eff.successRate, rate >= configuration.thresholds.minSuccessRate {
            well.append("\(Int((rate * 100).rounded()))% of recent tasks succeeded")
        }
        if eff.throughput.completedLastHour > 0 {
            well.append("\(eff.throughput.completedLastHour) task(s) completed in the last hour")
        }
        if let b = eff.backlogProgress, b.done > 0 { well.append("\(b.done) of \(b.total) backlog item(s) done") }
        if s.apiReachable == true { well.append("the API answers") }
        if services.filter({ !$0.value.alive && !$0.value.starting }).isEmpty {
            well.append(services.contains { $0.value.starting } ? "every service is alive or starting" : "every service is alive")
        }
        if !changes.resolved.isEmpty { well.append("\(changes.resolved.count) issue(s) resolved since the last check") }
        for i in open { attention.append("[\(i.severity.rawValue)] \(i.condition) \(i.subject): \(i.message)") }
        if open.isEmpty && !s.waiting.isEmpty { attention.append("\(s.waiting.count) task(s) waiting for a decision") }
        // The merge queue: items waiting for retry/skip, and conflicts a dry-run merge sees coming.
        if let landing = pm?.landing {
            let base = landing.baseBranch ?? "the base branch"
            for e in landing.queue where e.state == .waiting {
                let why = e.detail?.split(separator: "\n").first.map(String.init) ?? "no reason recorded"
                attention.append("item \(e.key) waits in the merge queue (nightshift pm land \(e.key) retry|skip): \(why)")
            }
            for a in landing.conflictsAhead {
                attention.append("item \(a.key) will conflict with \(base) in \(a.files.joined(separator: ", ")) (dry-run merge)")
            }
        }
        return StatusReport(
            generatedAt: now,
            overall: .init(status: open.isEmpty ? "ok" : "attention", goingWell: well, needsAttention: attention),
            layer0Goal: .init(goalProximity: eff.goalProximity, backlogProgress: eff.backlogProgress),
            layer1Orchestration: .init(
                services: services, workers: env.config.runner.workers, running: s.running.count,
                pending: s.counts[.pending] ?? 0,
                projectManagerState: pm.map { $0.state }, itemsInFlight: pm.map { $0.inFlight.count } ?? 0),
            layer2Execution: .init(
                apiReachable: s.apiReachable, throughput: eff.throughput, durationSeconds: metrics.durationSeconds,
                successRate: eff.successRate),
            layer3Attention: .init(openIssues: open, resolvedSinceLast: changes.resolved, needsDecision: s.waiting.map(\.id)),
            runID: env.run?.paths.id)
    }
}
