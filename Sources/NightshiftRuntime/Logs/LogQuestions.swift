import Foundation
import NightshiftCore
import NightshiftStore
import Synchronization

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The answer to a question about a run's logs.
public struct LogAnswer: Codable, Sendable, Equatable {
    public var runID: String
    public var answer: String
    /// True when the answer is extractive (no model), with `reason` saying why.
    public var degraded: Bool
    /// `llm_off`, `llm_error`, `breaker_open`, `over_budget`.
    public var reason: String?
    /// Tokens this question spent (0 when degraded).
    public var tokensUsed: Int
    /// Tokens the run has spent in all, and its budget.
    public var runTokensUsed: Int
    public var runTokenBudget: Int
    public var fingerprints: [String]
    public var model: String?

    enum CodingKeys: String, CodingKey {
        case answer, degraded, reason, fingerprints, model
        case runID = "run_id"
        case tokensUsed = "tokens_used"
        case runTokensUsed = "run_tokens_used"
        case runTokenBudget = "run_token_budget"
    }
}

/// A circuit breaker: `failures` in a row open it for `cooldown` seconds; then one request is
/// let through, and its success closes it.
public final class CircuitBreaker: Sendable {
    let failures: Int
    let cooldown: Double
    private let state = Mutex<(inARow: Int, openUntil: Date?)>((0, nil))

    public init(failures: Int, cooldown: Double) {
        self.failures = failures
        self.cooldown = cooldown
    }

    public func isOpen(now: Date) -> Bool {
        state.withLock { s in
            guard let until = s.openUntil else { return false }
            if now >= until {
                s.openUntil = nil
                s.inARow = failures - 1  // half-open: one more failure opens it again
                return false
            }
            return true
        }
    }

    public func record(success: Bool, now: Date) {
        state.withLock { s in
            if success {
                s = (0, nil)
            } else {
                s.inARow += 1
                if s.inARow >= failures { s.openUntil = now.addingTimeInterval(cooldown) }
            }
        }
    }
}

/// Answers questions about a run's logs through an OpenAI-compatible chat-completions endpoint
/// (`logs.llm`), within a per-run token budget and behind a circuit breaker; when the model is
/// off, failing, open-circuited or over budget, an extractive answer with `degraded: true`.
public final class LogQuestions: Sendable {
    let logs: LogService
    let config: NightshiftConfig.LogLLM
    let apiKey: String?
    public let breaker: CircuitBreaker
    let now: @Sendable () -> Date
    /// Completion tokens asked for at most.
    static let maxCompletion = 400
    static let system =
        "You are a log analyst for an overnight pipeline of coding agents. Answer the question from the digest only: name the fingerprints you rely on, say what failed, where, and what to check next. Be brief."

    public init(
        logs: LogService, config: NightshiftConfig.LogLLM,
        environment: [String: String] = ProcessInfo.processInfo.environment, now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.logs = logs
        self.config = config
        self.apiKey = config.apiKeyEnv.isEmpty ? nil : environment[config.apiKeyEnv].flatMap { $0.isEmpty ? nil : $0 }
        self.breaker = CircuitBreaker(failures: config.breakerFailures, cooldown: config.breakerCooldown)
        self.now = now
    }

