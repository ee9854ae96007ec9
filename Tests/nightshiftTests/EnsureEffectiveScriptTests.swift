import Foundation
import NightshiftTesting
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `scripts/ensure_effective_pipeline.sh` against a live daemon: 0 when healthy, 1 with the
/// issue listed as a required action once an open high issue exists, 2 when the daemon is down.
@Suite("ensure_effective_pipeline.sh", .serialized, .timeLimit(.minutes(3)))
struct EnsureEffectiveScriptTests {
    static var script: String { NightshiftBinary.packageRoot.appendingPathComponent("scripts/ensure_effective_pipeline.sh").path }

    static func run(_ arguments: [String]) throws -> (status: Int32, out: String, err: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: script)
        p.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "NIGHTSHIFT_URL")
        env.removeValue(forKey: "NIGHTSHIFT_STATE_DIR")
        p.environment = env
        let out = Pipe()
        let err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.runSerialized()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }

    @Test("the script is executable and explains itself")
    func usage() throws {
        #expect(FileManager.default.isExecutableFile(atPath: Self.script))
        let help = try Self.run(["--help"])
        #expect(help.status == 0)
        #expect(help.out.contains("--url") && help.out.contains("--state-dir"))
        #expect(try Self.run(["--bogus"]).status == 64)
    }

    @Test(
        "exit 0 when healthy; non-zero with the issue as a required action when an open high issue exists; 2 when the daemon is down"
    )
    func againstLiveDaemon() async throws {
        let dir = try TemporaryDirectory(prefix: "nightshift-ensure")
        let shared = dir.path("shared")
        try FileManager.default.createDirectory(atPath: shared, withIntermediateDirectories: true)
        let agent = try dir.write("#!/bin/sh\n[ -f \"$ENSURE_SHARED/fail\" ] && exit 3\nexit 0\n", to: "agent.sh")
        let config = try dir.write(
            """
            runner:
              max_attempts: 1
              executors:
                default: { command: "/bin/sh \(agent) {direction}", env: { ENSURE_SHARED: "\(shared)" } }
            project_manager:
              backlog: ""
            monitor:
              interval: 200ms
              thresholds: { repeated_failures: 2, disk_min_free: 0 }
            """, to: "nightshift.yaml")
        let state = dir.path("state")
        let daemon = try DaemonProcess(stateDir: state, arguments: ["--config", config])
        #expect(await daemon.waitUntilReady(), "\(daemon.stderr)")
        let args = ["--url", daemon.url, "--state-dir", state]

        let body = #"{"direction":"work","task_type":"impl"}"#
        #expect(await HTTP.send("POST", daemon.url + "/api/agent/tasks", json: body)?.status == 201)
        var healthy: (status: Int32, out: String, err: String) = (-1, "", "")
        #expect(
            await waitFor {
                healthy = (try? Self.run(args)) ?? healthy
                return healthy.status == 0 && healthy.out.contains("1 completed in the last hour")
            }, "\(healthy.out)\(healthy.err)")
        #expect(healthy.out.contains("[ok] API reachable"))
        for endpoint in ["metrics", "monitor-issues", "effectiveness", "pipeline-status"] {
            #expect(healthy.out.contains("[ok] \(endpoint) endpoint"), "\(endpoint)")
        }
        #expect(healthy.out.contains("pipeline_version.json"), "version tracking is reported")
        #expect(healthy.out.contains("success rate:    100%"))
        #expect(healthy.out.contains("goal proximity:"))
        #expect(healthy.out.contains("none: the pipeline is healthy"))
        #expect(healthy.out.hasSuffix("OK\n"))

        // Two failures in a row: an open high issue.
        _ = FileManager.default.createFile(atPath: shared + "/fail", contents: nil)
        for _ in 0..<2 { #expect(await HTTP.send("POST", daemon.url + "/api/agent/tasks", json: body)?.status == 201) }
        var failing: (status: Int32, out: String, err: String) = (-1, "", "")
        #expect(
            await waitFor {
                failing = (try? Self.run(args)) ?? failing
                return failing.status == 1
            }, "\(failing.out)\(failing.err)")
        #expect(failing.out.contains("! [high] repeated_failures pipeline"), "\(failing.out)")
        #expect(failing.out.contains("success rate:    33%"))
        #expect(failing.out.hasSuffix("ATTENTION NEEDED\n"))

        daemon.signal(SIGTERM)
        #expect(await daemon.waitForExit() == 0)
        let down = try Self.run(args)
        #expect(down.status == 2)
        #expect(down.out.contains("[FAIL] API reachable"))
        #expect(down.out.contains("does not answer"))
    }

    @Test("a daemon whose watchdog is gone is reported as running unsupervised (exit 1); a live one is ok")
    func unsupervisedDaemon() async throws {
        let dir = try TemporaryDirectory(prefix: "nightshift-ensure")
        let config = try dir.write("project_manager: { backlog: \"\" }\nmonitor: { interval: 1h }\n", to: "nightshift.yaml")
        let state = dir.path("state")
        let daemon = try DaemonProcess(stateDir: state, arguments: ["--config", config])
        #expect(await daemon.waitUntilReady(), "\(daemon.stderr)")
        let args = ["--url", daemon.url, "--state-dir", state]
        func version(watchdog: String) throws {
            try Data(
                """
                {"git_sha": "unknown", "workspace": "", "version": "0.1.0", "binary": "x", "started_at": "2030-01-01T00:00:00.000Z",
                 "pid": \(daemon.pid), "watchdog_pid": \(watchdog), "reason": "initial start", "stopped_at": "2030-01-01T01:00:00.000Z"}
                """.utf8
            ).write(to: URL(fileURLWithPath: state + "/pipeline_version.json"))
        }
        // The watchdog ended (it cleared its pid): the daemon left running is unsupervised.
        try version(watchdog: "null")
        let alone = try Self.run(args)
        #expect(alone.status == 1, "\(alone.out)")
        #expect(alone.out.contains("[FAIL] watchdog") && alone.out.contains("runs without its watchdog"), "\(alone.out)")
        // A watchdog that is alive (this test process stands in for it) supervising this daemon: ok.
        try version(watchdog: "\(getpid())")
        let supervised = try Self.run(args)
        #expect(supervised.out.contains("[ok] watchdog"), "\(supervised.out)")
        daemon.signal(SIGTERM)
        #expect(await daemon.waitForExit() == 0)
    }
}
