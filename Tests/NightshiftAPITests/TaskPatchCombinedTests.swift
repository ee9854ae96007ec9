import Foundation
import HummingbirdTesting
import NightshiftCore
import Testing

/// A status change and a priority in one PATCH: both happen in one transaction, or neither.
@Suite("API: PATCH with a status change and a priority")
struct TaskPatchCombinedTests {
    @Test("cancel + priority: the task is cancelled with the new priority")
    func cancelWithPriority() async throws {
        let h = try APIHarness()
        let t = try await h.pending()
        try await h.test { client in
            let r = try await client.patch(t.id, #"{"status":"cancelled","priority":5}"#)
            #expect(r.status == .ok, "\(r.text)")
            let body = try r.json()
            #expect(body["status"].string == "cancelled")
            #expect(body["priority"].int == 5)
            #expect(try await client.getJSON("/api/agent/tasks/\(t.id)") == body)
        }
        let stored = try await h.store.get(t.id)
        #expect(stored.status == .cancelled)
        #expect(stored.priority == 5)
    }

    @Test("retry + priority: a failed task is pending again at the new priority, and is claimed first")
    func retryWithPriority() async throws {
        let h = try APIHarness()
        let failed = try await h.failed()
        let other = try await h.pending("already waiting", priority: 50)
        try await h.test { client in
            let r = try await client.patch(failed.id, #"{"status":"pending","priority":100}"#)
            #expect(r.status == .ok, "\(r.text)")
            let body = try r.json()
            #expect(body["status"].string == "pending")
            #expect(body["attempt"].int == 0)
            #expect(body["priority"].int == 100)
        }
        let claimed = try await h.store.claimNext(owner: "next", limit: 2, now: h.clock.now, lease: 60)
        #expect(claimed.map(\.id) == [failed.id, other.id], "the retried task now outranks the waiting one")
    }

    @Test("decision + priority: the task resumes with the decision at the new priority")
    func decideWithPriority() async throws {
        let h = try APIHarness()
        let t = try await h.needsDecision()
        try await h.test { client in
            let r = try await client.patch(t.id, #"{"decision":"yes","priority":-2}"#)
            #expect(r.status == .ok, "\(r.text)")
            let body = try r.json()
            #expect(body["status"].string == "pending")
            #expect(body["decision"].string == "yes")
            #expect(body["priority"].int == -2)
        }
    }

    @Test("a refused status change leaves the priority as it was (409, nothing changed)")
    func refusedTransitionKeepsPriority() async throws {
        let h = try APIHarness()
        // Retry and decide are refused on a pending task, whose priority alone could change: a
        // server that set the priority in a separate step would leave it changed.
        let pending = try await h.pending()
        try await TaskPatchTests.expectConflict(h, pending, #"{"status":"pending","priority":9}"#)
        try await TaskPatchTests.expectConflict(h, pending, #"{"decision":"y","priority":9}"#)
        let done = try await h.completed()
        try await TaskPatchTests.expectConflict(h, done, #"{"status":"cancelled","priority":9}"#)
        #expect(try await h.store.get(pending.id).priority == pending.priority)
        #expect(try await h.store.get(done.id).priority == done.priority)
    }
}
