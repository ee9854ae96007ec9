import Foundation
import NightshiftTesting
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// The monitor through the real binary: a daemon with a 200 ms check interval and an agent that
/// fails until told otherwise raises one stable issue that resolves when successes return; the
/// Telegram webhook (secret header, allow-listed users, the chat commands); `nightshift fatal`.
@Suite("monitor end to end", .serialized, .timeLimit(.minutes(5)))
struct MonitorEndToEndTests {
    /// Fails (exit 3) until `$MON_SHARED/ok` exists; "[decide]" tasks ask for a decision until they have one.
    static let agent = """
        case "$1" in *"[decide]"*)
          if [ -z "$NIGHTSHIFT_DECISION" ]; then
            printf '{"status":"needs_decision","decision_prompt":"ship it?"}' > "$NIGHTSHIFT_RESULT_FILE"; exit 0
          fi
          echo "decided: $NIGHTSHIFT_DECISION"; exit 0;;
        esac
        [ -f "$MON_SHARED/ok" ] && { echo fine; exit 0; }
        echo "failing on purpose"; exit 3
        """

    struct Setup {
        let dir: TemporaryDirectory
        let config: String
        let state: String
        let shared: String
        var ok: String { shared + "/ok" }
    }

    static func setup(extra: String = "", executors: String = "") throws -> Setup {
        let dir = try TemporaryDirectory(prefix: "nightshift-monitor-e2e")
        let shared = dir.path("shared")
        try FileManager.default.createDirectory(atPath: shared, withIntermediateDirectories: true)
        let agent = try dir.write("#!/bin/sh\n" + Self.agent + "\n", to: "agent.sh")
        let config = try dir.write(
            """
            runner:
              max_attempts: 1
              kill_grace: 300ms
              executors:
                default: { command: "/bin/sh \(agent) {direction}", env: { MON_SHARED: "\(shared)" } }
            \(executors)
            project_manager:
              backlog: ""
            monitor:
              interval: 200ms
              thresholds: { repeated_failures: 3, disk_min_free: 0 }
            \(extra)
            """, to: "nightshift.yaml")
        return Setup(dir: dir, config: config, state: dir.path("state"), shared: shared)
    }

    static func createTask(_ url: String, _ direction: String) async throws -> String {
        let body = String(
            data: try JSONSerialization.data(withJSONObject: ["direction": direction, "task_type": "impl"]), encoding: .utf8)!
        let reply = try #require(await HTTP.send("POST", url + "/api/agent/tasks", json: body))
        #expect(reply.status == 201)
        return try #require(reply.json?["id"] as? String)
    }

    static func status(_ url: String, _ id: String) async -> String? {
        await HTTP.get(url + "/api/agent/tasks/" + id)?.json?["status"] as? String
    }

    static func issues(_ url: String, includeResolved: Bool = false) async -> [[String: Any]]? {
        await HTTP.get(url + "/api/agent/monitor-issues?include_resolved=\(includeResolved)")?.json?["issues"] as? [[String: Any]]
    }

    // MARK: Issue lifecycle

    @Test(
        "failures raise one issue whose id is stable across checks; it resolves once successes return; `nightshift issues` shows it"
    )
    func stableIssue() async throws {
        let s = try Self.setup()
        let daemon = try DaemonProcess(stateDir: s.state, arguments: ["--config", s.config])
        #expect(await daemon.waitUntilReady(), "\(daemon.stderr)")
        let url = daemon.url

        var failed: [String] = []
        for i in 0..<3 { failed.append(try await Self.createTask(url, "doomed \(i)")) }
        for id in failed { #expect(await waitFor { await Self.status(url, id) == "failed" }, "task \(id) failed") }

        var issueID = ""
        #expect(
            await waitFor { (await Self.issues(url))?.contains { $0["condition"] as? String == "repeated_failures" } == true })
        let first = try #require(await Self.issues(url))
        #expect(first.map { $0["condition"] as? String } == ["repeated_failures"], "only the failures are a problem: \(first)")
        let issue = try #require(first.first)
        issueID = try #require(issue["id"] as? String)
        #expect(issue["severity"] as? String == "high")
        #expect(issue["resolved_at"] is NSNull)
        let firstCount = issue["count"] as? Int ?? 0

        // Several checks later it is the same issue, seen more often.
        #expect(
            await waitFor {
                guard let now = await Self.issues(url), now.count == 1, let c = now.first?["count"] as? Int else { return false }
                return c >= firstCount + 3
            })
        let later = try #require(await Self.issues(url))
        #expect(later.map { $0["id"] as? String } == [issueID])
        #expect(later.first?["first_seen"] as? String == issue["first_seen"] as? String)

