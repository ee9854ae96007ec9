import ArgumentParser
import Foundation
import NightshiftCore
import NightshiftRuntime

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

#if canImport(Glibc)
    import Glibc
#endif

/// `nightshift bench watchdog`: how fast the watchdog brings the daemon back. Runs a real
/// watchdog on a temporary state dir and measures, over N tries each, (1) SIGKILL of the
/// daemon → a new daemon answers /api/ready 200, (2) restart_requested.json written → the same.
struct WatchdogBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watchdog",
        abstract: "Time from kill -9 of the daemon, and from a restart request, to a ready daemon under the watchdog.",
        discussion: """
            Each kill waits until the daemon has run watchdog.reset_after (1s here), so every try is a \
            first crash after a healthy period (backoff 200 ms), as one would be overnight.
            """)

    @Option(help: "Tries of each measurement.") var tries = 20
    @Option(help: "Directory for the temporary state dir.") var dir = FileManager.default.temporaryDirectory.path

    func run() async throws {
        try await runReporting {
            guard tries > 0 else { throw CLIFailure(message: "--tries must be positive", code: 2) }
            let root = (dir as NSString).appendingPathComponent("nightshift-bench-watchdog-\(getpid())")
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: root) }
            let backlog = (root as NSString).appendingPathComponent("backlog.md")
            let config = (root as NSString).appendingPathComponent("nightshift.yaml")
            let state = (root as NSString).appendingPathComponent("state")
            try Data().write(to: URL(fileURLWithPath: backlog))
            try Data(
                """
                project_manager: { backlog: "\(backlog)" }
                monitor: { auto_recover: false }
                watchdog: { reset_after: 1s, start_limit: 10000 }
                """.utf8
            ).write(to: URL(fileURLWithPath: config))

            let watchdog = Process()
            watchdog.executableURL = URL(fileURLWithPath: WatchdogCommand.executablePath())
            watchdog.arguments = ["watchdog", "--config", config, "--state-dir", state, "--port", "0"]
            var env = ProcessInfo.processInfo.environment
            env["NIGHTSHIFT_LOG_STDERR"] = "0"
            watchdog.environment = env
            watchdog.standardOutput = FileHandle.nullDevice
            watchdog.standardError = FileHandle.nullDevice
            try watchdog.run()
            defer {
                if watchdog.isRunning {
                    kill(watchdog.processIdentifier, SIGTERM)
                    watchdog.waitUntilExit()
                }
            }
            let paths = StatePaths(root: state)
            guard var pid = await Self.readyDaemon(paths, notPID: 0) else {
                throw CLIFailure(
                    message: "the daemon did not become ready under the watchdog; see \(paths.componentLog("watchdog"))")
            }

            var killTimes: [Double] = []
            var startups: [Double] = []
            for _ in 0..<tries {
                try await Task.sleep(for: .milliseconds(1100))  // past reset_after: a first crash
                guard let current = await Self.readyDaemon(paths, notPID: 0) else {
                    throw CLIFailure(message: "the daemon is not ready")
                }
                pid = current
                let start = ContinuousClock.now
                kill(pid, SIGKILL)
                guard let next = await Self.readyDaemon(paths, notPID: pid) else {
                    throw CLIFailure(message: "no ready daemon after kill -9")
                }
                killTimes.append((ContinuousClock.now - start).inMilliseconds)
                startups.append(Self.startup(paths, pid: next))
                pid = next
            }
            var restartTimes: [Double] = []
            for i in 0..<tries {
                guard let current = await Self.readyDaemon(paths, notPID: 0) else {
                    throw CLIFailure(message: "the daemon is not ready")
                }
                pid = current
                let start = ContinuousClock.now
                try RestartRequest(reason: "bench \(i)", at: Date(), requestedBy: "bench").write(to: paths.restartRequested)
                guard let next = await Self.readyDaemon(paths, notPID: pid) else {
                    throw CLIFailure(message: "no ready daemon after a restart request")
                }
                restartTimes.append((ContinuousClock.now - start).inMilliseconds)
                startups.append(Self.startup(paths, pid: next))
                pid = next
            }
            kill(watchdog.processIdentifier, SIGTERM)
            watchdog.waitUntilExit()
            print(Self.summary("kill -9 → ready", killTimes))
            print(Self.summary("restart_requested.json → ready", restartTimes))
            print(Self.summary("of which the daemon's own start (spawned → ready)", startups.filter { $0 >= 0 }))
            print("watchdog exit status \(watchdog.terminationStatus)")
        }
    }

    /// Milliseconds from the daemon's start (pipeline_version.json) to now; -1 when unknown.
    static func startup(_ paths: StatePaths, pid: Int32) -> Double {
        guard let v = PipelineVersion.read(path: paths.pipelineVersion), v.pid == pid else { return -1 }
        return Date().timeIntervalSince(v.startedAt) * 1000
    }

    static func summary(_ name: String, _ values: [Double]) -> String {
        let s = values.sorted()
        let median = s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
        let p90 = s[min(s.count - 1, Int((Double(s.count) * 0.9).rounded(.up)) - 1)]
        return String(
            format: "%@: median %.0f ms, p90 %.0f ms, min %.0f ms, max %.0f ms (%d tries)", name, median, p90, s.first!, s.last!,
            s.count)
    }

    /// Polls (every 5 ms, up to 30 s) until a daemon other than `notPID` announced itself and
    /// answers /api/ready 200; returns its pid.
    static func readyDaemon(_ paths: StatePaths, notPID: Int32) async -> Int32? {
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if let a = try? DaemonAnnouncement.read(path: DaemonAnnouncement.path(in: paths)), a.pid != notPID,
                let u = URL(string: a.localURL + "/api/ready")
            {
                var request = URLRequest(url: u, timeoutInterval: 1)
                request.setValue("close", forHTTPHeaderField: "Connection")
                let prepared = request
                if let (_, response) = try? await URLSession.shared.data(for: prepared),
                    (response as? HTTPURLResponse)?.statusCode == 200
                {
                    return a.pid
                }
            }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return nil
    }
}
