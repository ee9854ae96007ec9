import Foundation
import HTTPTypes
import HummingbirdTesting
import NightshiftCore
import NightshiftStore
import Testing
import Yams

@Suite("API: POST /api/agent/tasks and GET /api/agent/tasks/{id}")
struct TaskCreateTests {
    @Test("201 with Location, a pending task with config defaults, and every key of the Task schema")
    func create() async throws {
        let h = try APIHarness()
        try await h.test { client in
            let r = try await client.post(#"{"direction":"  Add a --json flag  ","task_type":"impl"}"#)
            #expect(r.status == .created)
            #expect(r.headers[.contentType] == "application/json")
            let t = try r.json()
            let id = try #require(t["id"].string)
            #expect(TaskID.isValid(id))
            #expect(r.headers[.location] == "/api/agent/tasks/\(id)")
            #expect(t["direction"].string == "Add a --json flag", "the direction is trimmed")
            #expect(t["task_type"].string == "impl")
            #expect(t["status"].string == "pending")
            #expect(t["priority"].int == 0)
            #expect(t["max_attempts"].int == APIHarness.maxAttempts, "max_attempts defaults to runner.max_attempts")
            #expect(t["attempt"].int == 0)
            #expect(t["context"].keys == [])
            #expect(t["depends_on"].array?.isEmpty == true)
            #expect(t["created_at"].string == Timestamp.format(h.clock.now))
            #expect(t["updated_at"].string == Timestamp.format(h.clock.now))
            #expect(t["finished_at"].isNull)
            let required = try OpenAPISpec.load().required(ofSchema: "Task")
            #expect(!required.isEmpty)
            #expect(t.keys == required, "a task has exactly the keys the spec requires")

            let stored = try await h.store.get(id)
            #expect(stored.direction == "Add a --json flag")
            #expect(stored.maxAttempts == APIHarness.maxAttempts)
            #expect(try await h.store.countByStatus()[.pending] == 1)
        }
    }

    @Test("GET by id returns what POST created; priority, max_attempts, executor, context and depends_on round trip")
    func roundTrip() async throws {
        let h = try APIHarness()
        let dep = try await h.pending("a dependency")
        try await h.test { client in
            let body = """
                {"direction":"write the spec","task_type":"spec","priority":7,"max_attempts":9,"executor":"default",
                 "context":{"ticket":"NS-1","n":3,"nested":{"list":[true,null,"x",1.5]}},"depends_on":["\(dep.id)"]}
                """
            let r = try await client.post(body)
            #expect(r.status == .created, "\(r.text)")
            let created = try r.json()
            let id = try #require(created["id"].string)
            let got = try await client.getJSON("/api/agent/tasks/\(id)")
            #expect(got == created)
            #expect(got["priority"].int == 7)
            #expect(got["max_attempts"].int == 9)
            #expect(got["executor"].string == "default")
            #expect(got["task_type"].string == "spec")
            #expect(got["context"]["ticket"].string == "NS-1")
            #expect(got["context"]["n"].int == 3)
            #expect(got["context"]["nested"]["list"] == JSON(.array([.bool(true), .null, .string("x"), .number(1.5)])))
            #expect(got["depends_on"].array?.compactMap(\.string) == [dep.id])
            let stored = try await h.store.get(id)
            #expect(stored.dependsOn == [dep.id])
            #expect(stored.context["ticket"] == .string("NS-1"))
        }
    }

    @Test("a task type declared in config is accepted")
    func customType() async throws {
        let h = try APIHarness { $0.taskTypes = ["docs"] }
        try await h.test { client in
            let r = try await client.post(#"{"direction":"document it","task_type":"docs"}"#)
            #expect(r.status == .created, "\(r.text)")
            #expect(try r.json()["task_type"].string == "docs")
            let list = try await client.getJSON("/api/agent/tasks?task_type=docs")
            #expect(list["total"].int == 1)
        }
    }

    @Test("a 5000-character direction is accepted, 5001 is not")
    func directionLimit() async throws {
        let h = try APIHarness()
        try await h.test { client in
            let ok = try await client.post(#"{"direction":"\#(String(repeating: "é", count: 5000))","task_type":"impl"}"#)
            #expect(ok.status == .created)
            let r = try await client.post(#"{"direction":"\#(String(repeating: "a", count: 5001))","task_type":"impl"}"#)
            try expectProblem(r, .unprocessableContent, type: "invalid_field", fields: ["direction"])
        }
    }

    static let invalid: [(body: String, field: String)] = [
        (#"{"direction":"","task_type":"impl"}"#, "direction"),
        (#"{"direction":"   \n\t ","task_type":"impl"}"#, "direction"),
        (#"{"task_type":"impl"}"#, "direction"),
        (#"{"direction":null,"task_type":"impl"}"#, "direction"),
        (#"{"direction":42,"task_type":"impl"}"#, "direction"),
        (#"{"direction":"x"}"#, "task_type"),
        (#"{"direction":"x","task_type":"deploy"}"#, "task_type"),
        (#"{"direction":"x","task_type":"IMPL"}"#, "task_type"),
        (#"{"direction":"x","task_type":["impl"]}"#, "task_type"),
        (#"{"direction":"x","task_type":"impl","max_attempts":0}"#, "max_attempts"),
        (#"{"direction":"x","task_type":"impl","max_attempts":101}"#, "max_attempts"),
        (#"{"direction":"x","task_type":"impl","max_attempts":2.5}"#, "max_attempts"),
        (#"{"direction":"x","task_type":"impl","max_attempts":"3"}"#, "max_attempts"),
        (#"{"direction":"x","task_type":"impl","priority":"high"}"#, "priority"),
        (#"{"direction":"x","task_type":"impl","priority":1e300}"#, "priority"),
        (#"{"direction":"x","task_type":"impl","priority":1000001}"#, "priority"),
        (#"{"direction":"x","task_type":"impl","priority":true}"#, "priority"),
        (#"{"direction":"x","task_type":"impl","owner":"me"}"#, "owner"),
        (#"{"direction":"x","task_type":"impl","status":"completed"}"#, "status"),
        (#"{"direction":"x","task_type":"impl","executor":"gpt-9"}"#, "executor"),
        (#"{"direction":"x","task_type":"impl","executor":7}"#, "executor"),
        (#"{"direction":"x","task_type":"impl","executor":""}"#, "executor"),
        (#"{"direction":"x","task_type":"impl","executor":" default"}"#, "executor"),
        (#"{"direction":"x","task_type":"impl","context":"not an object"}"#, "context"),
        (#"{"direction":"x","task_type":"impl","context":[1,2]}"#, "context"),
        (#"{"direction":"x","task_type":"impl","depends_on":["nope"]}"#, "depends_on"),
        (#"{"direction":"x","task_type":"impl","depends_on":"task_0123456789abcdef"}"#, "depends_on"),
        (#"{"direction":"x","task_type":"impl","depends_on":[17]}"#, "depends_on"),
        (#"{"direction":"x","task_type":"impl","depends_on":["\#(unknownTaskID)"]}"#, "depends_on"),
    ]

    @Test("an invalid field is a 422 naming it, and nothing is created", arguments: invalid)
    func invalidField(_ body: String, _ field: String) async throws {
        let h = try APIHarness()
        try await h.test { client in
            let r = try await client.post(body)
            try expectProblem(r, .unprocessableContent, type: "invalid_field", fields: [field])
        }
        #expect(try await h.store.countByStatus().values.reduce(0, +) == 0)
    }

    @Test("null for an optional field means not given: executor null runs with executor_for, like an absent one")
    func nullIsAbsent() async throws {
        let h = try APIHarness()
        try await h.test { client in
            let r = try await client.post(
                #"{"direction":"x","task_type":"impl","executor":null,"priority":null,"max_attempts":null,"context":null,"depends_on":null}"#
            )
            #expect(r.status == .created, "\(r.text)")
            let body = try r.json()
            #expect(body["executor"].isNull)
            #expect(body["priority"].int == 0)
            #expect(body["max_attempts"].int == APIHarness.maxAttempts)
            #expect(body["context"] == JSON(.object([:])))
            #expect(body["depends_on"].array?.isEmpty == true)
        }
    }

    @Test("every invalid field of one body is named in one 422")
    func manyInvalid() async throws {
        let h = try APIHarness()
        try await h.test { client in
            let r = try await client.post(
                #"{"direction":"","task_type":"nope","priority":"high","max_attempts":0,"color":"red"}"#)
            try expectProblem(r, .unprocessableContent, fields: ["direction", "task_type", "priority", "max_attempts", "color"])
        }
    }

    @Test("GET of an unknown or malformed id is a 404 problem")
    func notFound() async throws {
        let h = try APIHarness()
        try await h.pending()
        try await h.test { client in
            for id in [unknownTaskID, "nope", "task_XYZ", "task_0123456789ABCDEF", "task_0123456789abcdef0", "%20"] {
                try expectProblem(try await client.get("/api/agent/tasks/\(id)"), .notFound, type: "not_found")
            }
        }
    }
}
