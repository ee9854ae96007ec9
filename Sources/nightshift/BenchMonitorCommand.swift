import ArgumentParser
import Foundation
import NightshiftBench
import NightshiftCore
import NightshiftRuntime
import NightshiftStore

#if canImport(Glibc)
    import Glibc
#endif

/// `nightshift bench monitor`: (1) the monitor's CPU time per check with a large store, and
/// (2) the time from a condition appearing (K failed tasks recorded) to its issue being visible
/// in the store, which is what `GET /api/agent/monitor-issues` reads, with the monitor service
/// running at a short interval.
struct MonitorBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "monitor",
        abstract: "Monitor CPU time per check with a large store, and condition → visible issue latency.",
        discussion: """
            The store is filled with --tasks tasks spread over the last 7 days (about 75% completed, \
            14% failed, 10% pending, a few running, waiting and cancelled), inserted in batches of 1000. \
            CPU time is the process's (CLOCK_PROCESS_CPUTIME_ID) around runOnce(), so it includes the \
            database reader and writer threads.
            """)

    @Option(help: "Tasks in the store.") var tasks = 100_000
    @Option(help: "Checks timed for the CPU figure.") var checks = 20
    @Option(help: "Conditions timed for the latency figure.") var samples = 20
    @Option(help: "Monitor interval for the latency figure, in seconds.") var interval = 0.1
    @Option(help: "Directory for the temporary state dir.") var dir = FileManager.default.temporaryDirectory.path

    static let owner = "bench-runner"
    static let k = 3

    func run() async throws {
        try await runReporting {
            guard tasks >= 1000, checks > 0, samples > 0, interval > 0 else {
                throw CLIFailure(message: "--tasks must be at least 1000; --checks, --samples and --interval positive", code: 2)
            }
            let root = (dir as NSString).appendingPathComponent("nightshift-bench-monitor-\(getpid())")
            defer { try? FileManager.default.removeItem(atPath: root) }
            let paths = StatePaths(root: root)
            try paths.prepare()
            let store = try SQLiteTaskStore(path: paths.database)

            let fillStart = ContinuousClock.now
            try await Self.fill(store, tasks: tasks)
            let counts = try await store.countByStatus()
            print(
                "store: \(tasks) tasks in \(Self.format(ContinuousClock.now - fillStart)) ("
                    + TaskStatus.allCases.map { "\($0.rawValue) \(counts[$0] ?? 0)" }.joined(separator: ", ") + ")")

            var config = NightshiftConfig()
            config.stateDir = root
            config.monitor.apiProbe = false
            config.monitor.autoRecover = false
            config.monitor.interval = interval
            config.monitor.thresholds.repeatedFailures = Self.k
            config.runner.executors = ["default": .init(command: "/bin/sh -c true")]
            let logs = ComponentLogs(paths: paths, maxBytes: 5 << 20, backups: 1, redactor: Redactor(), echo: false)
            let env = ServiceEnvironment(
                config: config, paths: paths, store: store, logs: logs, redactor: Redactor(),
                version: VersionInfo(gitSHA: "bench", startedAt: Date()), instanceID: Self.owner)
            let monitor = Monitor(env: env, store: store, notifier: nil, projectManager: nil, apiURL: Locked<String?>(nil))

            // (1) CPU per check.
            env.health.beat("agent_runner", at: Date())
            _ = try await monitor.runOnce()  // warm-up
            var cpu: [Double] = []
            var wall: [Double] = []
            for _ in 0..<checks {
                env.health.beat("agent_runner", at: Date())
                let c0 = Measure.processCPUSeconds()
                let w0 = ContinuousClock.now
                _ = try await monitor.runOnce()
                wall.append((ContinuousClock.now - w0).inSeconds)
                cpu.append(Measure.processCPUSeconds() - c0)
            }
            cpu.sort()
            wall.sort()
            print(
                String(
                    format: "check with %d tasks: CPU median %.1f ms (min %.1f, max %.1f); wall median %.1f ms over %d checks",
                    tasks, cpu[cpu.count / 2] * 1000, cpu.first! * 1000, cpu.last! * 1000, wall[wall.count / 2] * 1000, checks))

            // (2) Condition → visible issue, with the service running.
            let beating = Task {
                while !Task.isCancelled {
                    env.health.beat("agent_runner", at: Date())
                    try? await Task.sleep(for: .milliseconds(50))
                }
            }
            let service = Task { try await monitor.run() }
            defer {
                service.cancel()
                beating.cancel()
            }
            var latencies: [Double] = []
            for _ in 0..<samples {
                try await Self.record(store, failed: Self.k)
                let appeared = ContinuousClock.now
                try await Self.waitFor(timeout: max(30, interval * 50)) {
                    try await store.monitorIssues(includeResolved: false, limit: 50).contains {
                        $0.condition == "repeated_failures"
                    }
                }
                latencies.append((ContinuousClock.now - appeared).inSeconds)
                try await Self.record(store, failed: 0)
                try await Self.waitFor(timeout: max(30, interval * 50)) {
                    try await !store.monitorIssues(includeResolved: false, limit: 50).contains {
                        $0.condition == "repeated_failures"
                    }
                }
            }
            latencies.sort()
            print(
                String(
                    format:
                        "condition → issue visible (interval %.0f ms, %d tasks): median %.0f ms, p90 %.0f ms, max %.0f ms over %d conditions",
                    interval * 1000, tasks, latencies[latencies.count / 2] * 1000,
                    latencies[min(latencies.count - 1, Int(Double(latencies.count) * 0.9))] * 1000, latencies.last! * 1000,
                    samples))
        }
    }

    /// Inserts `tasks` tasks in batches of 1000 over the last 7 days and drives most of them to an end.
    static func fill(_ store: SQLiteTaskStore, tasks: Int) async throws {
        let start = Date().addingTimeInterval(-7 * 86400)
        let step = 7 * 86400 / Double(tasks)
        var made = 0
        while made < tasks {
            let n = min(1000, tasks - made)
            let batchTime = start.addingTimeInterval(Double(made) * step)
            let batch = (0..<n).map { i in
                AgentTask(
                    taskType: [.spec, .impl, .test, .review][i % 4], direction: "benchmark task \(made + i)", maxAttempts: 1,
                    now: batchTime.addingTimeInterval(Double(i) * step))
            }
            _ = try await store.create(batch)
            // Claimed when the batch's last task was created, finished half a step later: never
            // past the start of the benchmark, so the outcomes recorded later are the newest.
            let claimAt = batchTime.addingTimeInterval(Double(n - 1) * step)
            let claimed = try await store.claimNext(owner: owner, limit: n * 9 / 10, now: claimAt, lease: 60)
            var requests: [FinishRequest] = []
            for (i, t) in claimed.enumerated() {
                let kind: AttemptOutcome.Kind =
                    i % 7 == 3 ? .failed(errorClass: .agentError, error: "exit 1", retryDelay: nil) : .completed
                requests.append(
                    FinishRequest(id: t.id, owner: owner, outcome: AttemptOutcome(kind, exitCode: i % 7 == 3 ? 1 : 0)))
            }
            _ = try await store.finish(requests, now: claimAt.addingTimeInterval(step / 2))
            made += n
        }
        // A few cancelled and waiting tasks, two running now, and a recent run of successes.
        let now = Date()
        let extra = (0..<5).map { AgentTask(taskType: .impl, direction: "extra \($0)", priority: 50, maxAttempts: 1, now: now) }
        _ = try await store.create(extra)
        for t in extra.prefix(2) { _ = try await store.cancel(id: t.id, reason: "bench", now: now) }
        for t in try await store.claimNext(owner: owner, limit: 3, now: now, lease: 3600) {
            _ = try await store.finish(
                id: t.id, owner: owner, outcome: AttemptOutcome(.needsDecision(prompt: "which way?")), now: now)
        }
        try await record(store, failed: 0)
        let running = (0..<2).map {
            AgentTask(taskType: .impl, direction: "running \($0)", priority: 100, maxAttempts: 1, now: now)
        }
        _ = try await store.create(running)
        _ = try await store.claimNext(owner: owner, limit: 2, now: now, lease: 3600)
    }

    /// Records K runs: `failed` failures last (newest), after successes that fill up the rest.
    static func record(_ store: SQLiteTaskStore, failed: Int) async throws {
        let outcomes = Array(repeating: false, count: k - failed) + Array(repeating: true, count: failed)
        for fails in outcomes {
            let now = Date()
            let t = try await store.create(
                AgentTask(taskType: .impl, direction: "recorded", priority: 1000, maxAttempts: 1, now: now))
            guard let claimed = try await store.claimNext(owner: owner, limit: 1, now: now, lease: 60).first, claimed.id == t.id
            else {
                throw CLIFailure(message: "benchmark claim went to another task")
            }
            let kind: AttemptOutcome.Kind =
                fails ? .failed(errorClass: .agentError, error: "exit 1", retryDelay: nil) : .completed
            _ = try await store.finish(id: t.id, owner: owner, outcome: AttemptOutcome(kind), now: Date())
        }
    }

    static func waitFor(timeout: Double, _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + .milliseconds(Int64(timeout * 1000))
        while try await !condition() {
            guard ContinuousClock.now < deadline else { throw CLIFailure(message: "timed out after \(timeout) s") }
            try await Task.sleep(for: .milliseconds(1))
        }
    }

    static func format(_ d: Duration) -> String { String(format: "%.1f s", d.inSeconds) }
}