        let listed = try NightshiftBinary.run(["issues", "--url", url])
        #expect(listed.status == 0)
        #expect(
            listed.out.contains(issueID) && listed.out.contains("repeated_failures") && listed.out.contains("open ×"),
            "\(listed.out)")
        let asJSON = try NightshiftBinary.run(["issues", "--json", "--url", url])
        #expect(asJSON.out.contains(issueID))

        // Pipeline status and the report show it as needing attention.
        let status = try #require(await HTTP.get(url + "/api/agent/pipeline-status")?.json)
        #expect(
            await waitFor {
                ((await HTTP.get(url + "/api/agent/pipeline-status"))?.json?["attention"] as? [String])?.isEmpty == false
            })
        #expect((status["components"] as? [String: Any])?["monitor"] != nil)
        #expect(
            await waitFor {
                (try? String(contentsOfFile: s.state + "/pipeline_status_report.txt", encoding: .utf8))?.contains(
                    "repeated_failures") == true
            })

        // Successes return: the issue resolves, with one resolutions line.
        _ = FileManager.default.createFile(atPath: s.ok, contents: nil)
        let good = try await Self.createTask(url, "fine now")
        #expect(await waitFor { await Self.status(url, good) == "completed" })
        #expect(await waitFor { (await Self.issues(url))?.isEmpty == true })
        let all = try #require(await Self.issues(url, includeResolved: true))
        #expect(all.map { $0["id"] as? String } == [issueID])
        #expect(all.first?["resolved_at"] is String)
        let resolutions = try String(contentsOfFile: s.state + "/monitor_resolutions.jsonl", encoding: .utf8)
            .split(separator: "\n")
        #expect(resolutions.count == 1)
        #expect(resolutions.first?.contains(issueID) == true)

        let none = try NightshiftBinary.run(["issues", "--url", url])
        #expect(none.status == 0)
        #expect(none.out.contains("no open monitor issues"), "\(none.out)")
        let history = try NightshiftBinary.run(["issues", "--all", "--url", url])
        #expect(history.status == 0)
        #expect(history.out.contains(issueID) && history.out.contains("resolved "), "\(history.out)")

        let effectiveness = try #require(await HTTP.get(url + "/api/agent/effectiveness")?.json)
        #expect((effectiveness["issues"] as? [String: Any])?["resolved_7d"] as? Int == 1)
        #expect(effectiveness["goal_proximity"] is Double || effectiveness["goal_proximity"] is Int)

        daemon.signal(SIGTERM)
        #expect(await daemon.waitForExit() == 0)
    }

    // MARK: Telegram webhook

    struct WebReply {
        var status: Int
        var contentType: String
        var json: [String: Any]
        var text: String { json["text"] as? String ?? "" }
    }

    static func telegram(
        _ url: String, _ text: String, from user: Int = 111, secret: String? = "tg-secret"
    ) async throws -> WebReply {
        let update: [String: Any] = [
            "update_id": 1,
            "message": [
                "message_id": 7, "from": ["id": user, "is_bot": false], "chat": ["id": user, "type": "private"], "text": text,
            ],
        ]
        var request = URLRequest(url: URL(string: url + "/api/agent/telegram/webhook")!, timeoutInterval: 10)
        request.httpMethod = "POST"
        request.httpBody = try JSONSerialization.data(withJSONObject: update)
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        if let secret { request.setValue(secret, forHTTPHeaderField: "X-Telegram-Bot-Api-Secret-Token") }
        let (data, response) = try await URLSession.shared.data(for: request)
        let http = try #require(response as? HTTPURLResponse)
        return WebReply(
            status: http.statusCode, contentType: http.value(forHTTPHeaderField: "Content-Type") ?? "",
            json: (try? JSONSerialization.jsonObject(with: data) as? [String: Any]) ?? [:])
    }

    @Test(
        "the Telegram webhook: secret header and allow-list enforced; /reply unblocks a task; /status, /tasks, /task, /attention, help"
    )
    func telegramWebhook() async throws {
        let s = try Self.setup(
            extra: """
                notify:
                  telegram: { secret: "tg-secret", allowed_user_ids: ["111"] }
                """)
        _ = FileManager.default.createFile(atPath: s.ok, contents: nil)
        let daemon = try DaemonProcess(stateDir: s.state, arguments: ["--config", s.config])
        #expect(await daemon.waitUntilReady(), "\(daemon.stderr)")
        let url = daemon.url

        let id = try await Self.createTask(url, "release [decide]")
        #expect(await waitFor { await Self.status(url, id) == "needs_decision" })

        // Without the secret: refused, nothing changes.
        let noSecret = try await Self.telegram(url, "/reply \(id) yes", secret: nil)
        #expect(noSecret.status == 403)
        #expect(noSecret.contentType.hasPrefix("application/problem+json"), "\(noSecret.contentType)")
        #expect(noSecret.json["status"] as? Int == 403)
        let wrongSecret = try await Self.telegram(url, "/reply \(id) yes", secret: "guess")
        #expect(wrongSecret.status == 403)
        // A user not on the allow-list: refused too.
        let stranger = try await Self.telegram(url, "/reply \(id) yes", from: 999)
        #expect(stranger.status == 403)
        #expect(stranger.contentType.hasPrefix("application/problem+json"))
        #expect(await Self.status(url, id) == "needs_decision", "nothing changed")
        let task = try #require(await HTTP.get(url + "/api/agent/tasks/" + id)?.json)
        #expect(task["decision"] is NSNull || task["decision"] == nil)

        let statusReply = try await Self.telegram(url, "/status")
        #expect(statusReply.status == 200)
        #expect(statusReply.json["method"] as? String == "sendMessage")
        #expect(statusReply.json["chat_id"] as? Int == 111)
        #expect(statusReply.text.contains("needs_decision 1"), "\(statusReply.text)")
        #expect(statusReply.text.contains(id) && statusReply.text.contains("ship it?"))

        let waiting = try await Self.telegram(url, "/tasks needs_decision")
        #expect(waiting.text.contains(id), "\(waiting.text)")
        #expect(waiting.text.contains("(1 of 1)"))
        let badStatus = try await Self.telegram(url, "/tasks sleeping")
        #expect(badStatus.text.hasPrefix("unknown status sleeping"))

        let one = try await Self.telegram(url, "/task \(id)")
        #expect(one.text.hasPrefix("\(id) impl needs_decision"), "\(one.text)")
        #expect(one.text.contains("Question: ship it?") && one.text.contains("/reply \(id) <decision>"))

        var attention = ""
        #expect(
            await waitFor {
                attention = (try? await Self.telegram(url, "/attention").text) ?? ""
                return attention.contains("waiting for a decision")
            }, "\(attention)")
        #expect(attention.hasPrefix("Needs attention:"))

        let help = try await Self.telegram(url, "hello bot")
        #expect(help.status == 200)
        #expect(help.text.hasPrefix("Nightshift commands:"))
        #expect(try await Self.telegram(url, "/frobnicate").text.hasPrefix("Nightshift commands:"))

        let reply = try await Self.telegram(url, "/reply \(id) yes")
        #expect(reply.status == 200)
        #expect(reply.text.hasPrefix("Decision recorded for \(id): yes"), "\(reply.text)")
        #expect(await waitFor { await Self.status(url, id) == "completed" })
        let done = try #require(await HTTP.get(url + "/api/agent/tasks/" + id)?.json)
        #expect(done["decision"] as? String == "yes")
        let log = try #require(await HTTP.get(url + "/api/agent/tasks/\(id)/log"))
        #expect(String(decoding: log.body, as: UTF8.self).contains("decided: yes"))

        // The same gate as PATCH: a second answer is refused and changes nothing.
        let again = try await Self.telegram(url, "/reply \(id) no")
        #expect(again.status == 200)
        #expect(again.text.hasPrefix("Refused: "), "\(again.text)")
        #expect((try #require(await HTTP.get(url + "/api/agent/tasks/" + id)?.json))["decision"] as? String == "yes")
        #expect(try await Self.telegram(url, "/task task_0123456789abcdef").text.hasPrefix("Refused: "))
        // The attention list is the last check's: the next check clears it.
        #expect(await waitFor { (try? await Self.telegram(url, "/attention").text) == "Nothing needs attention." })

        daemon.signal(SIGTERM)
        #expect(await daemon.waitForExit() == 0)
    }

    @Test("the Telegram webhook is off (404) when no secret is configured")
    func telegramOff() async throws {
        let s = try Self.setup()
        let daemon = try DaemonProcess(stateDir: s.state, arguments: ["--config", s.config])
        #expect(await daemon.waitUntilReady(), "\(daemon.stderr)")
        let r = try await Self.telegram(daemon.url, "/status")
        #expect(r.status == 404)
        daemon.signal(SIGTERM)
        #expect(await daemon.waitForExit() == 0)
    }

    // MARK: Fatal issues

    @Test("`nightshift fatal` prints fatal issues and exits 1; --clear empties the file, then it exits 0")
    func fatalCommand() async throws {
        let s = try Self.setup(executors: "    ghost: { command: \"/nonexistent/agent-cli {direction}\" }")
        let daemon = try DaemonProcess(stateDir: s.state, arguments: ["--config", s.config])
        #expect(await daemon.waitUntilReady(), "\(daemon.stderr)")
        #expect(await waitFor { ((await HTTP.get(daemon.url + "/api/agent/fatal-issues"))?.json?["count"] as? Int ?? 0) > 0 })
        let api = try #require(await HTTP.get(daemon.url + "/api/agent/fatal-issues")?.json?["issues"] as? [[String: Any]])
        #expect(api.map { $0["condition"] as? String } == ["executor_missing"])
        let open = try #require(await Self.issues(daemon.url))
        #expect(
            open.contains { $0["condition"] as? String == "executor_missing" && $0["subject"] as? String == "executor:ghost" })
        daemon.signal(SIGTERM)
        #expect(await daemon.waitForExit() == 0)

        let shown = try NightshiftBinary.run(["fatal", "--state-dir", s.state])
        #expect(shown.status == 1)
        #expect(shown.out.contains("executor_missing") && shown.out.contains("ghost"), "\(shown.out)")
        let json = try NightshiftBinary.run(["fatal", "--json", "--state-dir", s.state])
        #expect(json.out.contains("\"executor_missing\""))
        let cleared = try NightshiftBinary.run(["fatal", "--clear", "--state-dir", s.state])
        #expect(cleared.status == 0)
        #expect(cleared.out.hasPrefix("cleared 1 fatal issue(s)"), "\(cleared.out)")
        let after = try NightshiftBinary.run(["fatal", "--state-dir", s.state])
        #expect(after.status == 0)
        #expect(after.out.hasPrefix("no fatal issues"))
    }
}
