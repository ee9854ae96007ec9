import Foundation
import HTTPTypes
import HummingbirdTesting
import NightshiftCore
import Testing

@Suite("API: project manager and Telegram webhook routes")
struct ProjectManagerAndChatRouteTests {
    @Test("GET /api/agent/pm shows the project manager's status")
    func pmStatus() async throws {
        let h = try APIHarness()
        h.projectManager.withLock {
            $0 = .object(["enabled": .bool(true), "state": .string("window_closed"), "paused": .bool(false)])
        }
        try await h.test { client in
            let body = try await client.getJSON("/api/agent/pm")
            #expect(body["state"].string == "window_closed")
            #expect(body["enabled"].bool == true)
        }
    }

    @Test("pause and resume reach the project manager and answer with its status")
    func pauseResume() async throws {
        let h = try APIHarness(pausable: true)
        try await h.test { client in
            let paused = try await client.send(.post, "/api/agent/pm/pause")
            #expect(paused.status == .ok, "\(paused.text)")
            #expect(try paused.json()["state"].string == "paused")
            let resumed = try await client.send(.post, "/api/agent/pm/resume")
            #expect(try resumed.json()["paused"].bool == false)
        }
        #expect(h.pauses?.value == [true, false])
    }

    @Test("pause without a project manager is a 409 problem")
    func pauseDisabled() async throws {
        let h = try APIHarness()
        try await h.test { client in
            try expectProblem(try await client.send(.post, "/api/agent/pm/pause"), .conflict, type: "pm_disabled")
            try expectProblem(try await client.send(.post, "/api/agent/pm/resume"), .conflict, type: "pm_disabled")
        }
    }

    @Test("pause needs the bearer token when one is configured")
    func pauseNeedsToken() async throws {
        let h = try APIHarness(pausable: true) { $0.server.token = "s3cret" }
        try await h.test { client in
            try expectProblem(try await client.send(.post, "/api/agent/pm/pause"), .unauthorized)
            let ok = try await client.send(.post, "/api/agent/pm/pause", headers: [.authorization: "Bearer s3cret"])
            #expect(ok.status == .ok)
        }
        #expect(h.pauses?.value == [true])
    }

    static let secretHeader = HTTPField.Name("X-Telegram-Bot-Api-Secret-Token")!
    static func update(from user: Int, text: String) -> String {
        #"{"update_id":1,"message":{"message_id":2,"from":{"id":\#(user)},"chat":{"id":-100},"text":"\#(text)"}}"#
    }

    static func telegram(_ c: inout NightshiftConfig) {
        c.notify.telegram.secret = "tg-secret"
        c.notify.telegram.allowedUserIds = ["42"]
    }

    @Test("the Telegram webhook is a 404 problem while it is off")
    func telegramOff() async throws {
        let h = try APIHarness()
        try await h.test { client in
            let r = try await client.send(.post, "/api/agent/telegram/webhook", json: Self.update(from: 42, text: "/status"))
            try expectProblem(r, .notFound, type: "telegram_disabled")
        }
    }

    @Test("the Telegram webhook refuses a wrong secret and users not allowed, with problems")
    func telegramRefusals() async throws {
        let h = try APIHarness(configure: Self.telegram)
        try await h.test { client in
            let noSecret = try await client.send(
                .post, "/api/agent/telegram/webhook", json: Self.update(from: 42, text: "/status"))
            try expectProblem(noSecret, .forbidden, type: "bad_secret")
            let wrong = try await client.send(
                .post, "/api/agent/telegram/webhook", json: Self.update(from: 42, text: "/status"),
                headers: [Self.secretHeader: "nope"])
            try expectProblem(wrong, .forbidden, type: "bad_secret")
            let stranger = try await client.send(
                .post, "/api/agent/telegram/webhook", json: Self.update(from: 7, text: "/status"),
                headers: [Self.secretHeader: "tg-secret"])
            try expectProblem(stranger, .forbidden, type: "user_not_allowed")
            let garbage = try await client.send(
                .post, "/api/agent/telegram/webhook", json: "{", headers: [Self.secretHeader: "tg-secret"])
            try expectProblem(garbage, .badRequest)
        }
    }

    @Test("an allowed user's /reply decides a task through the webhook")
    func telegramReply() async throws {
        let h = try APIHarness(configure: Self.telegram)
        let t = try await h.needsDecision()
        try await h.test { client in
            let r = try await client.send(
                .post, "/api/agent/telegram/webhook", json: Self.update(from: 42, text: "/reply \(t.id) go ahead"),
                headers: [Self.secretHeader: "tg-secret"])
            #expect(r.status == .ok, "\(r.text)")
            let body = try r.json()
            #expect(body["method"].string == "sendMessage")
            #expect(body["chat_id"].int == -100)
        }
        let stored = try await h.store.get(t.id)
        #expect(stored.status == .pending)
        #expect(stored.decision == "go ahead")
    }

    @Test("with an API token configured, Telegram (which cannot send it) still reaches the webhook with its secret")
    func telegramWithToken() async throws {
        let h = try APIHarness {
            Self.telegram(&$0)
            $0.server.token = "s3cret"
        }
        try await h.test { client in
            let r = try await client.send(
                .post, "/api/agent/telegram/webhook", json: Self.update(from: 42, text: "/status"),
                headers: [Self.secretHeader: "tg-secret"])
            #expect(r.status == .ok, "\(r.text)")
            #expect(try r.json()["method"].string == "sendMessage")
        }
    }
}