    public func ask(_ question: String, run: String?) async throws -> LogAnswer {
        let q = question.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !q.isEmpty, question.unicodeScalars.count <= 2000 else {
            throw LogError(.invalid, field: "question", "must be 1 to 2000 characters")
        }
        let r = try await logs.resolveForReading(run)
        let issues = try await logs.store.logIssues(runID: r.id, limit: LogDigest.topIssues * 5)
        let failures = try await logs.raw(
            runID: r.id, filter: LogService.Filter(levels: LogLevels.atLeast("error")), limit: 40)
        let digest = LogDigest.build(runID: r.id, issues: issues, failures: failures)
        func degraded(_ reason: String, used: Int) -> LogAnswer {
            let (text, fps) = LogDigest.extractiveAnswer(question: q, issues: issues, runID: r.id)
            return LogAnswer(
                runID: r.id, answer: text, degraded: true, reason: reason, tokensUsed: 0, runTokensUsed: used,
                runTokenBudget: config.maxTokensPerRun, fingerprints: fps, model: nil)
        }
        guard !config.baseURL.isEmpty, !config.model.isEmpty else { return degraded("llm_off", used: r.tokensUsed) }
        if breaker.isOpen(now: now()) { return degraded("breaker_open", used: r.tokensUsed) }
        let user = "Question: \(q)\n\nDigest:\n\(digest.text)"
        let promptTokens = LogDigest.estimateTokens(Self.system) + LogDigest.estimateTokens(user) + 8
        // The prompt and the most the completion may take are reserved in the store before the
        // model is asked, in one statement that fails when they would pass the cap: questions
        // asked at the same time can never spend more than the budget between them.
        var spend = r.tokensUsed
        var reservation: (tokens: Int, completion: Int)?
        for _ in 0..<3 {
            let completion = min(Self.maxCompletion, config.maxTokensPerRun - spend - promptTokens)
            guard completion >= 32 else { return degraded("over_budget", used: spend) }
            if try await logs.store.reserveLogTokens(
                runID: r.id, tokens: promptTokens + completion, budget: config.maxTokensPerRun) != nil
            {
                reservation = (promptTokens + completion, completion)
                break
            }
            // Another question reserved first: look at what is left and try a smaller one.
            spend = try await logs.store.logRun(r.id)?.tokensUsed ?? config.maxTokensPerRun
        }
        guard let reservation else { return degraded("over_budget", used: spend) }
        do {
            let (text, usage) = try await complete(user: user, maxTokens: reservation.completion)
            breaker.record(success: true, now: now())
            let spent = usage ?? (promptTokens + LogDigest.estimateTokens(text))
            let total = try await logs.store.settleLogTokens(runID: r.id, reserved: reservation.tokens, used: spent)
            return LogAnswer(
                runID: r.id, answer: text, degraded: false, reason: nil, tokensUsed: spent, runTokensUsed: total,
                runTokenBudget: config.maxTokensPerRun, fingerprints: digest.fingerprints, model: config.model)
        } catch {
            breaker.record(success: false, now: now())
            let total = (try? await logs.store.settleLogTokens(runID: r.id, reserved: reservation.tokens, used: 0)) ?? spend
            return degraded("llm_error", used: total)
        }
    }

    struct CompletionFailure: Error { var reason: String }

    /// One chat-completions request; the text and the server's `usage.total_tokens`.
    func complete(user: String, maxTokens: Int) async throws -> (String, Int?) {
        var base = config.baseURL
        while base.hasSuffix("/") { base.removeLast() }
        guard let url = URL(string: base + "/chat/completions") else { throw CompletionFailure(reason: "bad base_url") }
        var request = URLRequest(url: url, timeoutInterval: config.timeout)
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        if let apiKey { request.setValue("Bearer \(apiKey)", forHTTPHeaderField: "Authorization") }
        let body: [String: Any] = [
            "model": config.model, "max_tokens": maxTokens, "temperature": 0,
            "messages": [["role": "system", "content": Self.system], ["role": "user", "content": user]],
        ]
        request.httpBody = try JSONSerialization.data(withJSONObject: body)
        let (data, response) = try await URLSession.shared.data(for: request)
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        guard (200..<300).contains(status) else { throw CompletionFailure(reason: "HTTP \(status)") }
        guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any],
            let choices = object["choices"] as? [[String: Any]],
            let message = choices.first?["message"] as? [String: Any], let content = message["content"] as? String
        else { throw CompletionFailure(reason: "no choices[0].message.content") }
        let usage = (object["usage"] as? [String: Any])?["total_tokens"] as? Int
        return (content, usage)
    }
}
