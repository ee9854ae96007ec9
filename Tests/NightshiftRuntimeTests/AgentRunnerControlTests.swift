import Foundation
import NightshiftCore
import NightshiftRuntime
import NightshiftStore
import NightshiftTesting
import Testing

/// Steering a running pipeline: decisions, cancel, limits through the runner, leases.
@Suite("AgentRunner: decisions, cancel, limits, leases", .timeLimit(.minutes(2)))
struct AgentRunnerControlTests {
    @Test("decision round trip: needs_decision, decide + decided event, rerun with NIGHTSHIFT_DECISION and {decision}")
    func decisionRoundTrip() async throws {
        let h = try RuntimeHarness()
        let agent = try h.script(
            "agent.sh",
            """
            if [ -z "${NIGHTSHIFT_DECISION:-}" ]; then
              echo "asking"
              printf '{"status":"needs_decision","decision_prompt":"Ship it?"}' > "$NIGHTSHIFT_RESULT_FILE"
              exit 0
            fi
            echo "env=$NIGHTSHIFT_DECISION"
            echo "arg=$2"
            """)
        let env = h.environment { $0.runner.executors = ["default": .init(command: h.command(agent, "{direction} {decision}"))] }
        let events = RuntimeEventRecorder(env.events)
        let task = try await h.store.create(.make(direction: "migrate", maxAttempts: 3, now: Date()))
        let decision = "yes, ship it; don't $(rm -rf /)"
        let done = try await h.withRunner(AgentRunner(env: env)) {
            let asking = try await h.waitForStatus(task.id, [.needsDecision, .completed, .failed])
            #expect(asking.status == .needsDecision)
            #expect(asking.decisionPrompt == "Ship it?")
            #expect(asking.outputTail == "asking\n")
            #expect(asking.decision == nil)
            _ = try await env.ledger.decide(id: task.id, decision: decision, by: "test", now: Date())
            return try await h.waitForStatus(task.id, [.completed, .failed])
        }
        #expect(done.status == .completed)
        #expect(done.outputTail == "env=\(decision)\narg=\(decision)\n")
        #expect(done.decision == decision)
        #expect(done.decidedAt != nil)
        #expect(events.tasks(.finished, id: task.id).map(\.status) == [.needsDecision, .completed])
        #expect(events.tasks(.claimed, id: task.id).count == 2)
    }

