import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NightshiftCore
import NightshiftRuntime
import NightshiftStore
import Testing

/// `GET /api/agent/dlq`, `POST /api/agent/dlq/reprocess` and `POST /api/agent/dlq/cleanup`.
@Suite("API: the dead-letter queue")
struct DeadLetterRouteTests {
    /// A task that ran and failed for good with `errorClass`.
    @discardableResult
    static func deadLetter(_ h: APIHarness, _ errorClass: ErrorClass, _ direction: String = "fails") async throws -> AgentTask {
        let t = try await h.running(direction)
        h.clock.advance(by: 1)
        return try await h.store.finish(
            id: t.id, owner: APIHarness.owner,
            outcome: AttemptOutcome(.failed(errorClass: errorClass, error: "\(direction) failed", retryDelay: nil), exitCode: 3),
            now: h.clock.now)
    }

    @Test("GET /api/agent/dlq: the stats and a page of dead letters, newest first, filtered by error class")
    func page() async throws {
        let h = try APIHarness()
        let a = try await Self.deadLetter(h, .exitCode, "a")
        let b = try await Self.deadLetter(h, .timeout, "b")
        let c = try await Self.deadLetter(h, .exitCode, "c")
        try await h.completed()
        try await h.test { client in
            let body = try await client.getJSON("/api/agent/dlq")
            try expectRequiredKeys(body, schema: "DeadLetterPage")
            try expectRequiredKeys(body["stats"], schema: "DeadLetterStats")
            try expectRequiredKeys(body["entries"][0], schema: "DeadLetterEntry")
            try expectRequiredKeys(body["stats"]["by_error_class"][0], schema: "DeadLetterGroup")
            #expect(body["stats"]["total"].int == 3)
            #expect(body["stats"]["by_error_class"].array?.map { $0["key"].string ?? "" } == ["exit_code", "timeout"])
            #expect(body["stats"]["by_error_class"][0]["count"].int == 2)
            #expect(body["stats"]["by_error_class"][0]["last_task_id"].string == c.id)
            #expect(body["stats"]["by_phase"][0]["key"].isNull, "tasks outside the pipeline: a null phase")
            #expect(body["stats"]["by_run"][0]["key"].isNull, "tasks the harness made outside a run")
            #expect(body["stats"]["by_run"][0]["count"].int == 3)
            #expect(body["entries"].array?.map { $0["id"].string ?? "" } == [c.id, b.id, a.id])
            #expect(body["entries"][0]["error_class"].string == "exit_code")
            #expect(body["entries"][0]["exit_code"].int == 3)
            #expect(body["entries"][0]["failed_at"].string == c.finishedAt.map(Timestamp.format))
            #expect(body["total"].int == 3 && body["limit"].int == 20 && body["offset"].int == 0)

            let filtered = try await client.getJSON("/api/agent/dlq?error_class=exit_code&limit=1&offset=1")
            #expect(filtered["entries"].array?.map { $0["id"].string ?? "" } == [a.id])
            #expect(filtered["total"].int == 2)
            #expect(filtered["stats"]["total"].int == 3, "the stats are of the whole queue")
        }
    }

    @Test("GET /api/agent/dlq refuses bad parameters with a 422 naming each")
    func pageBadInput() async throws {
        let h = try APIHarness()
        try await h.test { client in
            for (query, field) in [
                ("error_class=", "error_class"), ("error_class=Exit%20Code", "error_class"), ("limit=0", "limit"),
                ("limit=101", "limit"), ("limit=x", "limit"), ("offset=-1", "offset"), ("offset=1000001", "offset"),
            ] {
                try expectProblem(try await client.get("/api/agent/dlq?\(query)"), .unprocessableContent, fields: [field])
            }
        }
    }

