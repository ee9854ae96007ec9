import Foundation
import HummingbirdTesting
import NightshiftCore
import Testing

@Suite("API: GET /api/agent/tasks/{id}/log")
struct TaskLogTests {
    @Test("tail=N gives the last N lines of the task's log file")
    func tail() async throws {
        let h = try APIHarness()
        let t = try await h.pending()
        let lines = (1...50).map { "line \($0)" }
        try h.writeJSON(lines.joined(separator: "\n") + "\n", to: h.paths.taskLog(t.id))
        try await h.test { client in
            let r = try await client.get("/api/agent/tasks/\(t.id)/log?tail=3")
            #expect(r.status == .ok)
            #expect(r.headers[.contentType]?.hasPrefix("text/plain") == true)
            #expect(r.text == "line 48\nline 49\nline 50\n")
            let all = try await client.get("/api/agent/tasks/\(t.id)/log")
            #expect(all.text == lines.joined(separator: "\n") + "\n", "the default tail (200) holds all 50 lines")
            let one = try await client.get("/api/agent/tasks/\(t.id)/log?tail=1")
            #expect(one.text == "line 50\n")
        }
    }

    @Test("a task that has not run yet has an empty log")
    func noLogYet() async throws {
        let h = try APIHarness()
        let t = try await h.pending()
        try await h.test { client in
            let r = try await client.get("/api/agent/tasks/\(t.id)/log?tail=10")
            #expect(r.status == .ok)
            #expect(r.text.isEmpty)
        }
    }

    @Test("a bad tail is a 422 naming it", arguments: ["0", "-1", "abc", "10001", "", "2.5"])
    func badTail(_ tail: String) async throws {
        let h = try APIHarness()
        let t = try await h.pending()
        try await h.test { client in
            try expectProblem(
                try await client.get("/api/agent/tasks/\(t.id)/log?tail=\(tail)"), .unprocessableContent, fields: ["tail"])
        }
    }
}
