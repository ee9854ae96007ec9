import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NightshiftCore
import NightshiftStore
import Testing

@Suite("API: PATCH /api/agent/tasks/{id}")
struct TaskPatchTests {
    @Test("the seed runbook's curl decides a needs_decision task: back to pending with the decision stored")
    func seedDecision() async throws {
        let h = try APIHarness()
        let t = try await h.needsDecision("Use Postgres?")
        h.clock.advance(by: 30)
        try await h.test { client in
            // curl -X PATCH .../api/agent/tasks/ID -H "Content-Type: application/json" -d '{"decision":"yes"}'
            let r = try await client.executeRequest(
                uri: "/api/agent/tasks/\(t.id)", method: .patch, headers: [.contentType: "application/json"],
                body: ByteBuffer(string: #"{"decision":"yes"}"#))
            #expect(r.status == .ok, "\(r.text)")
            let body = try r.json()
            #expect(body["id"].string == t.id)
            #expect(body["status"].string == "pending")
            #expect(body["decision"].string == "yes")
            #expect(body["decided_at"].string == Timestamp.format(h.clock.now))
            #expect(body["decision_prompt"].string == "Use Postgres?", "the question stays with the answer")
            let got = try await client.getJSON("/api/agent/tasks/\(t.id)")
            #expect(got == body)
        }
        let stored = try await h.store.get(t.id)
        #expect(stored.status == .pending)
        #expect(stored.decision == "yes")
        #expect(stored.decidedAt == h.clock.now)
    }

    @Test("a decision is trimmed; an empty or non-string one is a 422")
    func decisionValues() async throws {
        let h = try APIHarness()
        let t = try await h.needsDecision()
        try await h.test { client in
            for bad in [#"{"decision":""}"#, #"{"decision":"   "}"#, #"{"decision":true}"#, #"{"decision":null}"#] {
                try expectProblem(try await client.patch(t.id, bad), .unprocessableContent, fields: ["decision"])
            }
            let long = try await client.patch(t.id, #"{"decision":"\#(String(repeating: "y", count: 5001))"}"#)
            try expectProblem(long, .unprocessableContent, fields: ["decision"])
            #expect(try await h.store.get(t.id).status == .needsDecision, "refused decisions change nothing")
            let r = try await client.patch(t.id, #"{"decision":"  no, use SQLite \n"}"#)
            #expect(r.status == .ok)
            #expect(try r.json()["decision"].string == "no, use SQLite")
        }
    }

    @Test("status cancelled cancels a pending task")
    func cancelPending() async throws {
        let h = try APIHarness()
        let t = try await h.pending()
        h.clock.advance(by: 5)
        try await h.test { client in
            let r = try await client.patch(t.id, #"{"status":"cancelled"}"#)
            #expect(r.status == .ok, "\(r.text)")
            let body = try r.json()
            #expect(body["status"].string == "cancelled")
            #expect(body["finished_at"].string == Timestamp.format(h.clock.now))
            #expect(try await client.getJSON("/api/agent/tasks/\(t.id)") == body)
        }
        #expect(try await h.store.get(t.id).status == .cancelled)
    }

    @Test("status cancelled also cancels running and needs_decision tasks")
    func cancelActive() async throws {
        let h = try APIHarness()
        let running = try await h.running()
        let waiting = try await h.needsDecision()
        try await h.test { client in
            for id in [running.id, waiting.id] {
                let r = try await client.patch(id, #"{"status":"cancelled"}"#)
                #expect(r.status == .ok)
                #expect(try r.json()["status"].string == "cancelled")
            }
        }
    }

    @Test("status pending retries a failed task with fresh attempts")
    func retryFailed() async throws {
        let h = try APIHarness()
        let t = try await h.failed()
        #expect(t.status == .failed)
        #expect(t.attempt == 1)
        try await h.test { client in
            let r = try await client.patch(t.id, #"{"status":"pending"}"#)
            #expect(r.status == .ok, "\(r.text)")
            let body = try r.json()
            #expect(body["status"].string == "pending")
            #expect(body["attempt"].int == 0)
            #expect(body["finished_at"].isNull)
            #expect(body["claimed_by"].isNull)
        }
        let stored = try await h.store.get(t.id)
        #expect(stored.status == .pending)
        #expect(stored.attempt == 0)
        let claimed = try await h.store.claimNext(owner: "again", limit: 1, now: h.clock.now, lease: 60)
        #expect(claimed.map(\.id) == [t.id], "a retried task is runnable again")
    }

    @Test("priority changes the priority of a task that has not ended")
    func priority() async throws {
        let h = try APIHarness()
        let t = try await h.pending()
        try await h.test { client in
            let r = try await client.patch(t.id, #"{"priority":7}"#)
            #expect(r.status == .ok, "\(r.text)")
            #expect(try r.json()["priority"].int == 7)
            #expect(try await client.getJSON("/api/agent/tasks/\(t.id)")["priority"].int == 7)
            let negative = try await client.patch(t.id, #"{"priority":-3}"#)
            #expect(try negative.json()["priority"].int == -3)
        }
        #expect(try await h.store.get(t.id).priority == -3)
    }

    /// Sends `patch` to the task, expects a 409 problem, and checks the task did not change.
    static func expectConflict(
        _ h: APIHarness, _ task: AgentTask, _ patch: String, sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        h.clock.advance(by: 10)
        try await h.test { client in
            let before = try await client.getJSON("/api/agent/tasks/\(task.id)", sourceLocation: sourceLocation)
            let r = try await client.patch(task.id, patch, sourceLocation: sourceLocation)
            let p = try expectProblem(r, .conflict, type: "illegal_transition", sourceLocation: sourceLocation)
            #expect(p["detail"].string?.contains(task.id) == true, "\(p)", sourceLocation: sourceLocation)
            let after = try await client.getJSON("/api/agent/tasks/\(task.id)", sourceLocation: sourceLocation)
            #expect(after == before, "a refused change leaves the task as it was", sourceLocation: sourceLocation)
        }
    }

    @Test("a decision on a pending task is a 409 and changes nothing")
    func decidePending() async throws {
        let h = try APIHarness()
        try await Self.expectConflict(h, try await h.pending(), #"{"decision":"yes"}"#)
    }

    @Test("a decision on a completed task is a 409 and changes nothing")
    func decideCompleted() async throws {
        let h = try APIHarness()
        try await Self.expectConflict(h, try await h.completed(), #"{"decision":"yes"}"#)
    }

    @Test("cancelling a completed, failed or cancelled task is a 409 and changes nothing")
    func cancelEnded() async throws {
        let h = try APIHarness()
        try await Self.expectConflict(h, try await h.completed(), #"{"status":"cancelled"}"#)
        try await Self.expectConflict(h, try await h.failed(), #"{"status":"cancelled"}"#)
        try await Self.expectConflict(h, try await h.cancelled(), #"{"status":"cancelled"}"#)
    }

    @Test("retrying a task that has not failed is a 409 and changes nothing")
    func retryNotFailed() async throws {
        let h = try APIHarness()
        try await Self.expectConflict(h, try await h.pending(), #"{"status":"pending"}"#)
        try await Self.expectConflict(h, try await h.running(), #"{"status":"pending"}"#)
        try await Self.expectConflict(h, try await h.completed(), #"{"status":"pending"}"#)
    }

    @Test("changing the priority of an ended task is a 409 and changes nothing")
    func priorityEnded() async throws {
        let h = try APIHarness()
        try await Self.expectConflict(h, try await h.completed(), #"{"priority":1}"#)
    }

    static let invalid: [(body: String, fields: [String])] = [
        (#"{"status":"running"}"#, ["status"]),
        (#"{"status":"completed"}"#, ["status"]),
        (#"{"status":"CANCELLED"}"#, ["status"]),
        (#"{"status":1}"#, ["status"]),
        (#"{"priority":"high"}"#, ["priority"]),
        (#"{"priority":1.5}"#, ["priority"]),
        (#"{"priority":2000000}"#, ["priority"]),
        (#"{"priority":null}"#, ["priority"]),
        (#"{"decision":"yes","status":"pending"}"#, ["decision", "status"]),
        (#"{"decision":"yes","status":"cancelled","priority":3}"#, ["decision", "status"]),
        (#"{"decision":"","priority":3}"#, ["decision"]),
        (#"{"status":"cancelled","priority":2000000}"#, ["priority"]),
        (#"{"status":"running","priority":"high"}"#, ["status", "priority"]),
        (#"{"direction":"rewrite history"}"#, ["direction"]),
        (#"{"attempt":0}"#, ["attempt"]),
    ]

    @Test("an invalid patch is a 422 naming the field, and nothing changes", arguments: invalid)
    func invalidPatch(_ body: String, _ fields: [String]) async throws {
        let h = try APIHarness()
        let t = try await h.needsDecision()
        try await h.test { client in
            let before = try await client.getJSON("/api/agent/tasks/\(t.id)")
            try expectProblem(try await client.patch(t.id, body), .unprocessableContent, type: "invalid_field", fields: fields)
            #expect(try await client.getJSON("/api/agent/tasks/\(t.id)") == before)
        }
    }

    @Test("PATCH of an unknown or malformed id is a 404")
    func notFound() async throws {
        let h = try APIHarness()
        try await h.test { client in
            for id in [unknownTaskID, "nope", "task_123"] {
                try expectProblem(try await client.patch(id, #"{"status":"cancelled"}"#), .notFound, type: "not_found")
            }
        }
    }
}