    @Test("POST /api/agent/dlq/reprocess: the task is pending with fresh attempts, and the reprocessed event is announced")
    func reprocess() async throws {
        let h = try APIHarness()
        let a = try await Self.deadLetter(h, .exitCode, "a")
        let b = try await Self.deadLetter(h, .timeout, "b")
        let events = h.env.events.subscribe()
        h.clock.advance(by: 10)
        try await h.test { client in
            let r = try await client.send(
                .post, "/api/agent/dlq/reprocess", json: #"{"ids": ["\#(a.id)"], "reason": "flaky runner"}"#)
            #expect(r.status == .ok, "\(r.text)")
            let body = try r.json()
            try expectRequiredKeys(body, schema: "DeadLetterReprocess")
            #expect(body["dry_run"].bool == false)
            #expect(body["tasks"].array?.map { $0["id"].string ?? "" } == [a.id])
            #expect(body["tasks"][0]["error_class"].string == "exit_code", "the task as it was in the queue")
        }
        let after = try await h.store.get(a.id)
        #expect(after.status == .pending && after.attempt == 0)
        var it = events.makeAsyncIterator()
        let change = try #require(await it.next(), "the ledger published the change")
        #expect(change.kind == .reprocessed && change.task.id == a.id)
        #expect(change.event.detail["by"] == .string("api"))
        #expect(change.event.detail["reason"] == .string("flaky runner"))
        #expect(try await h.store.get(b.id) == b, "only the named task")

        try await h.test { client in
            let r = try await client.send(.post, "/api/agent/dlq/reprocess", json: #"{"error_class": "timeout"}"#)
            #expect(try r.json()["tasks"].array?.map { $0["id"].string ?? "" } == [b.id])
        }
        #expect(try await h.store.get(b.id).status == .pending)
    }

    @Test("a dry run answers what would be reprocessed and changes nothing")
    func reprocessDryRun() async throws {
        let h = try APIHarness()
        let a = try await Self.deadLetter(h, .exitCode, "a")
        let b = try await Self.deadLetter(h, .timeout, "b")
        let lastEvent = try await h.store.lastEventID()
        try await h.test { client in
            let r = try await client.send(.post, "/api/agent/dlq/reprocess", json: #"{"all": true, "dry_run": true}"#)
            #expect(r.status == .ok, "\(r.text)")
            let body = try r.json()
            #expect(body["dry_run"].bool == true)
            #expect(body["tasks"].array?.map { $0["id"].string ?? "" } == [a.id, b.id])
        }
        #expect(try await h.store.get(a.id) == a)
        #expect(try await h.store.get(b.id) == b)
        #expect(try await h.store.lastEventID() == lastEvent)
    }

    @Test("bad reprocess requests are 4xx problems and change nothing")
    func reprocessBadInput() async throws {
        let h = try APIHarness()
        let a = try await Self.deadLetter(h, .exitCode, "a")
        let done = try await h.completed()
        let lastEvent = try await h.store.lastEventID()
        try await h.test { client in
            try expectProblem(try await client.send(.post, "/api/agent/dlq/reprocess", json: "{nope"), .badRequest)
            try expectProblem(try await client.send(.post, "/api/agent/dlq/reprocess", json: "[]"), .badRequest)
            for (json, field) in [
                ("{}", "ids"), (#"{"dry_run": true}"#, "ids"), (#"{"all": false}"#, "all"),
                (#"{"all": true, "error_class": "timeout"}"#, "all"), (#"{"ids": []}"#, "ids"), (#"{"ids": ["nope"]}"#, "ids"),
                (#"{"ids": "\#(a.id)"}"#, "ids"), (#"{"error_class": "Exit Code"}"#, "error_class"),
                (#"{"all": true, "dry_run": "yes"}"#, "dry_run"),
                (#"{"all": true, "reason": "\#(String(repeating: "r", count: 501))"}"#, "reason"),
                (#"{"all": true, "force": true}"#, "force"),
            ] {
                try expectProblem(
                    try await client.send(.post, "/api/agent/dlq/reprocess", json: json), .unprocessableContent, fields: [field])
            }
            let unknown = try await client.send(
                .post, "/api/agent/dlq/reprocess", json: #"{"ids": ["\#(a.id)", "\#(unknownTaskID)"]}"#)
            try expectProblem(unknown, .notFound)
            let notDead = try await client.send(.post, "/api/agent/dlq/reprocess", json: #"{"ids": ["\#(a.id)", "\#(done.id)"]}"#)
            let p = try expectProblem(notDead, .conflict)
            #expect(p["detail"].string?.contains("completed") == true, "\(p)")
        }
        #expect(try await h.store.get(a.id) == a, "a refused request changes nothing, not even the valid id in it")
        #expect(try await h.store.lastEventID() == lastEvent)
    }

    @Test("POST /api/agent/dlq/cleanup deletes old dead letters with their log and result files; a dry run keeps them")
    func cleanup() async throws {
        let h = try APIHarness()
        let old = try await Self.deadLetter(h, .exitCode, "old")
        let files = [h.paths.taskLog(old.id), h.paths.resultFile(old.id)]
        for f in files { try Data("token=abc\n".utf8).write(to: URL(fileURLWithPath: f)) }
        h.clock.advance(by: 31 * 86400)
        let young = try await Self.deadLetter(h, .exitCode, "young")
        try await h.test { client in
            let look = try await client.send(.post, "/api/agent/dlq/cleanup", json: #"{"older_than": "30d", "dry_run": true}"#)
            #expect(look.status == .ok, "\(look.text)")
            let body = try look.json()
            try expectRequiredKeys(body, schema: "DeadLetterCleanup")
            #expect(body["dry_run"].bool == true)
            #expect(body["deleted"].array?.map { $0.string ?? "" } == [old.id])
            #expect(body["cutoff"].string == Timestamp.format(h.clock.now.addingTimeInterval(-30 * 86400)))
        }
        #expect(try await h.store.get(old.id) == old)
        #expect(files.allSatisfy { FileManager.default.fileExists(atPath: $0) }, "a dry run deletes no file")
        try await h.test { client in
            let r = try await client.send(.post, "/api/agent/dlq/cleanup", json: #"{"older_than": "30d"}"#)
            #expect(try r.json()["deleted"].array?.map { $0.string ?? "" } == [old.id])
        }
        #expect(await (try? h.store.get(old.id)) == nil)
        #expect(files.allSatisfy { !FileManager.default.fileExists(atPath: $0) }, "its log and result file are gone")
        #expect(try await h.store.get(young.id) == young)
    }

    @Test("bad cleanup requests are 4xx problems and delete nothing")
    func cleanupBadInput() async throws {
        let h = try APIHarness()
        let old = try await Self.deadLetter(h, .exitCode, "old")
        h.clock.advance(by: 365 * 86400)
        try await h.test { client in
            try expectProblem(try await client.send(.post, "/api/agent/dlq/cleanup", json: "not json"), .badRequest)
            for (json, field) in [
                ("{}", "older_than"), (#"{"older_than": "30"}"#, "older_than"), (#"{"older_than": "0d"}"#, "older_than"),
                (#"{"older_than": "1e3s"}"#, "older_than"), (#"{"older_than": "30 d"}"#, "older_than"),
                (#"{"older_than": "99999d"}"#, "older_than"), (#"{"older_than": 30}"#, "older_than"),
                (#"{"older_than": "30d", "dry_run": 1}"#, "dry_run"), (#"{"older_than": "30d", "all": true}"#, "all"),
            ] {
                try expectProblem(
                    try await client.send(.post, "/api/agent/dlq/cleanup", json: json), .unprocessableContent, fields: [field])
            }
        }
        #expect(try await h.store.get(old.id) == old)
    }

    @Test("the routes answer over real loopback HTTP")
    func live() async throws {
        let h = try APIHarness()
        let a = try await Self.deadLetter(h, .exitCode, "a")
        try await h.live { client in
            let r = try await client.send(.post, "/api/agent/dlq/reprocess", json: #"{"ids": ["\#(a.id)"]}"#)
            #expect(r.status == .ok, "\(r.text)")
            #expect(try await client.getJSON("/api/agent/dlq")["stats"]["total"].int == 0)
        }
        #expect(try await h.store.get(a.id).status == .pending)
    }
}
