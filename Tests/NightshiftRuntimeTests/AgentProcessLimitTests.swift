import Foundation
import NightshiftCore
import NightshiftTesting
import Testing

@testable import NightshiftRuntime

/// Timeouts, stalls, stops and leftovers: whatever ends an attempt, no process of its group
/// survives it.
@Suite("AgentProcess: limits and teardown", .timeLimit(.minutes(2)))
struct AgentProcessLimitTests {
    @Test("task_timeout kills the agent and its background grandchild")
    func timeoutKillsTree() async throws {
        let h = try RuntimeHarness()
        let child = h.path("child.pid")
        let grandchild = h.path("grandchild.pid")
        let agent = try h.script(
            "agent.sh",
            """
            sleep 300 &
            echo $! > '\(grandchild)'
            echo $$ > '\(child)'
            echo started
            sleep 300
            """)
        // 3 s leaves a loaded machine time to start the script before the limit strikes.
        let run = await h.runAgent(h.launch("/bin/sh \(agent)", timeout: 3, stall: 60))
        #expect(run.report.end == .timedOut)
        #expect(run.outputLines == ["started"])
        let childPID = try #require(h.pid(in: child))
        let grandchildPID = try #require(h.pid(in: grandchild))
        #expect(ProcessGroup.procStat(grandchildPID).map { $0.pgrp == run.pid } ?? true)
        try await waitForDeath(childPID)
        try await waitForDeath(grandchildPID)
        try await waitForNoSurvivor(run.pid)
    }

    @Test("stall_timeout ends a silent agent as stalled and tears its group down")
    func stall() async throws {
        let h = try RuntimeHarness()
        let child = h.path("child.pid")
        let agent = try h.script("agent.sh", "echo $$ > '\(child)'\nsleep 300")
        let run = await h.runAgent(h.launch("/bin/sh \(agent)", timeout: 60, stall: 1))
        #expect(run.report.end == .stalled)
        // (On a very loaded machine the stall may strike before the script wrote its pid.)
        if let pid = h.pid(in: child) { try await waitForDeath(pid) }
        try await waitForNoSurvivor(run.pid)
    }

    @Test("output keeps a talking agent from stalling")
    func talkingIsNotStalling() async throws {
        let h = try RuntimeHarness()
        // Prints every 0.1 s for over 4 s with a stall limit of 3 s (wide margins: a loaded
        // machine can pause a process for a second).
        let agent = try h.script("agent.sh", "i=0; while [ $i -lt 40 ]; do echo tick $i; sleep 0.1; i=$((i+1)); done")
        let run = await h.runAgent(h.launch("/bin/sh \(agent)", timeout: 60, stall: 3))
        #expect(run.report.end == .exited(0))
        #expect(run.outputLines.count == 40)
    }

