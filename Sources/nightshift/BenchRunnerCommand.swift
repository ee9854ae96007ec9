import ArgumentParser
import Foundation
import Logging
import NightshiftCore
import NightshiftRuntime
import NightshiftStore

/// `nightshift bench runner`: dispatch latency (create → agent started; decision → agent
/// restarted) and output capture throughput with redaction, on a real store and real processes.
struct RunnerBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "runner", abstract: "Dispatch latency and output capture of the agent runner.")

    @Option(help: "Tasks for the latency runs.") var tasks = 100
    @Option(help: "Bytes the output-capture agent prints.") var bytes = 1 << 30
    @Option(help: "Scratch directory.") var dir = FileManager.default.temporaryDirectory.path

    func run() async throws {
        try await runReporting {
            let root = (dir as NSString).appendingPathComponent("nightshift-bench-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(atPath: root) }
            let marks = (root as NSString).appendingPathComponent("marks")
            try FileManager.default.createDirectory(atPath: marks, withIntermediateDirectories: true)
            // The agent stamps the moment it starts (ns since the epoch), then asks for a
            // decision when told to and has none.
            let agent = (root as NSString).appendingPathComponent("agent.sh")
            try """
            date +%s%N >> "\(marks)/$NIGHTSHIFT_TASK_ID"
            case "$1" in *ask*) [ -z "$NIGHTSHIFT_DECISION" ] && printf '{"status":"needs_decision","decision_prompt":"go?"}' > "$NIGHTSHIFT_RESULT_FILE";; esac
            case "$1" in *flood*) yes "2026-11-21 build step 0042 compiled module Foo in 0.8s (cache hit) ............" | head -c \(bytes);; esac
            exit 0
            """.write(toFile: agent, atomically: true, encoding: .utf8)
            var config = NightshiftConfig()
            config.stateDir = (root as NSString).appendingPathComponent("state")
            config.runner.executors = ["default": .init(command: "/bin/sh \(agent) {direction}")]
            config.runner.workers = 2
            config.runner.pollInterval = 3600
            config.runner.stallTimeout = 600
            let paths = StatePaths(root: config.stateDir)
            try paths.prepare()
            let store = try SQLiteTaskStore(path: paths.database)
            let logs = ComponentLogs(paths: paths, maxBytes: 5 << 20, backups: 1, redactor: Redactor(), echo: false)
            let env = ServiceEnvironment(
                config: config, paths: paths, store: store, logs: logs, redactor: Redactor(),
                version: VersionInfo(gitSHA: "bench", startedAt: Date()),
                instanceID: "bench")
            let runner = AgentRunner(env: env)
            let running = Task { try await runner.run() }
            defer { running.cancel() }
            let events = env.events.subscribe()
            var iterator = events.makeAsyncIterator()
            func waitFor(_ id: String, _ status: TaskStatus) async {
                while let change = await iterator.next() {
                    if change.task.id == id && change.task.status == status && change.kind == .finished { return }
                }
            }
            func stamps(_ id: String) -> [Double] {
                ((try? String(contentsOfFile: "\(marks)/\(id)", encoding: .utf8)) ?? "").split(separator: "\n").compactMap {
                    Double($0)
                }.map { $0 / 1e9 }
            }

            var createToStart: [Double] = []
            for _ in 0..<tasks {
                let t = AgentTask(taskType: .impl, direction: "noop", now: Date())
                let t0 = Date().timeIntervalSince1970
                let created = try await env.ledger.create(t, by: "bench")
                await waitFor(created.id, .completed)
                if let s = stamps(created.id).first { createToStart.append(s - t0) }
            }
            var decideToStart: [Double] = []
            for _ in 0..<tasks {
                let created = try await env.ledger.create(AgentTask(taskType: .impl, direction: "ask", now: Date()), by: "bench")
                await waitFor(created.id, .needsDecision)
                let t0 = Date().timeIntervalSince1970
                _ = try await env.ledger.decide(id: created.id, decision: "yes", by: "bench", now: Date())
                await waitFor(created.id, .completed)
                if let s = stamps(created.id).dropFirst().first { decideToStart.append(s - t0) }
            }
            func report(_ label: String, _ v: [Double]) {
                let s = v.sorted()
                func p(_ q: Double) -> Double {
                    s.isEmpty ? 0 : s[min(s.count - 1, Int((q * Double(s.count)).rounded(.up)) - 1)] * 1000
                }
                print(
                    label.padding(toLength: 40, withPad: " ", startingAt: 0)
                        + String(format: "p50 %7.2f ms   p99 %7.2f ms   (n=%d)", p(0.5), p(0.99), s.count))
            }
            report("create → agent process started", createToStart)
            report("decision → agent process restarted", decideToStart)

            let t0 = Date()
            let flood = try await env.ledger.create(AgentTask(taskType: .impl, direction: "flood", now: Date()), by: "bench")
            await waitFor(flood.id, .completed)
            let seconds = Date().timeIntervalSince(t0)
            var usage = rusage()
            getrusage(RUSAGE_SELF.rawValue, &usage)
            let logSize = (try? FileManager.default.attributesOfItem(atPath: paths.taskLog(flood.id))[.size] as? Int) ?? 0
            print(
                String(
                    format: "output capture (redaction on)           %7.1f MB/s  (%d MiB in %.2f s; log %d MiB)",
                    Double(bytes) / seconds / 1e6, bytes >> 20, seconds, logSize >> 20))
            print(String(format: "peak RSS of this process (daemon side)  %7.1f MB", Double(usage.ru_maxrss) / 1024))
        }
    }
}
