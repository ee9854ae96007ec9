import Foundation
import Logging
import NightshiftCore
import NightshiftRuntime
import NightshiftStore
import NightshiftTesting
import ServiceLifecycle
import Testing

/// Graceful stop in a ServiceGroup: no new claims, running attempts drain until the deadline,
/// then they are torn down and left running in the store for the next start's rescuer.
@Suite("AgentRunner: graceful shutdown", .timeLimit(.minutes(2)))
struct AgentRunnerShutdownTests {
    @Test("graceful shutdown stops claiming and lets a running attempt finish")
    func drainLetsAttemptFinish() async throws {
        let h = try RuntimeHarness()
        let started = h.path("started")
        let go = h.path("go")
        let agent = try h.script(
            "agent.sh",
            """
            touch '\(started)'
            i=0
            while [ ! -e '\(go)' ] && [ $i -lt 1000 ]; do sleep 0.02; i=$((i+1)); done
            echo finished
            """)
        let env = h.environment { $0.runner.executors = ["default": .init(command: h.command(agent))] }
        let runner = AgentRunner(env: env, drainTimeout: 30)
        let group = ServiceGroup(services: [runner], logger: Logger(label: "test"))
        let task = try await h.store.create(.make(direction: "first", now: Date()))
        let running = Task { try await group.run() }
        do {
            try await waitUntil("the agent to start") { h.exists(started) }
            await group.triggerGracefulShutdown()
            try await waitUntil("the runner to start draining") {
                h.read(env.paths.componentLog("agent_runner")).contains("draining")
            }
            let late = try await env.ledger.create(.make(direction: "late", now: Date()), by: "test")
            _ = FileManager.default.createFile(atPath: go, contents: nil)
            try await RuntimeHarness.finishes("the service group to stop") { try await running.value }
            let done = try await h.store.get(task.id)
            #expect(done.status == .completed)
            #expect(done.outputTail == "finished\n")
            #expect(try await h.store.get(late.id).status == .pending)
        } catch {
            running.cancel()
            await h.killLeftoverAgents()
            throw error
        }
    }

    @Test("past the drain deadline the attempt is torn down and left running for the rescuer")
    func drainDeadline() async throws {
        let h = try RuntimeHarness()
        let child = h.path("child.pid")
        let agent = try h.script("agent.sh", "echo $$ > '\(child)'\nsleep 300")
        let env = h.environment { $0.runner.executors = ["default": .init(command: h.command(agent))] }
        let runner = AgentRunner(env: env, drainTimeout: 0.3)
        let group = ServiceGroup(services: [runner], logger: Logger(label: "test"))
        let task = try await h.store.create(.make(direction: "long", now: Date()))
        let running = Task { try await group.run() }
        do {
            try await waitUntil("the agent to start") { h.pid(in: child) != nil }
            await group.triggerGracefulShutdown()
            try await RuntimeHarness.finishes("the service group to stop") { try await running.value }
            let left = try await h.store.get(task.id)
            #expect(left.status == .running)
            #expect(left.claimedBy == env.instanceID)
            try await waitForNoSurvivor(try #require(left.pgid))
            try await waitForDeath(try #require(h.pid(in: child)))
            // The next start rescues it.
            let next = h.environment(instanceID: "next-daemon")
            let rescued = try await LeaseRescuer(env: next, isLive: { _ in false }).runOnce()
            #expect(rescued.requeued == [task.id])
            #expect(rescued.killedGroups.isEmpty)
        } catch {
            running.cancel()
            await h.killLeftoverAgents()
            throw error
        }
    }
}