    @Test("cancel of a running task tears its process group down and the status stays cancelled")
    func cancelRunning() async throws {
        let h = try RuntimeHarness()
        let child = h.path("child.pid")
        let grandchild = h.path("grandchild.pid")
        let agent = try h.script(
            "agent.sh",
            """
            sleep 300 &
            echo $! > '\(grandchild)'
            echo $$ > '\(child)'
            sleep 300
            """)
        let env = h.environment { $0.runner.executors = ["default": .init(command: h.command(agent))] }
        let task = try await h.store.create(.make(direction: "long", now: Date()))
        let runner = AgentRunner(env: env)
        let final = try await h.withRunner(runner) {
            try await waitUntil("the agent to start") { h.pid(in: child) != nil && h.pid(in: grandchild) != nil }
            let pgid = try #require(try await h.store.get(task.id).pgid)
            _ = try await env.ledger.cancel(id: task.id, reason: "operator said stop", by: "test", now: Date())
            try await waitForNoSurvivor(pgid)
            try await waitForDeath(try #require(h.pid(in: child)))
            try await waitForDeath(try #require(h.pid(in: grandchild)))
            try await waitUntil("the attempt to end") { runner.activeTaskIDs.isEmpty }
            return try await h.store.get(task.id)
        }
        #expect(final.status == .cancelled)
        #expect(final.errorClass == "cancelled")
        #expect(final.error == "operator said stop")
        #expect(final.attempt == 1)
    }

    @Test("task_timeout through the runner: error_class timeout, no survivor")
    func timeout() async throws {
        let h = try RuntimeHarness()
        let grandchild = h.path("grandchild.pid")
        let agent = try h.script("agent.sh", "sleep 300 &\necho $! > '\(grandchild)'\necho started\nsleep 300")
        let env = h.environment {
            $0.runner.executors = ["default": .init(command: h.command(agent))]
            $0.runner.taskTimeout = 3
        }
        let task = try await h.store.create(.make(direction: "hang", maxAttempts: 1, now: Date()))
        let done = try await h.withRunner(AgentRunner(env: env)) {
            try await h.waitForStatus(task.id, [.completed, .failed])
        }
        #expect(done.status == .failed)
        #expect(done.errorClass == "timeout")
        #expect(done.error?.contains("task_timeout") == true)
        #expect(done.outputTail == "started\n")
        try await waitForNoSurvivor(try #require(done.pgid))
        try await waitForDeath(try #require(h.pid(in: grandchild)))
    }

    @Test("stall_timeout through the runner: error_class stalled, retried while attempts are left")
    func stall() async throws {
        let h = try RuntimeHarness()
        let agent = try h.script("agent.sh", "echo \"hello $NIGHTSHIFT_ATTEMPT\"\nsleep 300")
        let env = h.environment {
            $0.runner.executors = ["default": .init(command: h.command(agent))]
            $0.runner.stallTimeout = 1
        }
        let events = RuntimeEventRecorder(env.events)
        let task = try await h.store.create(.make(direction: "quiet", maxAttempts: 2, now: Date()))
        let done = try await h.withRunner(AgentRunner(env: env)) {
            try await h.waitForStatus(task.id, [.completed, .failed])
        }
        #expect(done.status == .failed)
        #expect(done.errorClass == "stalled")
        #expect(done.attempt == 2)
        // Empty only if a loaded machine took the whole stall limit to start the script.
        #expect(done.outputTail == "hello 2\n" || done.outputTail == "")
        #expect(events.tasks(.finished, id: task.id).map(\.errorClass) == ["stalled", "stalled"])
        try await waitForNoSurvivor(try #require(done.pgid))
    }

    @Test("heartbeats renew the lease: a 1 s lease over a 3 s agent is never rescued")
    func heartbeats() async throws {
        let h = try RuntimeHarness()
        let agent = try h.script("agent.sh", "sleep 3\necho done")
        let env = h.environment {
            $0.runner.executors = ["default": .init(command: h.command(agent))]
            $0.runner.lease = 1
        }
        // A rescuer of the same daemon that ignores liveness: only the lease protects the task.
        let rescuer = LeaseRescuer(env: env, isLive: { _ in false })
        let task = try await h.store.create(.make(direction: "slow", now: Date()))
        var leases: [Date] = []
        var rescued: [String] = []
        let done = try await h.withRunner(AgentRunner(env: env)) {
            try await waitUntil("the task to finish", timeout: 30) {
                let t = try await h.store.get(task.id)
                if t.status == .running, let lease = t.leaseExpiresAt, leases.last != lease { leases.append(lease) }
                let r = try await rescuer.runOnce()
                rescued += r.requeued + r.failed
                return t.status.isTerminal
            }
            return try await h.store.get(task.id)
        }
        #expect(rescued.isEmpty)
        #expect(done.status == .completed)
        #expect(done.attempt == 1)
        #expect(leases.count >= 3, "lease renewals seen: \(leases)")
        #expect(leases == leases.sorted())
        if let first = leases.first, let last = leases.last { #expect(last.timeIntervalSince(first) >= 1) }
    }

    @Test("an attempt whose task was taken away (lease lost) is stopped and its group torn down")
    func leaseLost() async throws {
        let h = try RuntimeHarness()
        let child = h.path("child.pid")
        let agent = try h.script("agent.sh", "echo $$ > '\(child)'\nsleep 300")
        let env = h.environment {
            $0.runner.executors = ["default": .init(command: h.command(agent))]
            $0.runner.lease = 1
        }
        let task = try await h.store.create(.make(direction: "x", now: Date()))
        let runner = AgentRunner(env: env)
        let final = try await h.withRunner(runner) {
            try await waitUntil("the agent to start") { h.pid(in: child) != nil }
            let pgid = try #require(try await h.store.get(task.id).pgid)
            // Another party requeues the task far in the future, as a rescuer would.
            _ = try await h.store.rescue(
                id: task.id, owner: env.instanceID, reason: "taken away", errorClass: "lease_expired", retryDelay: 3600,
                now: Date())
            try await waitForNoSurvivor(pgid)
            try await waitUntil("the attempt to end") { runner.activeTaskIDs.isEmpty }
            return try await h.store.get(task.id)
        }
        #expect(final.status == .pending)
        #expect(final.errorClass == "lease_expired")
        #expect(final.attempt == 1)
    }
}
