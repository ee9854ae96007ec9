import Foundation
import NightshiftCore
import NightshiftRuntime
import NightshiftStore
import NightshiftTesting
import Testing

/// When and in what order the runner starts work: wake-ups, worker slots, priority.
@Suite("AgentRunner: dispatch", .timeLimit(.minutes(2)))
struct AgentRunnerDispatchTests {
    @Test("with no fallback poll, a task created while the runner is idle starts on the created event")
    func dispatchOnEvent() async throws {
        let h = try RuntimeHarness()
        let env = h.environment {
            $0.runner.executors = ["default": .init(command: "echo ran")]
            $0.runner.pollInterval = 3600
        }
        let runner = AgentRunner(env: env)
        try await h.withRunner(runner) {
            try await RuntimeHarness.waitUntilIdle(env)
            // Created through the ledger: its created event is what wakes the runner.
            let task = try await env.ledger.create(.make(direction: "late", now: Date()), by: "test")
            let done = try await h.waitForStatus(task.id, [.completed, .failed])
            #expect(done.status == .completed)
            #expect(done.outputTail == "ran\n")
        }
    }

    @Test("workers 1: three tasks never run two at once")
    func oneWorker() async throws {
        let h = try RuntimeHarness()
        let lock = h.path("agent.lock")
        let overlap = h.path("overlap")
        // noclobber makes creating the lock file fail when another agent holds it.
        let agent = try h.script(
            "agent.sh",
            """
            set -C
            if ! : > '\(lock)' 2>/dev/null; then echo "$1" >> '\(overlap)'; exit 9; fi
            sleep 0.3
            rm -f '\(lock)'
            """)
        let env = h.environment {
            $0.runner.executors = ["default": .init(command: h.command(agent))]
            $0.runner.workers = 1
        }
        var ids: [String] = []
        for i in 0..<3 { ids.append(try await h.store.create(.make(direction: "t\(i)", maxAttempts: 1, now: Date())).id) }
        var maxRunning = 0
        try await h.withRunner(AgentRunner(env: env)) {
            try await waitUntil("three completed tasks", timeout: 30) {
                let counts = try await h.store.countByStatus()
                maxRunning = max(maxRunning, counts[.running] ?? 0)
                return (counts[.completed] ?? 0) + (counts[.failed] ?? 0) == 3
            }
        }
        #expect(maxRunning == 1)
        #expect(!h.exists(overlap), "agents overlapped: \(h.read(overlap))")
        for id in ids { #expect(try await h.store.get(id).status == .completed) }
    }

    @Test("workers 2: two tasks run at the same time")
    func twoWorkers() async throws {
        let h = try RuntimeHarness()
        let arrived = h.path("arrived")
        try FileManager.default.createDirectory(atPath: arrived, withIntermediateDirectories: true)
        // A barrier: each agent waits (up to ~10 s) until both have arrived.
        let agent = try h.script(
            "agent.sh",
            """
            touch '\(arrived)'/"$1"
            i=0
            while [ "$(ls '\(arrived)' | wc -l)" -lt 2 ] && [ $i -lt 500 ]; do sleep 0.02; i=$((i+1)); done
            [ "$(ls '\(arrived)' | wc -l)" -ge 2 ] || exit 5
            """)
        let env = h.environment {
            $0.runner.executors = ["default": .init(command: h.command(agent))]
            $0.runner.workers = 2
        }
        let a = try await h.store.create(.make(direction: "a", maxAttempts: 1, now: Date()))
        let b = try await h.store.create(.make(direction: "b", maxAttempts: 1, now: Date()))
        try await h.withRunner(AgentRunner(env: env)) {
            try await h.waitForStatus(a.id, [.completed, .failed], timeout: 30)
            try await h.waitForStatus(b.id, [.completed, .failed], timeout: 30)
        }
        #expect(try await h.store.get(a.id).status == .completed)
        #expect(try await h.store.get(b.id).status == .completed)
    }

    @Test("priority first, then oldest")
    func priorityOrder() async throws {
        let h = try RuntimeHarness()
        let order = h.path("order")
        let agent = try h.script("agent.sh", "echo \"$1\" >> '\(order)'")
        let env = h.environment {
            $0.runner.executors = ["default": .init(command: h.command(agent))]
            $0.runner.workers = 1
        }
        let t0 = Date()
        let specs: [(String, Int, Double)] = [("low", 0, 0), ("mid-newer", 5, 3), ("high", 10, 1), ("mid-older", 5, 2)]
        var ids: [String] = []
        for (name, priority, offset) in specs {
            ids.append(
                try await h.store.create(.make(direction: name, priority: priority, now: t0.addingTimeInterval(offset))).id)
        }
        try await h.withRunner(AgentRunner(env: env)) {
            for id in ids { try await h.waitForStatus(id, [.completed, .failed]) }
        }
        #expect(h.read(order) == "high\nmid-older\nmid-newer\nlow\n")
    }

    @Test("a task whose dependency is not completed waits for it")
    func dependsOn() async throws {
        let h = try RuntimeHarness()
        let order = h.path("order")
        let agent = try h.script("agent.sh", "echo \"$1\" >> '\(order)'")
        let env = h.environment {
            $0.runner.executors = ["default": .init(command: h.command(agent))]
            $0.runner.workers = 2
        }
        let first = try await h.store.create(.make(direction: "first", priority: 0, now: Date()))
        let second = try await h.store.create(.make(direction: "second", priority: 10, dependsOn: [first.id], now: Date()))
        try await h.withRunner(AgentRunner(env: env)) {
            try await h.waitForStatus(second.id, [.completed, .failed])
        }
        #expect(h.read(order) == "first\nsecond\n")
    }
}
