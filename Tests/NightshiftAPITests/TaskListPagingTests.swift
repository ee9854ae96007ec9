import Foundation
import HummingbirdTesting
import NightshiftCore
import NightshiftStore
import Testing

@Suite("API: the task list's cursor, fields and bytes")
struct TaskListPagingTests {
    @Test("next pages through every task once, as offset does, and is null on the last page")
    func cursorWalk() async throws {
        let h = try APIHarness()
        var ids: [String] = []
        for i in 0..<7 {
            ids.append(try await h.pending("task \(i)").id)
            h.clock.advance(by: 1)
        }
        let newestFirst = Array(ids.reversed())
        try await h.test { client in
            var seen: [String] = []
            var uri = "/api/agent/tasks?limit=3"
            var pages = 0
            while true {
                let body = try await client.getJSON(uri)
                try expectRequiredKeys(body, schema: "TaskList")
                #expect(body["total"].int == 7)
                seen += body["tasks"].array?.compactMap { $0["id"].string } ?? []
                pages += 1
                guard let next = body["next"].string else {
                    #expect(body["next"] == JSON(.null))
                    break
                }
                uri = "/api/agent/tasks?limit=3&after=\(next)"
            }
            #expect(pages == 3)
            #expect(seen == newestFirst)
            // The cursor works with filters, and offset 0 beside it is fine.
            let first = try await client.getJSON("/api/agent/tasks?limit=2&status=pending")
            let next = try #require(first["next"].string)
            let rest = try await client.getJSON("/api/agent/tasks?limit=100&status=pending&offset=0&after=\(next)")
            #expect(rest["tasks"].array?.compactMap { $0["id"].string } == Array(newestFirst.dropFirst(2)))
        }
    }

    @Test("fields returns only the fields asked for, in the usual order, for lists")
    func fields() async throws {
        let h = try APIHarness()
        let task = try await h.completed("done")
        try await h.test { client in
            let r = try await client.get("/api/agent/tasks?fields=status,%20id,task_type")
            #expect(r.status == .ok)
            #expect(
                r.text
                    == "{\"limit\":20,\"next\":null,\"offset\":0,\"tasks\":[{\"id\":\"\(task.id)\",\"status\":\"completed\",\"task_type\":\"impl\"}],\"total\":1}\n"
            )
        }
    }

    @Test("the list and the get answer the encoder's exact bytes for a task with odd strings")
    func sameBytesAsEncoder() async throws {
        let h = try APIHarness()
        var t = AgentTask(
            taskType: .impl, direction: "quote \" slash / tab \t emoji 😀 \u{1} " + String(repeating: "é", count: 4000),
            now: h.clock.now)
        t.context = ["b": .string("</script>"), "a": .array([.number(1.5), .null, .bool(false)]), "Z": .number(1e21)]
        let created = try await h.store.create(t)
        let stored = try await h.store.get(created.id)
        let encoder = JSONEncoder.nightshift()
        try await h.test { client in
            let one = try await client.get("/api/agent/tasks/\(created.id)")
            #expect(one.text == String(decoding: try encoder.encode(stored), as: UTF8.self) + "\n")
            struct Page: Encodable {
                var limit: Int
                var next: String?
                var offset: Int
                var tasks: [AgentTask]
                var total: Int
                func encode(to encoder: any Encoder) throws {
                    var c = encoder.container(keyedBy: CodingKeys.self)
                    try c.encode(limit, forKey: .limit)
                    try c.encode(next, forKey: .next)
                    try c.encode(offset, forKey: .offset)
                    try c.encode(tasks, forKey: .tasks)
                    try c.encode(total, forKey: .total)
                }
                enum CodingKeys: String, CodingKey { case limit, next, offset, tasks, total }
            }
            let list = try await client.get("/api/agent/tasks")
            let expected = Page(limit: 20, next: nil, offset: 0, tasks: [stored], total: 1)
            #expect(list.text == String(decoding: try encoder.encode(expected), as: UTF8.self) + "\n")
        }
    }
}
