import Foundation
import NightshiftCore
import NightshiftStore

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

extension Monitor {
    /// Gathers everything the rules look at.
    func makeSnapshot() async throws -> MonitorSnapshot {
        let now = env.now()
        var s = MonitorSnapshot(now: now)
        let health = try await store.taskHealth(
            now: now, recent: max(configuration.thresholds.successWindow, configuration.thresholds.repeatedFailures))
        s.counts = health.counts
        s.oldestRunnableSince = health.oldestRunnableSince
        s.running = health.running
        s.recentOutcomes = health.recentOutcomes
        s.waiting = health.waiting
        s.taskTimeout = env.config.runner.taskTimeout
        s.heartbeats = env.health.heartbeats
        s.watchingSince = watchingSince
        s.expectedServices = ["agent_runner"] + ((projectManager?.isEnabled ?? false) ? ["project_manager"] : [])
        s.blockedItems = try await store.items().filter { $0.state == .blocked }.map {
            MonitorSnapshot.BlockedItem(key: $0.key, title: $0.title, reason: $0.blockedReason ?? "")
        }
        s.diskFreeBytes = Self.freeBytes(env.paths.root)
        s.logErrors = countLogErrors()
        s.logRecurrences = await logRecurrences()
        (s.recordedVersion, s.currentVersion, s.versionChanges) = await versions()
        s.backlogError = projectManager?.backlogError
        if configuration.apiProbe, let url = apiURL.value {
            (s.apiReachable, s.apiProbeError) = await Self.probe(url + "/api/health")
        }
        do {
            try await store.setPipelineValue("monitor_probe", Timestamp.format(now))
        } catch {
            s.stateWritable = false
        }
        let budget = env.agents.budget
        if budget.state == "exhausted" { s.budgetExhausted = budget.reason }
        if budget.state == "waiting" { s.budgetWaiting = budget.reason }
        for p in env.agents.pauses where p.until > now { s.pausedExecutors[p.executor] = AgentBoard.describe(p) }
        s.missingExecutors = env.config.runner.executors.keys.sorted().filter { name in
            !Self.programExists(env.config.runner.executors[name]!.command)
        }
        return s
    }

    static func freeBytes(_ path: String) -> Int64? { DiskSpace.freeBytes(path) }

    /// Fingerprints in the lines of several tasks of tonight's log runs: the daemon's run (where
    /// its agents' output goes) and the latest one. Empty when the store keeps no logs or the
    /// rule is off; a failed read is logged and skipped (the other rules still run).
    func logRecurrences() async -> [LogRecurrence] {
        let threshold = configuration.thresholds.logRecurringTasks
        guard threshold > 0, let logs = store as? any LogStore else { return [] }
        do {
            var runs: [String] = []
            if let id = env.run?.paths.id { runs.append(id) }
            if let latest = try await logs.latestLogRun()?.id, !runs.contains(latest) { runs.append(latest) }
            var out: [LogRecurrence] = []
            for run in runs { out += try await logs.logRecurrences(runID: run, minTasks: threshold, limit: 20) }
            return out
        } catch {
            logger.warning("could not read recurring log fingerprints: \(error)")
            return []
        }
    }

    /// ERROR lines written to each component log since the last check.
    func countLogErrors() -> [String: Int] {
        var out: [String: Int] = [:]
        for name in Self.watchedLogs {
            let path = env.paths.componentLog(name)
            guard let handle = FileHandle(forReadingAtPath: path) else { continue }
            defer { try? handle.close() }
            let size = (try? handle.seekToEnd()) ?? 0
            var offset = logOffsets.value[name] ?? size  // the first check starts at the end
            if offset > size { offset = 0 }  // rotated
            let toRead = min(size - offset, 8 * 1024 * 1024)
            try? handle.seek(toOffset: size - toRead)
            let data = toRead > 0 ? handle.readData(ofLength: Int(toRead)) : Data()
            logOffsets.withLock { $0[name] = size }
            let count = data.split(separator: 0x0A).filter {
                $0.range(of: Data(" ERROR [".utf8)) != nil || $0.range(of: Data(" CRITICAL [".utf8)) != nil
            }.count
            if count > 0 { out[name] = count }
        }
        return out
    }

    /// (recorded at start, now, what changed): the workspace's git HEAD, the binary's version,
    /// and whether the binary was rebuilt since (its modification time moved).
    func versions() async -> (String?, String?, [String]) {
        guard let data = FileManager.default.contents(atPath: env.paths.pipelineVersion),
            let recorded = try? JSONDecoder().decode([String: JSONValue].self, from: data)
        else { return (nil, nil, []) }
        // The repository whose HEAD was recorded (the watchdog names it), else the daemon's.
        let configured =
            env.config.runner.workspace.isEmpty ? FileManager.default.currentDirectoryPath : env.config.runner.workspace
        let dir = recorded["workspace"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 } ?? configured
        let recordedSHA = recorded["git_sha"]?.stringValue ?? "unknown"
        // A HEAD that cannot be read now (git missing, not a repository) is no evidence of new
        // code: it must not ask for a restart.
        let head = try? await Workspace.git(["rev-parse", "--short=12", "HEAD"], in: dir)
        let currentSHA = head.map { recordedSHA == "unknown" ? $0 : String($0.prefix(recordedSHA.count)) } ?? recordedSHA
        let recordedVersion = recorded["binary_version"]?.stringValue ?? recorded["version"]?.stringValue ?? "?"
        let was = "\(recordedSHA)/\(recordedVersion)"
        var now = "\(currentSHA)/\(VersionInfo.current)"
        var changes: [String] = []
        if currentSHA != recordedSHA { changes.append("git HEAD of \(dir) moved from \(recordedSHA) to \(currentSHA)") }
        if VersionInfo.current != recordedVersion {
            changes.append("nightshift version \(recordedVersion) → \(VersionInfo.current)")
        }
        if let binary = recorded["binary"]?.stringValue,
            let then = recorded["binary_modified_at"]?.stringValue.flatMap(Timestamp.parse),
            let modified = PipelineVersion.modificationTime(of: binary), Timestamp.format(modified) != Timestamp.format(then)
        {
            now += " (binary rebuilt \(Timestamp.format(modified)))"
            changes.append(
                "binary \(binary) rebuilt: modified \(Timestamp.format(modified)), was \(Timestamp.format(then)) at the start")
        }
        return (was, now, changes)
    }

    static func probe(_ url: String) async -> (Bool, String?) {
        guard let u = URL(string: url) else { return (false, "bad URL \(url)") }
        do {
            let (_, response) = try await URLSession.shared.data(for: URLRequest(url: u, timeoutInterval: 5))
            let status = (response as? HTTPURLResponse)?.statusCode ?? 0
            return status == 200 ? (true, nil) : (false, "HTTP \(status)")
        } catch {
            return (false, error.localizedDescription)
        }
    }

    /// Whether the first word of a shell command names a program that exists.
    static func programExists(_ command: String) -> Bool {
        let words = command.split(separator: " ").map(String.init).drop { $0.contains("=") && !$0.hasPrefix("/") }
        guard let first = words.first else { return false }
        if ["cd", "exec", "env", "set", "export", "if", "for", "(", "{", "[", "test", "true", "false", "echo", "printf", "sleep"]
            .contains(first) || first.hasPrefix("$")
        {
            return true
        }
        if first.contains("/") { return FileManager.default.isExecutableFile(atPath: first) }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return path.split(separator: ":").contains { FileManager.default.isExecutableFile(atPath: "\($0)/\(first)") }
    }
}
