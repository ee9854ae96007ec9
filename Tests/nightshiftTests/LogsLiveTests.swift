import Foundation
import NightshiftCore
import NightshiftTesting
import Testing

/// Issue 13's "done when", against a real `nightshift serve` over loopback HTTP: Fluent Bit and
/// NDJSON batches, fingerprints with counts and examples, exactly one webhook per fingerprint
/// and run, grep, tail, questions to a fake OpenAI-compatible server (and the degraded answer
/// when it is down), and agents' output ingested as `task:<id>`.
@Suite("logs against a live daemon", .serialized)
struct LogsLiveTests {
    static func post(_ url: String, _ body: String, type: String = "application/json") async throws -> HTTP.Reply {
        try #require(await HTTP.send("POST", url, json: body, headers: ["Content-Type": type]))
    }

    @Test("ingest, fingerprints, one webhook per run, grep, tail, ask, agent output")
    func endToEnd() async throws {
        let dir = try TemporaryDirectory(prefix: "nightshift-logs")
        let webhook = try LoopbackHTTPServer()
        let llm = try LoopbackHTTPServer { request in
            let question = (request.json?["messages"] as? [[String: Any]])?.last?["content"] as? String ?? ""
            let cites = question.contains("connection_refused") ? "connection_refused" : "nothing"
            return (
                200,
                #"{"id":"x","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"The database refused connections (\#(cites))."},"finish_reason":"stop"}],"usage":{"prompt_tokens":300,"completion_tokens":20,"total_tokens":320}}"#
            )
        }
        let config = try dir.write(
            """
            runner: { executors: { default: { command: "echo {direction}" } } }
            project_manager: { backlog: "" }
            monitor: { interval: 1h }
            notify: { webhooks: ["\(webhook.baseURL)/hook"] }
            logs: { llm: { base_url: "\(llm.baseURL)/v1", model: fake-model } }
            """, to: "nightshift.yaml")
        let daemon = try DaemonProcess(stateDir: dir.path("state"), arguments: ["--config", config])
        #expect(await daemon.waitUntilReady(), "the daemon did not start: \(daemon.stderr)")
        let base = daemon.url

        // A fresh run, then a Fluent Bit batch (json format: date + log) and an NDJSON batch.
        let cleared = try await Self.post(base + "/api/logs/clear", "{}")
        #expect(cleared.status == 201)
        let runA = try #require(cleared.json?["id"] as? String)
        #expect(RunID.isValid(runA))
        let fluent = try await Self.post(
            base + "/api/logs/ingest",
            #"[{"date":1764626400.5,"log":"Error: connect ECONNREFUSED 10.0.0.1:5432"},{"date":1764626401,"log":"Error: connect ECONNREFUSED 10.0.0.2:5432"},{"date":1764626402,"log":"GET /health 200 3ms"}]"#
        )
        #expect(fluent.status == 202)
        #expect(fluent.json?["accepted"] as? Int == 3)
        #expect(fluent.json?["run_id"] as? String == runA)
        let ndjson = try await Self.post(
            base + "/api/logs/ingest?run=latest",
            """
            {"message":"Error: connect ECONNREFUSED 10.0.0.3:5432","level":"error","source":"api"}
            this line is not json
            {"msg":"Error: connect ECONNREFUSED 10.0.0.4:6379","level":"error","source":"worker","timestamp":"2026-12-01T22:00:05Z"}
            {"message":"Error: connect ECONNREFUSED 10.0.0.5:6379","level":"error","source":"worker"}
            """, type: "application/x-ndjson")
        #expect(ndjson.status == 202)
        #expect(ndjson.json?["accepted"] as? Int == 3)
        #expect(ndjson.json?["rejected"] as? Int == 1)

        let issues = try #require(await HTTP.get(base + "/api/logs/issues?run=\(runA)"))
        let list = try #require(issues.json?["issues"] as? [[String: Any]])
        let refused = try #require(list.first { $0["rule_id"] as? String == "connection_refused" })
        #expect(refused["count"] as? Int == 5)
        #expect((refused["examples"] as? [String])?.count == 3)
        #expect(Set(refused["sources"] as? [String] ?? []) == ["ingest", "api", "worker"])
        #expect(refused["notified_at"] is String)
        let fingerprint = try #require(refused["fingerprint"] as? String)

        // Exactly one webhook for five sightings; a second only in the next run.
        #expect(await waitFor(timeout: 20) { !webhook.requests.isEmpty })
        let runB = try #require((try await Self.post(base + "/api/logs/clear", "{}")).json?["id"] as? String)
        #expect(runB != runA)
        _ = try await Self.post(
            base + "/api/logs/ingest",
            (1...3).map { #"{"message":"Error: connect ECONNREFUSED 10.1.0.\#($0):5432","level":"error"}"# }
                .joined(separator: "\n"), type: "application/x-ndjson")
        #expect(await waitFor(timeout: 20) { webhook.requests.count >= 2 })
        let hooks = webhook.requests.map { ($0.json?["log_issue"] as? [String: Any]) ?? [:] }
        #expect(hooks.count == 2, "\(hooks)")
        #expect(hooks.map { $0["run_id"] as? String } == [runA, runB])
        #expect(hooks.allSatisfy { $0["fingerprint"] as? String == fingerprint }, "stable across runs")
        #expect(webhook.requests.allSatisfy { $0.json?["event"] as? String == "log_issue" })

        // grep (and a bad one), level filter.
        let raw = try #require(await HTTP.get(base + "/api/logs/raw?run=\(runA)&grep=ECONNREFUSED%2010%5C.0%5C.0%5C.%5B34%5D"))
        #expect(raw.status == 200)
        let rawLines = String(decoding: raw.body, as: UTF8.self).split(separator: "\n")
        #expect(rawLines.count == 2, "\(rawLines)")
        let bad = try #require(await HTTP.get(base + "/api/logs/raw?grep=%28unclosed"))
        #expect(bad.status == 422)
        #expect((bad.json?["detail"] as? String)?.contains("(unclosed") == true)

        // The live tail sees a line ingested after it opened.
        let stream = try LoopbackStream(port: Int(URL(string: base)!.port!))
        defer { stream.close() }
        try stream.sendGET("/api/logs/tail?run=\(runB)&level=error")
        _ = try await stream.read(until: .now + .seconds(10)) { $0.contains(": nightshift log tail") }
        _ = try await Self.post(
            base + "/api/logs/ingest",
            #"{"logs":[{"message":"quiet line","level":"info"},{"message":"TypeError: x is not a function","level":"error"}]}"#)
        let tailed = try await stream.read(until: .now + .seconds(10)) { $0.contains("TypeError: x is not a function") }
        #expect(!tailed.contains("quiet line"), "the level filter holds on the tail")

        // A question through the fake model, then the same with the model down.
        let answer = try await Self.post(
            base + "/api/logs/qna", #"{"question":"why is the database refusing?","run":"\#(runA)"}"#)
        #expect(answer.status == 200)
        #expect(answer.json?["degraded"] as? Bool == false)
        #expect(answer.json?["tokens_used"] as? Int == 320)
        #expect((answer.json?["answer"] as? String)?.contains("connection_refused") == true, "the model saw the digest")
        #expect((answer.json?["fingerprints"] as? [String])?.contains(fingerprint) == true)
        #expect(llm.requests.count == 1)
        llm.stop()
        let down = try await Self.post(base + "/api/logs/qna", #"{"question":"why is the database refusing?","run":"\#(runA)"}"#)
        #expect(down.json?["degraded"] as? Bool == true)
        #expect(down.json?["reason"] as? String == "llm_error")
        #expect(down.json?["tokens_used"] as? Int == 0)
        #expect((down.json?["answer"] as? String)?.contains("connection_refused") == true)

        // Every line an agent prints is ingested as task:<id>, in the task's run.
        let created = try await Self.post(
            base + "/api/agent/tasks", #"{"task_type":"impl","direction":"panic: agent exploded at step 7"}"#)
        let taskID = try #require(created.json?["id"] as? String)
        var taskRun: String?
        #expect(
            await waitFor(timeout: 30) {
                let t = await HTTP.get(base + "/api/agent/tasks/\(taskID)")?.json
                taskRun = t?["run_id"] as? String
                return t?["status"] as? String == "completed"
            })
        let run = try #require(taskRun)
        #expect(
            await waitFor(timeout: 10) {
                let r = await HTTP.get(base + "/api/logs/raw?run=\(run)&source=task:\(taskID)")
                return r.map { String(decoding: $0.body, as: UTF8.self).contains("panic: agent exploded at step 7") } ?? false
            })
        let agentIssues = try #require(await HTTP.get(base + "/api/logs/issues?run=\(run)")?.json?["issues"] as? [[String: Any]])
        #expect(
            agentIssues.contains { $0["rule_id"] as? String == "panic" && ($0["sources"] as? [String]) == ["task:\(taskID)"] })

        daemon.signal(SIGTERM)
        #expect(await daemon.waitForExit() == 0)
    }
}
