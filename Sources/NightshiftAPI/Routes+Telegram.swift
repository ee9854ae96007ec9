import Foundation
import HTTPTypes
import Hummingbird
import NightshiftCore
import NightshiftRuntime

/// `POST /api/agent/telegram/webhook`: Telegram updates, accepted only with the configured
/// secret-token header and from allow-listed users. The reply goes back in the response body
/// (Telegram's webhook reply form), so it needs no outgoing call.
struct TelegramRoutes {
    let env: ServiceEnvironment
    let commands: ChatCommands
    static let secretHeader = "X-Telegram-Bot-Api-Secret-Token"

    func register(_ r: RouteRecorder) {
        r.on(.post, "/api/agent/telegram/webhook") { request, _ in try await webhook(request) }
    }

    func webhook(_ request: Request) async throws -> Response {
        let tg = env.config.notify.telegram
        guard !tg.secret.isEmpty else {
            throw Problem(
                .notFound, type: "telegram_disabled", title: "Not found",
                detail: "the Telegram webhook is off (notify.telegram.secret is empty)")
        }
        let given = request.headers[HTTPField.Name(Self.secretHeader)!] ?? ""
        guard constantTimeEquals(given, tg.secret) else {
            throw Problem(
                .forbidden, type: "bad_secret", title: "Forbidden", detail: "missing or wrong \(Self.secretHeader) header")
        }
        let body = try await RequestBody.object(request, limit: 256 * 1024)
        guard let message = (body["message"] ?? body["edited_message"])?.objectValue,
            let text = message["text"]?.stringValue,
            let chat = message["chat"]?.objectValue?["id"], let from = message["from"]?.objectValue?["id"]
        else {
            // Updates without a text message (joins, edits of media, ...) are acknowledged and ignored.
            return try JSONResponse.make(JSONValue.object(["ok": .bool(true)]))
        }
        let user = Self.idString(from)
        guard tg.allowedUserIds.contains(user) else {
            env.logs.logger("api").warning("telegram message from user \(user), who is not in notify.telegram.allowed_user_ids")
            throw Problem(.forbidden, type: "user_not_allowed", title: "Forbidden", detail: "user \(user) is not allowed")
        }
        let reply = await commands.handle(text, from: "telegram:\(user)")
        return try JSONResponse.make(
            JSONValue.object(["method": .string("sendMessage"), "chat_id": chat, "text": .string(reply)]))
    }

    static func idString(_ v: JSONValue) -> String {
        switch v {
        case .number(let n): return n.rounded() == n ? String(Int64(n)) : "\(n)"
        case .string(let s): return s
        default: return ""
        }
    }
}
