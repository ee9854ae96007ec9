import Foundation
import HummingbirdTesting
import NightshiftCore
import NightshiftStore
import Testing

@Suite("API: GET /api/agent/tasks and /count")
struct TaskListTests {
    /// Tasks in five statuses and two types, one test-second apart; returned oldest first.
    static func seed(_ h: APIHarness) async throws -> [AgentTask] {
        var out: [AgentTask] = []
        out.append(try await h.pending("first pending"))
        h.clock.advance(by: 1)
        out.append(try await h.completed("completed"))
        h.clock.advance(by: 1)
        out.append(try await h.failed("failed", type: .test))
        h.clock.advance(by: 1)
        out.append(try await h.pending("second pending", type: .test))
        h.clock.advance(by: 1)
        out.append(try await h.running("running"))
        h.clock.advance(by: 1)
        return out
    }

    @Test("lists every task newest first with the total")
    func newestFirst() async throws {
        let h = try APIHarness()
        let tasks = try await Self.seed(h)
        try await h.test { client in
            let body = try await client.getJSON("/api/agent/tasks")
            #expect(body["tasks"].array?.compactMap { $0["id"].string } == tasks.reversed().map(\.id))
            #expect(body["total"].int == 5)
            #expect(body["limit"].int == 20)
            #expect(body["offset"].int == 0)
            #expect(body["tasks"][0]["status"].string == "running")
            #expect(body["tasks"][4]["direction"].string == "first pending")
        }
    }

    @Test("an empty store lists nothing")
    func empty() async throws {
        let h = try APIHarness()
        try await h.test { client in
            let body = try await client.getJSON("/api/agent/tasks")
            #expect(body["tasks"].array?.isEmpty == true)
            #expect(body["total"].int == 0)
        }
    }

    @Test("filters by one status, a comma list of statuses, and task_type")
    func filters() async throws {
        let h = try APIHarness()
        let t = try await Self.seed(h)
        try await h.test { client in
            let pending = try await client.getJSON("/api/agent/tasks?status=pending")
            #expect(pending["tasks"].array?.compactMap { $0["id"].string } == [t[3].id, t[0].id])
            #expect(pending["total"].int == 2)

            let two = try await client.getJSON("/api/agent/tasks?status=failed,completed")
            #expect(two["tasks"].array?.compactMap { $0["id"].string } == [t[2].id, t[1].id])
            #expect(two["total"].int == 2)

            let spaced = try await client.getJSON("/api/agent/tasks?status=running,%20pending")
            #expect(spaced["total"].int == 3)

            let tests = try await client.getJSON("/api/agent/tasks?task_type=test")
            #expect(tests["tasks"].array?.compactMap { $0["id"].string } == [t[3].id, t[2].id])
            #expect(tests["tasks"].array?.allSatisfy { $0["task_type"].string == "test" } == true)

            let types = try await client.getJSON("/api/agent/tasks?task_type=test,%20impl")
            #expect(types["total"].int == t.count, "a comma list of types, spaces allowed as for status")

            let both = try await client.getJSON("/api/agent/tasks?task_type=test&status=pending")
            #expect(both["tasks"].array?.compactMap { $0["id"].string } == [t[3].id])
            #expect(both["total"].int == 1)

            let none = try await client.getJSON("/api/agent/tasks?status=cancelled")
            #expect(none["tasks"].array?.isEmpty == true)
            #expect(none["total"].int == 0)
        }
    }

    @Test("limit and offset page through the newest-first order; total counts every page")
    func paging() async throws {
        let h = try APIHarness()
        let t = try await Self.seed(h)
        let newest = t.reversed().map(\.id)
        try await h.test { client in
            let page = try await client.getJSON("/api/agent/tasks?limit=2&offset=1")
            #expect(page["tasks"].array?.compactMap { $0["id"].string } == Array(newest[1...2]))
            #expect(page["total"].int == 5)
            #expect(page["limit"].int == 2)
            #expect(page["offset"].int == 1)

            let last = try await client.getJSON("/api/agent/tasks?limit=100&offset=4")
            #expect(last["tasks"].array?.compactMap { $0["id"].string } == [newest[4]])

            let past = try await client.getJSON("/api/agent/tasks?offset=50")
            #expect(past["tasks"].array?.isEmpty == true)
            #expect(past["total"].int == 5)

            let one = try await client.getJSON("/api/agent/tasks?limit=1")
            #expect(one["tasks"].array?.count == 1)
        }
    }

    @Test(
        "a bad query value is a 422 naming the parameter",
        arguments: [
            ("limit=0", "limit"), ("limit=101", "limit"), ("limit=abc", "limit"), ("limit=", "limit"), ("limit=1.5", "limit"),
            ("offset=-1", "offset"), ("offset=x", "offset"), ("status=bogus", "status"), ("status=pending,bogus", "status"),
            ("status=PENDING", "status"), ("task_type=nope", "task_type"),
            // An empty filter is not "no filter": the spec's pattern forbids it.
            ("task_type=", "task_type"), ("status=", "status"), ("task_type=impl,", "task_type"),
            ("status=pending,,running", "status"),
            ("task_type=%20", "task_type"), ("task_type=Impl", "task_type"),
            ("after=nope", "after"), ("after=c7ff0000000000000task_00000000000000aa", "after"),
            ("after=c41dabc0000000000task_00000000000000aa&offset=2", "after"), ("fields=id,nope", "fields"),
            ("fields=", "fields"), ("fields=ID", "fields"),
        ])
    func badQuery(_ query: String, _ field: String) async throws {
        let h = try APIHarness()
        try await h.test { client in
            let r = try await client.get("/api/agent/tasks?\(query)")
            try expectProblem(r, .unprocessableContent, type: "invalid_field", fields: [field])
        }
    }

    @Test("several bad query values are all named in one 422")
    func severalBad() async throws {
        let h = try APIHarness()
        try await h.test { client in
            let r = try await client.get("/api/agent/tasks?limit=0&offset=-1&status=bogus")
            try expectProblem(r, .unprocessableContent, fields: ["limit", "offset", "status"])
        }
    }

    @Test("GET /api/agent/tasks/count has the total and all six statuses")
    func count() async throws {
        let h = try APIHarness()
        try await h.test { client in
            let empty = try await client.getJSON("/api/agent/tasks/count")
            #expect(empty["total"].int == 0)
            #expect(empty["by_status"].keys == Set(TaskStatus.allCases.map(\.rawValue)))
            #expect(TaskStatus.allCases.allSatisfy { empty["by_status"][$0.rawValue].int == 0 })
        }
        _ = try await Self.seed(h)
        try await h.needsDecision()
        try await h.cancelled()
        try await h.test { client in
            let c = try await client.getJSON("/api/agent/tasks/count")
            #expect(c["total"].int == 7)
            #expect(c["by_status"].keys == Set(TaskStatus.allCases.map(\.rawValue)))
            #expect(c["by_status"]["pending"].int == 2)
            #expect(c["by_status"]["running"].int == 1)
            #expect(c["by_status"]["needs_decision"].int == 1)
            #expect(c["by_status"]["completed"].int == 1)
            #expect(c["by_status"]["failed"].int == 1)
            #expect(c["by_status"]["cancelled"].int == 1)
        }
    }
}
