import Foundation
import NightshiftCore
import NightshiftTesting
import Testing

@Suite("AgentTask JSON")
struct AgentTaskJSONTests {
    /// A task with every optional field set.
    static func fullTask() -> AgentTask {
        let now = MutableNow.defaultStart
        var t = AgentTask.make(
            id: "task_00000000000000aa", type: .review, direction: "review it", priority: 5, maxAttempts: 4, executor: "codex",
            context: ["repo": .string("x"), "n": .number(2)], backlogItem: "item-1", phase: "review", iteration: 2,
            parentID: "task_00000000000000bb", dependsOn: ["task_00000000000000cc"], now: now)
        t.status = .completed
        t.notBefore = now.addingTimeInterval(1)
        t.attempt = 2
        t.command = "codex exec 'review it'"
        t.claimedBy = "runner-1"
        t.leaseExpiresAt = now.addingTimeInterval(60)
        t.heartbeatAt = now.addingTimeInterval(30)
        t.pid = 123
        t.pgid = 123
        t.decisionPrompt = "ok?"
        t.decision = "yes"
        t.decidedAt = now.addingTimeInterval(2)
        t.exitCode = 0
        t.error = "none"
        t.errorClass = "agent_error"
        t.outputTail = "done"
        t.logPath = "logs/tasks/task_00000000000000aa.log"
        t.summary = "reviewed"
        t.verdict = "pass"
        t.feedback = "good"
        t.costUSD = 0.25
        t.tokensIn = 1000
        t.tokensOut = 200
        t.startedAt = now.addingTimeInterval(3)
        t.finishedAt = now.addingTimeInterval(4.5)
        t.updatedAt = now.addingTimeInterval(4.5)
        return t
    }

    static let allKeys: Set<String> = [
        "id", "task_type", "direction", "status", "priority", "not_before", "attempt", "max_attempts", "executor", "command",
        "claimed_by", "lease_expires_at", "heartbeat_at", "pid", "pgid", "decision_prompt", "decision", "decided_at",
        "exit_code", "error", "error_class", "output_tail", "log_path", "summary", "verdict", "feedback", "cost_usd",
        "tokens_in", "tokens_out", "backlog_item", "phase", "iteration", "parent_id", "depends_on", "context",
        "created_at", "updated_at", "started_at", "finished_at", "run_id", "turns", "tokens_cache_read",
        "tokens_cache_write", "last_tool", "last_event_at", "cost_source", "session_id", "model", "budget_usd",
    ]

    func object(_ t: AgentTask) throws -> [String: Any] {
        let data = try JSONEncoder.nightshift().encode(t)
        return try #require(try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) as? [String: Any])
    }

    @Test("keys are snake_case and every key is present")
    func snakeCaseKeys() throws {
        let json = try object(Self.fullTask())
        #expect(Set(json.keys) == Self.allKeys)
        #expect(json["task_type"] as? String == "review")
        #expect(json["max_attempts"] as? Int == 4)
        #expect(json["status"] as? String == "completed")
        #expect(json["depends_on"] as? [String] == ["task_00000000000000cc"])
        #expect((json["context"] as? [String: Any])?["repo"] as? String == "x")
    }

    @Test("nil fields are present as null")
    func nullsPresent() throws {
        let json = try object(.make(now: MutableNow.defaultStart))
        #expect(Set(json.keys) == Self.allKeys)
        for key in [
            "not_before", "executor", "claimed_by", "pid", "decision", "exit_code", "cost_usd", "started_at", "finished_at",
            "parent_id",
        ] {
            #expect(json[key] is NSNull, "\(key)")
        }
        #expect(json["depends_on"] as? [String] == [])
        #expect((json["context"] as? [String: Any])?.isEmpty == true)
        #expect(json["status"] as? String == "pending")
        #expect(json["attempt"] as? Int == 0)
    }

    @Test("dates are RFC 3339 UTC with Z and milliseconds")
    func datesAreRFC3339() throws {
        let json = try object(Self.fullTask())
        let created = try #require(json["created_at"] as? String)
        #expect(created == "2026-11-21T10:00:00.000Z")
        #expect(json["finished_at"] as? String == "2026-11-21T10:00:04.500Z")
        for key in ["not_before", "lease_expires_at", "heartbeat_at", "decided_at", "started_at", "updated_at"] {
            let text = try #require(json[key] as? String, "\(key)")
            #expect(text.hasSuffix("Z"), "\(key): \(text)")
            #expect(Timestamp.parse(text) != nil)
        }
    }

    @Test("a status with an underscore is written in snake_case")
    func needsDecisionStatus() throws {
        var t = AgentTask.make()
        t.status = .needsDecision
        #expect(try object(t)["status"] as? String == "needs_decision")
    }

    @Test("encode then decode gives the same task")
    func roundTrip() throws {
        for t in [Self.fullTask(), .make(now: MutableNow.defaultStart)] {
            let data = try JSONEncoder.nightshift().encode(t)
            #expect(try JSONDecoder.nightshift().decode(AgentTask.self, from: data) == t)
        }
    }

    @Test("Timestamp parses with and without fractional seconds and refuses junk")
    func timestampParse() {
        #expect(Timestamp.parse("2026-11-21T10:00:00Z") == MutableNow.defaultStart)
        #expect(Timestamp.parse("2026-11-21T10:00:00.000Z") == MutableNow.defaultStart)
        #expect(Timestamp.parse("yesterday") == nil)
        #expect(Timestamp.format(MutableNow.defaultStart) == "2026-11-21T10:00:00.000Z")
    }
}
