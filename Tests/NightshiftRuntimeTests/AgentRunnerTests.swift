import Foundation
import NightshiftCore
import NightshiftRuntime
import NightshiftStore
import NightshiftTesting
import Testing

/// The runner end to end with a real SQLite store and real agent processes: outcomes, retries.
@Suite("AgentRunner: outcomes", .timeLimit(.minutes(2)))
struct AgentRunnerTests {
    @Test("a task completes: status, exit code, tail, log path, process and accounting are recorded")
    func completes() async throws {
        let h = try RuntimeHarness()
        let agent = try h.script(
            "agent.sh",
            """
            echo "working on: $1"
            echo "id=$2 type=$NIGHTSHIFT_TASK_TYPE attempt=$NIGHTSHIFT_ATTEMPT env_id=$NIGHTSHIFT_TASK_ID"
            printf '{"summary":"did it","cost_usd":0.12,"tokens_in":1000,"tokens_out":200}' > "$NIGHTSHIFT_RESULT_FILE"
            """)
        let env = h.environment { $0.runner.executors = ["default": .init(command: h.command(agent, "{direction} {task_id}"))] }
        let events = RuntimeEventRecorder(env.events)
        let task = try await h.store.create(.make(direction: "add a test; don't break it", now: Date()))
        let done = try await h.withRunner(AgentRunner(env: env)) {
            try await h.waitForStatus(task.id, [.completed, .failed])
        }
        #expect(done.status == .completed)
        #expect(done.exitCode == 0)
        #expect(done.attempt == 1)
        #expect(done.errorClass == nil)
        #expect(
            done.outputTail == "working on: add a test; don't break it\nid=\(task.id) type=impl attempt=1 env_id=\(task.id)\n")
        #expect(done.logPath == env.paths.taskLog(task.id))
        #expect(done.command == "/bin/sh \(agent) 'add a test; don'\\''t break it' '\(task.id)'")
        #expect(done.claimedBy == env.instanceID)
        let pid = try #require(done.pid)
        #expect(done.pgid == pid)
        #expect(done.summary == "did it")
        #expect(done.costUSD == 0.12)
        #expect(done.tokensIn == 1000)
        #expect(done.tokensOut == 200)
        #expect(done.startedAt != nil && done.finishedAt != nil)
        let log = h.read(env.paths.taskLog(task.id))
        let lines = log.split(separator: "\n").map(String.init)
        #expect(lines.count == 3)
        #expect(lines.first?.hasPrefix("=== ") == true)
        #expect(lines.first?.contains("attempt 1/3 impl executor=default") == true)
        #expect(lines.dropFirst().joined(separator: "\n") + "\n" == done.outputTail)
        let mode = try FileManager.default.attributesOfItem(atPath: env.paths.taskLog(task.id))[.posixPermissions] as? Int
        #expect(mode == 0o600)
        #expect(events.tasks(.claimed, id: task.id).count == 1)
        #expect(events.tasks(.started, id: task.id).first?.pid == pid)
        #expect(events.tasks(.finished, id: task.id).map(\.status) == [.completed])
        try await waitForNoSurvivor(pid)
    }

    @Test("retry with backoff, then success: the second attempt starts after not_before")
    func retryThenSuccess() async throws {
        let h = try RuntimeHarness()
        let agent = try h.script(
            "agent.sh",
            """
            echo "attempt $NIGHTSHIFT_ATTEMPT"
            if [ "$NIGHTSHIFT_ATTEMPT" = "1" ]; then exit 4; fi
            exit 0
            """)
        let env = h.environment { $0.runner.executors = ["default": .init(command: h.command(agent))] }
        let events = RuntimeEventRecorder(env.events)
        let task = try await h.store.create(.make(direction: "flaky", maxAttempts: 3, now: Date()))
        let done = try await h.withRunner(AgentRunner(env: env)) {
            try await h.waitForStatus(task.id, [.completed, .failed])
        }
        #expect(done.status == .completed)
        #expect(done.attempt == 2)
        #expect(done.exitCode == 0)
        #expect(done.errorClass == nil)
        #expect(done.outputTail == "attempt 2\n")

        let finished = events.tasks(.finished, id: task.id)
        #expect(finished.map(\.status) == [.pending, .completed])
        let retried = try #require(finished.first)
        #expect(retried.errorClass == "exit_code")
        #expect(retried.exitCode == 4)
        #expect(retried.attempt == 1)
        let notBefore = try #require(retried.notBefore)
        let failedAt = try #require(retried.finishedAt)
        // base 0.05 s after attempt 1, jittered into [base/2, base].
        let delay = notBefore.timeIntervalSince(failedAt)
        #expect(delay >= 0.025 - 1e-3 && delay <= 0.05 + 1e-3, "backoff \(delay)")
        let claims = events.tasks(.claimed, id: task.id)
        #expect(claims.map(\.attempt) == [1, 2])
        let secondStart = try #require(claims.last?.startedAt)
        #expect(secondStart >= notBefore)

        let log = h.read(env.paths.taskLog(task.id))
        #expect(log.contains("attempt 1/3"))
        #expect(log.contains("attempt 2/3"))
        #expect(log.contains("attempt 1\n"))
    }

    @Test("attempts exhausted: failed with error_class exit_code (the dead-letter state)")
    func exhaustion() async throws {
        let h = try RuntimeHarness()
        let agent = try h.script("agent.sh", "echo \"failing attempt $NIGHTSHIFT_ATTEMPT\" >&2\nexit 7")
        let env = h.environment { $0.runner.executors = ["default": .init(command: h.command(agent))] }
        let events = RuntimeEventRecorder(env.events)
        let task = try await h.store.create(.make(direction: "always fails", maxAttempts: 2, now: Date()))
        let done = try await h.withRunner(AgentRunner(env: env)) {
            try await h.waitForStatus(task.id, [.completed, .failed])
        }
        #expect(done.status == .failed)
        #expect(done.attempt == 2)
        #expect(done.errorClass == "exit_code")
        #expect(done.exitCode == 7)
        #expect(done.error == "agent exited with code 7: failing attempt 2")
        #expect(done.notBefore == nil)
        #expect(done.outputTail == "failing attempt 2\n")
        #expect(events.tasks(.finished, id: task.id).map(\.status) == [.pending, .failed])
        #expect(events.tasks(.claimed, id: task.id).count == 2)
    }

    @Test("a failed review verdict fails at once even with attempts left")
    func reviewFailIsFinal() async throws {
        let h = try RuntimeHarness()
        let agent = try h.script(
            "agent.sh", #"printf '{"verdict":"fail","feedback":"no tests"}' > "$NIGHTSHIFT_RESULT_FILE""#)
        let env = h.environment { $0.runner.executors = ["default": .init(command: h.command(agent))] }
        let task = try await h.store.create(.make(type: .review, direction: "review it", maxAttempts: 3, now: Date()))
        let done = try await h.withRunner(AgentRunner(env: env)) {
            try await h.waitForStatus(task.id, [.completed, .failed])
        }
        #expect(done.status == .failed)
        #expect(done.attempt == 1)
        #expect(done.errorClass == "review_failed")
        #expect(done.verdict == "fail")
        #expect(done.feedback == "no tests")
    }

    @Test("executor resolution, its env, the task's workdir, NIGHTSHIFT_STATE_DIR and {task_type} reach the agent")
    func executorAndEnvironment() async throws {
        let h = try RuntimeHarness()
        let workdir = h.path("worktree")
        try FileManager.default.createDirectory(atPath: workdir, withIntermediateDirectories: true)
        let agent = try h.script(
            "agent.sh",
            """
            echo "type-arg=$1 cwd=$(pwd) flavour=$AGENT_FLAVOUR"
            echo "state=$NIGHTSHIFT_STATE_DIR result=$NIGHTSHIFT_RESULT_FILE decision=${NIGHTSHIFT_DECISION-unset}"
            """)
        let env = h.environment {
            $0.runner.executors = [
                "default": .init(command: "exit 99"),
                "special": .init(command: h.command(agent, "{task_type}"), env: ["AGENT_FLAVOUR": "mint"]),
            ]
        }
        let task = try await h.store.create(
            .make(type: .test, direction: "x", executor: "special", context: ["workdir": .string(workdir)], now: Date()))
        let done = try await h.withRunner(AgentRunner(env: env)) {
            try await h.waitForStatus(task.id, [.completed, .failed])
        }
        #expect(done.status == .completed)
        #expect(
            done.outputTail
                == "type-arg=test cwd=\(workdir) flavour=mint\nstate=\(env.paths.root) result=\(env.paths.resultFile(task.id)) decision=unset\n"
        )
    }

    @Test("an executor missing from runner.executors fails the task for good with executor_missing")
    func executorMissing() async throws {
        let h = try RuntimeHarness()
        let env = h.environment { $0.runner.executors = ["default": .init(command: "exit 0")] }
        let task = try await h.store.create(.make(direction: "x", maxAttempts: 3, executor: "nope", now: Date()))
        let done = try await h.withRunner(AgentRunner(env: env)) {
            try await h.waitForStatus(task.id, [.completed, .failed])
        }
        #expect(done.status == .failed)
        #expect(done.errorClass == "executor_missing")
        #expect(done.attempt == 1)
    }

    @Test("a workdir that does not exist fails the attempt with spawn_failed instead of hanging the runner")
    func spawnFailure() async throws {
        let h = try RuntimeHarness()
        let env = h.environment { $0.runner.executors = ["default": .init(command: "echo never")] }
        let task = try await h.store.create(
            .make(direction: "x", maxAttempts: 1, context: ["workdir": .string(h.path("no/such/dir"))], now: Date()))
        let done = try await h.withRunner(AgentRunner(env: env)) {
            try await h.waitForStatus(task.id, [.completed, .failed])
        }
        #expect(done.status == .failed)
        #expect(done.errorClass == "spawn_failed")
    }

    @Test("secrets printed by the agent are redacted in output_tail, the task log and the component log")
    func redactionEndToEnd() async throws {
        let h = try RuntimeHarness()
        let agent = try h.script(
            "agent.sh",
            """
            echo "key sk-abcdefghijklmnopqrstu and Authorization: Bearer abcdefgh12345678 and $MY_SECRET"
            exit 2
            """)
        let redactor = Redactor(secretValues: ["configured-secret-value"])
        let env = h.environment(redactor: redactor) {
            $0.runner.executors = ["default": .init(command: h.command(agent), env: ["MY_SECRET": "configured-secret-value"])]
        }
        let task = try await h.store.create(.make(direction: "leak", maxAttempts: 1, now: Date()))
        let done = try await h.withRunner(AgentRunner(env: env)) {
            try await h.waitForStatus(task.id, [.completed, .failed])
        }
        #expect(done.outputTail == "key sk-[REDACTED] and Authorization: Bearer [REDACTED] and [REDACTED]\n")
        let log = h.read(env.paths.taskLog(task.id))
        let component = h.read(env.paths.componentLog("agent_runner"))
        #expect(component.contains("task failed"))
        for secret in ["abcdefghijklmnopqrstu", "abcdefgh12345678", "configured-secret-value"] {
            #expect(!log.contains(secret))
            #expect(!component.contains(secret))
        }
    }
}
