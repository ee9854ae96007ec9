import ArgumentParser
import Foundation
import Hummingbird
import Logging
import NightshiftAPI
import NightshiftCore
import NightshiftRuntime
import NightshiftStore
import ServiceLifecycle

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// `nightshift bench dashboard`: the weight and server time of `/` with a large store, and the
/// time to build and render the morning report of a large run. (The time from a transition to
/// the browser's DOM needs a browser: `scripts/bench_dashboard.sh` measures it in Chromium.)
struct DashboardBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dashboard", abstract: "Page weight and server time of / with many tasks; morning report build time.")
    @Option(help: "Tasks in the store for the page.") var tasks = 10_000
    @Option(help: "Tasks in the run for the report.") var reportTasks = 500
    @Option(help: "Requests of / (and reports built) to time.") var runs = 30
    @Option(help: "Directory for the benchmark databases.") var dir = FileManager.default.temporaryDirectory.path

    func run() async throws {
        try await runReporting {
            guard tasks > 0, reportTasks > 0, runs > 0 else { throw CLIFailure(message: "counts must be positive", code: 2) }
            let root = (dir as NSString).appendingPathComponent("nightshift-bench-dashboard-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(atPath: root) }
            try await page(root: root + "/page")
            try await report(root: root + "/report")
        }
    }

    /// Seeds `count` tasks in every status through the store's own operations.
    static func seed(_ store: SQLiteTaskStore, count: Int, now: Date) async throws {
        var made = 0
        while made < count {
            let n = min(500, count - made)
            let batch = (0..<n).map { i in
                AgentTask(
                    taskType: [TaskType.spec, .impl, .test, .review][(made + i) % 4],
                    direction: "bench task \(made + i): " + String(repeating: "do the thing ", count: 8), maxAttempts: 1,
                    backlogItem: "\(made + i)", phase: ["spec", "impl", "test", "review"][(made + i) % 4], now: now)
            }
            _ = try await store.create(batch, by: "bench")
            made += n
            // Most end: completed, failed, waiting for a decision; the rest stay pending or running.
            let claimed = try await store.claim(owner: "bench", limit: n * 9 / 10, now: now, lease: 3600).value
            let ending = claimed.prefix(claimed.count * 9 / 10)
            let requests = ending.enumerated().map { (i, t) -> FinishRequest in
                let kind: AttemptOutcome.Kind =
                    i % 10 == 0
                    ? .failed(errorClass: "exit_code", error: "exit 1", retryDelay: nil)
                    : i % 25 == 1 ? .needsDecision(prompt: "which one?") : .completed
                return FinishRequest(
                    id: t.id, owner: "bench",
                    outcome: AttemptOutcome(kind, exitCode: 0, costUSD: 0.01, tokensIn: 1000, tokensOut: 200))
            }
            _ = try await store.finish(requests, now: now.addingTimeInterval(2))
        }
    }

    func environment(root: String, runID: String?) throws -> (ServiceEnvironment, SQLiteTaskStore) {
        var config = NightshiftConfig()
        config.stateDir = root
        config.server.port = 0
        let paths = StatePaths(root: root)
        try paths.prepare()
        let store = try SQLiteTaskStore(path: paths.database, runID: runID)
        let logs = ComponentLogs(paths: paths, maxBytes: 5 << 20, backups: 1, redactor: Redactor(), echo: false)
        let env = ServiceEnvironment(
            config: config, paths: paths, store: store, logs: logs, redactor: Redactor(),
            version: VersionInfo(gitSHA: "bench", startedAt: Date()), instanceID: "bench")
        return (env, store)
    }

    func page(root: String) async throws {
        let (env, store) = try environment(root: root, runID: nil)
        let t0 = Date()
        try await Self.seed(store, count: tasks, now: Date())
        print(String(format: "seeded %d tasks in %.1f s", tasks, Date().timeIntervalSince(t0)))
        let port = Locked<Int?>(nil)
        let app = APIServer.buildApplication(
            env: env, views: .files(env.paths), isReady: { true }, onRunning: { p in port.withLock { $0 = p } })
        let group = ServiceGroup(services: [app], logger: Logger(label: "bench"))
        let server = Task { try await group.run() }
        defer { server.cancel() }
        let deadline = Date().addingTimeInterval(30)
        while port.value == nil && Date() < deadline { try await Task.sleep(for: .milliseconds(5)) }
        guard let p = port.value else { throw CLIFailure(message: "the server did not start") }
        var times: [Double] = []
        var bytes = 0
        for i in 0...runs {
            let start = Date()
            let (data, response) = try await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(p)/")!)
            let ms = Date().timeIntervalSince(start) * 1000
            guard (response as? HTTPURLResponse)?.statusCode == 200 else { throw CLIFailure(message: "GET / failed") }
            bytes = data.count
            if i > 0 { times.append(ms) }  // the first warms the caches
        }
        let counts = try await store.countByStatus()
        print(
            "GET / with \(tasks) tasks ("
                + TaskStatus.allCases.map { "\($0.rawValue) \(counts[$0] ?? 0)" }.joined(separator: ", ")
                + ")")
        print(String(format: "  page weight %.1f KiB (one request: style and script inline)", Double(bytes) / 1024))
        Self.figure("  time to the whole page", times)
        await group.triggerGracefulShutdown()
        _ = try? await server.value
    }

    func report(root: String) async throws {
        let runID = RunID.generate()
        let (env, store) = try environment(root: root, runID: runID)
        let files = try RunFiles(paths: env.paths.run(runID))
        let info = try files.begin(RunFiles.info(id: runID, mode: .daemon, config: env.config, configPath: nil))
        try await Self.seed(store, count: reportTasks, now: info.startedAt)
        let reporter = RunReporter(store: store, paths: env.paths, files: files, gates: [:])
        let writer = MorningReportWriter(store: store, paths: env.paths)
        var build: [Double] = []
        var render: [Double] = []
        var sizes = (0, 0, 0)
        for _ in 0..<runs {
            let t0 = Date()
            let summary = try await reporter.summary(info: info)
            let report = try await writer.build(summary: summary)
            let t1 = Date()
            let html = report.html()
            let md = report.markdown()
            let json = try JSONEncoder.nightshift().encode(report)
            let t2 = Date()
            build.append(t1.timeIntervalSince(t0) * 1000)
            render.append(t2.timeIntervalSince(t1) * 1000)
            sizes = (html.utf8.count, md.utf8.count, json.count)
        }
        print("morning report of a run of \(reportTasks) tasks")
        Self.figure("  read the run and build the report", build)
        Self.figure("  render report.html + report.md + report.json", render)
        print(
            String(
                format: "  sizes: html %.1f KiB, md %.1f KiB, json %.1f KiB", Double(sizes.0) / 1024, Double(sizes.1) / 1024,
                Double(sizes.2) / 1024))
    }

    static func figure(_ label: String, _ v: [Double]) {
        let s = v.sorted()
        func q(_ p: Double) -> Double { s.isEmpty ? 0 : s[min(s.count - 1, max(0, Int((p * Double(s.count)).rounded(.up)) - 1))] }
        print(
            label.padding(toLength: 48, withPad: " ", startingAt: 0)
                + String(format: "p50 %7.2f ms   p99 %7.2f ms   (n=%d)", q(0.5), q(0.99), s.count))
    }
}