    @Test("an agent that ignores SIGTERM is SIGKILLed after kill_grace")
    func ignoresSigterm() async throws {
        let h = try RuntimeHarness()
        let child = h.path("child.pid")
        let grandchild = h.path("grandchild.pid")
        // Ignored signals stay ignored across fork and exec: the grandchild ignores SIGTERM too.
        let agent = try h.script(
            "agent.sh",
            """
            trap '' TERM
            sleep 300 &
            echo $! > '\(grandchild)'
            echo $$ > '\(child)'
            sleep 300
            """)
        let stopper = AttemptStopper()
        async let attempt = h.runAgent(h.launch("/bin/sh \(agent)", grace: 0.2), stopper: stopper)
        try await waitUntil("the agent to start") { h.pid(in: child) != nil && h.pid(in: grandchild) != nil }
        stopper.stop("cancelled")
        let run = await attempt
        #expect(run.report.end == .stopped("cancelled"))
        try await waitForDeath(try #require(h.pid(in: child)))
        try await waitForDeath(try #require(h.pid(in: grandchild)))
        try await waitForNoSurvivor(run.pid)
    }

    @Test("AttemptStopper.stop mid-run ends the attempt stopped with the reason, group gone")
    func stopMidRun() async throws {
        let h = try RuntimeHarness()
        let child = h.path("child.pid")
        let agent = try h.script("agent.sh", "sleep 300 &\necho $$ > '\(child)'\nsleep 300")
        let stopper = AttemptStopper()
        async let attempt = h.runAgent(h.launch("/bin/sh \(agent)"), stopper: stopper)
        try await waitUntil("the agent to start") { h.pid(in: child) != nil }
        stopper.stop("cancelled")
        stopper.stop("a second reason is ignored")
        let run = await attempt
        #expect(run.report.end == .stopped("cancelled"))
        #expect(stopper.stopReason == "cancelled")
        try await waitForNoSurvivor(run.pid)
    }

    @Test("a stop requested before the agent starts still ends it stopped")
    func stopBeforeStart() async throws {
        let h = try RuntimeHarness()
        let marker = h.path("ran")
        let stopper = AttemptStopper()
        stopper.stop("shutdown")
        let run = await h.runAgent(h.launch("touch '\(marker)'; sleep 300"), stopper: stopper)
        #expect(run.report.end == .stopped("shutdown"))
        #expect(!h.exists(marker))
        try await waitForNoSurvivor(run.pid)
    }

    @Test("an agent that exits 0 but leaves a background process holding stdout: killed, run returns")
    func leftoverHoldingOutput() async throws {
        let h = try RuntimeHarness()
        let grandchild = h.path("grandchild.pid")
        let agent = try h.script("agent.sh", "sleep 300 &\necho $! > '\(grandchild)'\necho bye\nexit 0")
        let run = try await RuntimeHarness.finishes("the attempt to return") { await h.runAgent(h.launch("/bin/sh \(agent)")) }
        #expect(run.report.end == .exited(0))
        #expect(run.report.killedLeftovers)
        #expect(run.outputLines == ["bye"])
        try await waitForDeath(try #require(h.pid(in: grandchild)))
        try await waitForNoSurvivor(run.pid)
    }

    @Test("a leftover with its output redirected elsewhere is killed too")
    func leftoverDetached() async throws {
        let h = try RuntimeHarness()
        let grandchild = h.path("grandchild.pid")
        let agent = try h.script("agent.sh", "sleep 300 >/dev/null 2>&1 &\necho $! > '\(grandchild)'\nexit 0")
        let run = await h.runAgent(h.launch("/bin/sh \(agent)"))
        #expect(run.report.end == .exited(0))
        #expect(run.report.killedLeftovers)
        try await waitForDeath(try #require(h.pid(in: grandchild)))
        try await waitForNoSurvivor(run.pid)
    }
}

/// The one teardown path, used directly.
@Suite("ProcessGroup", .timeLimit(.minutes(1)))
struct ProcessGroupTests {
    @Test("terminate: a cooperative group exits on SIGTERM, no SIGKILL needed")
    func cooperative() async throws {
        let h = try RuntimeHarness()
        let pgid = try await h.spawnSession("sleep 300 & exec sleep 300", environment: [:])
        #expect(ProcessGroup.liveMembers(pgid).count == 2)
        let killed = await ProcessGroup.terminate(pgid, grace: 10)
        #expect(!killed)
        try await waitForNoSurvivor(pgid)
    }

    @Test("terminate: a group that ignores SIGTERM is SIGKILLed after the grace")
    func stubborn() async throws {
        let h = try RuntimeHarness()
        let pgid = try await h.spawnSession("trap '' TERM; sleep 300 & exec sleep 300", environment: [:])
        let killed = await ProcessGroup.terminate(pgid, grace: 0.2)
        #expect(killed)
        try await waitForNoSurvivor(pgid)
    }

    @Test("belongsToTask reads NIGHTSHIFT_TASK_ID from the members' environment")
    func belongsToTask() async throws {
        let h = try RuntimeHarness()
        let pgid = try await h.spawnSession("exec sleep 300", environment: ["NIGHTSHIFT_TASK_ID": "task_00000000000000cc"])
        #expect(ProcessGroup.belongsToTask(pgid, taskID: "task_00000000000000cc"))
        #expect(!ProcessGroup.belongsToTask(pgid, taskID: "task_00000000000000c"))
        #expect(!ProcessGroup.belongsToTask(pgid, taskID: "task_00000000000000dd"))
        ProcessGroup.killNow(pgid)
        try await waitForNoSurvivor(pgid)
        #expect(!ProcessGroup.belongsToTask(pgid, taskID: "task_00000000000000cc"))
    }

    @Test("pids 0 and 1 are never signalled")
    func refusesSpecialGroups() async {
        #expect(ProcessGroup.liveMembers(1).isEmpty)
        #expect(await ProcessGroup.terminate(0, grace: 0.1) == false)
        #expect(await ProcessGroup.terminate(1, grace: 0.1) == false)
    }
}
