import Foundation
import HTTPTypes
import HummingbirdTesting
import NightshiftAPI
import NightshiftCore
import NightshiftRuntime
import NightshiftTesting
import Testing

@Suite("API over real loopback HTTP", .timeLimit(.minutes(1)))
struct LiveServerTests {
    @Test("POST then GET a task over a real connection")
    func roundTrip() async throws {
        let h = try APIHarness()
        try await h.live { client in
            #expect(client.port != nil)
            let r = try await client.post(#"{"direction":"over the wire","task_type":"test","context":{"via":"tcp"}}"#)
            #expect(r.status == .created, "\(r.text)")
            let created = try r.json()
            let location = try #require(r.headers[.location])
            let got = try await client.getJSON(location)
            #expect(got == created)
            #expect(got["context"]["via"].string == "tcp")
            let list = try await client.getJSON("/api/agent/tasks?status=pending")
            #expect(list["tasks"][0]["id"] == created["id"])
            let bad = try await client.post("{")
            try expectProblem(bad, .badRequest)
        }
    }

    @Test("APIServer.buildApplication, as main uses it, serves over loopback and reports its bound port")
    func builtApplication() async throws {
        let h = try APIHarness { $0.server.port = 0 }
        let reported = Locked<[Int]>([])
        let app = APIServer.buildApplication(
            env: h.env, views: h.pipelineViews(), isReady: { true }, onRunning: { port in reported.withLock { $0.append(port) } })
        try await app.test(.live) { client in
            let port = try #require(client.port)
            #expect(reported.value == [port], "onRunning got the bound port")
            let r = try await client.get("/api/health")
            #expect(r.status == .ok)
            #expect(r.headers[.server] == "nightshift")
            let created = try await client.post(#"{"direction":"via the real application","task_type":"impl"}"#)
            #expect(created.status == .created)
            let count = try await client.getJSON("/api/agent/tasks/count")
            #expect(count["total"].int == 1)
        }
    }

    /// Reads the stream until an `event: task` block whose `id:` is `taskID`, and returns its data.
    /// The first complete event frame about `taskID` with change `change`; checks its shape.
    static func awaitEvent(
        _ stream: LoopbackStream, taskID: String, change: String, deadline: ContinuousClock.Instant
    ) async throws -> JSON {
        func find(_ text: String) -> (block: String, data: JSON)? {
            for block in text.components(separatedBy: "\n\n").dropLast() {
                guard let line = block.split(separator: "\n").first(where: { $0.hasPrefix("data: ") }),
                    let value = try? JSONDecoder().decode(JSONValue.self, from: Data(line.dropFirst("data: ".count).utf8))
                else { continue }
                let data = JSON(value)
                if data["task"]["id"].string == taskID && data["change"].string == change { return (block, data) }
            }
            return nil
        }
        let text = try await stream.read(until: deadline) { find($0) != nil }
        let (block, data) = try #require(find(text))
        let lines = block.split(separator: "\n").map(String.init)
        #expect(lines.first == "event: task", "\(block)")
        // The SSE id is the event's id in the task's history.
        #expect(lines.contains("id: \(data["event"]["id"].int.map(String.init) ?? "?")"), "\(block)")
        #expect(data["event"]["task_id"].string == taskID)
        return data
    }

    @Test("GET /api/agent/events streams a task event for a POST and for a change published on the bus")
    func serverSentEvents() async throws {
        let h = try APIHarness()
        try await h.live { client in
            let port = try #require(client.port)
            let stream = try LoopbackStream(port: port)
            defer { stream.close() }
            try stream.sendGET("/api/agent/events", headers: ["Accept": "text/event-stream"])
            let deadline = ContinuousClock.now + .seconds(15)
            try await stream.read(until: deadline) { $0.hasPrefix(": nightshift task events\n\n") }
            let head = try #require(stream.head)
            #expect(head.hasPrefix("HTTP/1.1 200"), "\(head)")
            #expect(head.lowercased().contains("content-type: text/event-stream"), "\(head)")
            #expect(head.lowercased().contains("cache-control: no-cache"), "\(head)")

            // A task created over HTTP arrives as an event.
            let r = try await client.post(#"{"direction":"watch me","task_type":"impl"}"#)
            let id = try #require(try r.json()["id"].string)
            let created = try await Self.awaitEvent(stream, taskID: id, change: "created", deadline: deadline)
            #expect(created["change"].string == "created")
            #expect(created["task"]["id"].string == id)
            #expect(created["task"]["status"].string == "pending")
            #expect(created["task"]["direction"].string == "watch me")

            // A change made through the ledger (as the runner does) arrives too.
            let claimed = try #require(
                try await h.env.ledger.claim(owner: APIHarness.owner, limit: 1, now: h.clock.now, lease: 3600).first)
            #expect(claimed.id == id)
            let event = try await Self.awaitEvent(stream, taskID: claimed.id, change: "claimed", deadline: deadline)
            #expect(event["change"].string == "claimed")
            #expect(event["task"]["status"].string == "running")
            stream.close()
            // Ends the open stream so the live server can drain (see the drain test below).
            h.env.events.finishAll()
        }
    }

    @Test("graceful shutdown drains while an SSE client stays connected")
    func drainWithOpenEventStream() async throws {
        let h = try APIHarness()
        let connected = Locked<LoopbackStream?>(nil)
        let stopped = OneShotEvent()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await h.live { client in
                    let stream = try LoopbackStream(port: try #require(client.port))
                    try stream.sendGET("/api/agent/events")
                    try await stream.read(until: .now + .seconds(15)) { $0.contains(": nightshift task events\n\n") }
                    connected.withLock { $0 = stream }
                }
                stopped.set()
            }
            // The live framework starts graceful shutdown when the closure returns; the client
            // stays connected. The server must still stop.
            let drained = await Self.wait(for: stopped, upTo: .seconds(30))
            #expect(drained, "the server stopped within 30 s although an event stream was open")
            // Without the drain, ending the streams lets the test finish instead of hanging.
            if !drained { h.env.events.finishAll() }
            try await group.waitForAll()
        }
        connected.value?.close()
    }

    /// Waits for `event` up to `limit`; false when the limit passed first.
    static func wait(for event: OneShotEvent, upTo limit: Duration) async -> Bool {
        await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                await event.wait()
                return true
            }
            group.addTask {
                try? await Task.sleep(for: limit)
                return event.isSet
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first || event.isSet
        }
    }
}
