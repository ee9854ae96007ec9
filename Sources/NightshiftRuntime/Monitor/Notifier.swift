import Crypto
import Foundation
import Logging
import NightshiftCore
import ServiceLifecycle

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Something a human should hear about.
public struct Alert: Codable, Sendable, Equatable {
    /// `issue_opened`, `issue_resolved`, `needs_decision`.
    public var event: String
    public var at: Date
    /// One human line, also the Telegram message.
    public var text: String
    public var issue: MonitorIssue?
    public var taskID: String?
    /// A log fingerprint that reached its count (`log_issue`).
    public var logIssue: LogIssue?

    enum CodingKeys: String, CodingKey {
        case event, at, text, issue
        case taskID = "task_id"
        case logIssue = "log_issue"
    }

    public init(
        event: String, at: Date, text: String, issue: MonitorIssue? = nil, taskID: String? = nil, logIssue: LogIssue? = nil
    ) {
        self.event = event
        self.at = at
        self.text = text
        self.issue = issue
        self.taskID = taskID
        self.logIssue = logIssue
    }
}

/// Delivers alerts to webhooks (JSON POST with an HMAC-SHA256 signature header, retried with
/// backoff) and Telegram (`sendMessage`). `send` never blocks: alerts queue up and this service
/// delivers them; a failure is logged and never holds up the monitor.
public final class Notifier: Service, Sendable {
    public static let signatureHeader = "X-Nightshift-Signature"

    let config: NightshiftConfig.Notify
    let logger: Logger
    /// An alert and the URLs it goes to besides `webhooks` (a log run's callback).
    struct Delivery: Sendable {
        var alert: Alert
        var extraURLs: [String]
    }
    let queue: AsyncStream<Delivery>
    let continuation: AsyncStream<Delivery>.Continuation
    /// Retry delays of one delivery.
    let backoff: [Double]

    public init(config: NightshiftConfig.Notify, logger: Logger, backoff: [Double] = [0.5, 2, 8]) {
        self.config = config
        self.logger = logger
        self.backoff = backoff
        (queue, continuation) = AsyncStream.makeStream(of: Delivery.self, bufferingPolicy: .bufferingNewest(1000))
    }

    public var isConfigured: Bool {
        !config.webhooks.isEmpty || (!config.telegram.token.isEmpty && !config.telegram.chatIds.isEmpty)
    }

    public func send(_ alert: Alert) {
        guard isConfigured else { return }
        continuation.yield(Delivery(alert: alert, extraURLs: []))
    }

    /// Sends to the configured destinations and to `urls` too (signed the same way).
    public func send(_ alert: Alert, alsoTo urls: [String]) {
        guard isConfigured || !urls.isEmpty else { return }
        continuation.yield(Delivery(alert: alert, extraURLs: urls))
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                for await delivery in self.queue {
                    group.addTask { await self.deliver(delivery.alert, extraURLs: delivery.extraURLs) }
                }
            }
        }
    }

    /// `sha256=<hex>` of the body under the webhook secret.
    public static func signature(body: Data, secret: String) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: Data(secret.utf8)))
        return "sha256=" + mac.map { String(format: "%02x", $0) }.joined()
    }

    func deliver(_ alert: Alert, extraURLs: [String] = []) async {
        let body = (try? JSONEncoder.nightshift().encode(alert)) ?? Data()
        for url in config.webhooks + extraURLs.filter({ !config.webhooks.contains($0) }) {
            var headers = ["Content-Type": "application/json"]
            if !config.webhookSecret.isEmpty {
                headers[Self.signatureHeader] = Self.signature(body: body, secret: config.webhookSecret)
            }
            await post(url, body: body, headers: headers, what: "webhook")
        }
        let tg = config.telegram
        if !tg.token.isEmpty {
            let base = tg.apiBase.isEmpty ? "https://api.telegram.org" : tg.apiBase
            for chat in tg.chatIds {
                let message = (try? JSONSerialization.data(withJSONObject: ["chat_id": chat, "text": alert.text])) ?? Data()
                await post(
                    "\(base)/bot\(tg.token)/sendMessage", body: message, headers: ["Content-Type": "application/json"],
                    what: "telegram")
            }
        }
    }

    func post(_ url: String, body: Data, headers: [String: String], what: String) async {
        guard let u = URL(string: url) else {
            logger.error("\(what) alert not sent: bad URL")
            return
        }
        for (attempt, delay) in ([0] + backoff).enumerated() {
            if delay > 0 { try? await Task.sleep(for: .milliseconds(Int64(delay * 1000))) }
            var r = URLRequest(url: u, timeoutInterval: 10)
            r.httpMethod = "POST"
            r.httpBody = body
            for (k, v) in headers { r.setValue(v, forHTTPHeaderField: k) }
            do {
                let (_, response) = try await URLSession.shared.data(for: r)
                let status = (response as? HTTPURLResponse)?.statusCode ?? 0
                if (200..<300).contains(status) { return }
                logger.warning("\(what) alert attempt \(attempt + 1) got HTTP \(status)")
            } catch {
                logger.warning("\(what) alert attempt \(attempt + 1) failed: \(error.localizedDescription)")
            }
        }
        logger.error("\(what) alert dropped after \(backoff.count + 1) attempts")
    }
}
