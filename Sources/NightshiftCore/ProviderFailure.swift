/// Why an agent's provider refused a request, told from what the agent printed: the four
/// answers an operator acts on differently (seed 004's playbook for 401, 429 and 529). The
/// preflight names them in its fix lines; the runner and the usage-limit pause read the same
/// classification.
public enum ProviderFailure: String, Codable, Sendable, CaseIterable {
    /// 401/403, an invalid or expired key, a CLI that is not logged in.
    case authentication
    /// 429: too many requests right now.
    case rateLimit = "rate_limit"
    /// The account's usage limit is reached (Claude Code's "usage limit reached|<epoch>",
    /// Codex's "You've hit your usage limit"); it resets by itself later.
    case usageLimit = "usage_limit"
    /// 529 / "overloaded": the provider is unavailable.
    case overloaded

    /// The failure `output` shows, if any. Authentication wins over the others: a 401 means the
    /// request never counted against a limit.
    public static func classify(_ output: String) -> ProviderFailure? {
        let text = output.lowercased()
        let auth = [
            "401", "403", "unauthorized", "forbidden", "authentication_error", "authentication failed", "invalid api key",
            "invalid x-api-key", "invalid_api_key", "not logged in", "please run /login", "please log in",
            "oauth token has expired",
            "token has expired", "permission_error", "credit balance is too low",
        ]
        if auth.contains(where: { mentions(text, $0) }) { return .authentication }
        if ["usage limit", "limit reached", "5-hour limit", "weekly limit"].contains(where: { text.contains($0) }) {
            return .usageLimit
        }
        if ["429", "rate limit", "rate_limit", "too many requests"].contains(where: { mentions(text, $0) }) { return .rateLimit }
        if ["529", "overloaded", "503 service unavailable"].contains(where: { mentions(text, $0) }) { return .overloaded }
        return nil
    }

    /// What to do about it, one line, for the executor named.
    public func fix(executor: String) -> String {
        switch self {
        case .authentication:
            return
                "authentication failed (401/403): log the agent CLI in (e.g. `claude /login`, `codex login`) or set a valid API key in the environment or runner.executors.\(executor).env"
        case .rateLimit:
            return
                "rate limited (429): the key works but is throttled; wait a minute and run `nightshift doctor` again, or lower runner.workers"
        case .usageLimit:
            return
                "the account's usage limit is reached: wait until it resets (the agent's output says when) or use another account"
        case .overloaded:
            return "the provider is overloaded (529): retry in 5–10 minutes; check its status page"
        }
    }

    /// Whether `needle` occurs in `text`; a number counts only where it stands alone (not in
    /// "14290" or a timestamp).
    static func mentions(_ text: String, _ needle: String) -> Bool {
        guard needle.allSatisfy(\.isNumber) else { return text.contains(needle) }
        var rest = text[...]
        while let r = rest.range(of: needle) {
            let before = r.lowerBound == text.startIndex ? nil : text[text.index(before: r.lowerBound)]
            let after = r.upperBound == text.endIndex ? nil : text[r.upperBound]
            if !(before?.isNumber ?? false) && !(after?.isNumber ?? false) { return true }
            rest = text[r.upperBound...]
        }
        return false
    }
}
