import Foundation
import NightshiftCore
import NightshiftTesting
import Testing

@testable import NightshiftRuntime

/// One attempt's process run directly: exit codes, the task log, the process group and the gate.
@Suite("AgentProcess: running an attempt", .timeLimit(.minutes(2)))
struct AgentProcessTests {
    @Test("exit 0 and exit 3 are reported as exited with their code")
    func exitCodes() async throws {
        let h = try RuntimeHarness()
        let ok = await h.runAgent(h.launch("exit 0", taskID: "task_0000000000000001"))
        #expect(ok.report.end == .exited(0))
        let failed = await h.runAgent(h.launch("exit 3", taskID: "task_0000000000000002"))
        #expect(failed.report.end == .exited(3))
        #expect(!failed.report.killedLeftovers)
    }

    @Test("a killed agent is reported as signaled")
    func signaled() async throws {
        let h = try RuntimeHarness()
        let run = await h.runAgent(h.launch("kill -9 $$"))
        #expect(run.report.end == .signaled(9))
    }

    @Test("stdout and stderr land in the task log in order, after the header line, in a 0600 file")
    func logInOrder() async throws {
        let h = try RuntimeHarness()
        let agent = try h.script(
            "agent.sh",
            """
            echo "out 1"
            echo "err 1" >&2
            echo "out 2"
            printf 'no newline at the end'
            exit 3
            """)
        let run = await h.runAgent(h.launch("/bin/sh \(agent)"))
        #expect(run.report.end == .exited(3))
        #expect(run.log.hasPrefix(RuntimeHarness.header + "\n"))
        #expect(run.outputLines == ["out 1", "err 1", "out 2", "no newline at the end"])
        #expect(run.report.tail == "out 1\nerr 1\nout 2\nno newline at the end\n")
        #expect(run.report.outputBytes == "out 1\nerr 1\nout 2\nno newline at the end".utf8.count)
        let mode = try FileManager.default.attributesOfItem(atPath: run.logPath)[.posixPermissions] as? Int
        #expect(mode == 0o600)
    }

    @Test("the pid given to onSpawn leads the agent's own session and process group; NIGHTSHIFT env reaches it")
    func groupLeaderAndEnvironment() async throws {
        let h = try RuntimeHarness()
        // Fields 5 and 6 of /proc/PID/stat are the process group and the session.
        let agent = try h.script(
            "agent.sh",
            """
            set -- $(cat /proc/$$/stat)
            echo "pgrp=$5 sid=$6"
            echo "task=$NIGHTSHIFT_TASK_ID attempt=$NIGHTSHIFT_ATTEMPT"
            if read line; then echo "stdin had data"; else echo "stdin empty"; fi
            """)
        let run = await h.runAgent(
            h.launch("/bin/sh \(agent)", environment: ["NIGHTSHIFT_ATTEMPT": "4"], taskID: "task_00000000000000ab"))
        #expect(run.report.end == .exited(0))
        #expect(run.pid > 1)
        #expect(run.pid != getpid())
        #expect(run.outputLines == ["pgrp=\(run.pid) sid=\(run.pid)", "task=task_00000000000000ab attempt=4", "stdin empty"])
    }

    @Test("onSpawn returning false: the agent never runs its command and the attempt ends stopped")
    func gateRefused() async throws {
        let h = try RuntimeHarness()
        let marker = h.path("ran")
        let run = await h.runAgent(h.launch("touch '\(marker)'; echo ran"), allowStart: false)
        #expect(run.report.end.isStopped)
        #expect(run.pid > 1)
        #expect(!h.exists(marker))
        #expect(!run.log.contains("ran"))
        try await waitForNoSurvivor(run.pid)
    }

    @Test("the working directory is the launch's")
    func workingDirectory() async throws {
        let h = try RuntimeHarness()
        let dir = h.path("work dir")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let run = await h.runAgent(h.launch("pwd", workingDirectory: dir))
        #expect(run.report.end == .exited(0))
        #expect(run.outputLines == [dir])
    }

    @Test("a working directory that does not exist fails the spawn instead of hanging")
    func spawnFailure() async throws {
        let h = try RuntimeHarness()
        let launch = h.launch("echo never", workingDirectory: h.path("missing/dir"))
        let run = try await RuntimeHarness.finishes("AgentProcess.run with a missing working directory") {
            await h.runAgent(launch)
        }
        guard case .spawnFailed = run.report.end else {
            Issue.record("expected spawnFailed, got \(run.report.end)")
            return
        }
    }
}
