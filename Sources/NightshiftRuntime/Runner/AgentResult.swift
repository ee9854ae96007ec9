import Foundation
import NightshiftCore
import NightshiftStore

/// What an agent may write to `$NIGHTSHIFT_RESULT_FILE` (every key optional).
public struct AgentResult: Decodable, Sendable, Equatable {
    public var status: String?
    public var decisionPrompt: String?
    public var summary: String?
    public var verdict: String?
    public var feedback: String?
    public var costUSD: Double?
    public var tokensIn: Int?
    public var tokensOut: Int?

    enum CodingKeys: String, CodingKey {
        case status, summary, verdict, feedback
        case decisionPrompt = "decision_prompt"
        case costUSD = "cost_usd"
        case tokensIn = "tokens_in"
        case tokensOut = "tokens_out"
    }

    public init(
        status: String? = nil, decisionPrompt: String? = nil, summary: String? = nil, verdict: String? = nil,
        feedback: String? = nil, costUSD: Double? = nil, tokensIn: Int? = nil, tokensOut: Int? = nil
    ) {
        self.status = status
        self.decisionPrompt = decisionPrompt
        self.summary = summary
        self.verdict = verdict
        self.feedback = feedback
        self.costUSD = costUSD
        self.tokensIn = tokensIn
        self.tokensOut = tokensOut
    }

    /// Reads the result file; nil when absent, an error message when unreadable.
    public static func read(path: String) -> Result<AgentResult, ResultFileError>? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        if data.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) { return nil }
        do {
            return .success(try JSONDecoder().decode(AgentResult.self, from: data))
        } catch {
            return .failure(ResultFileError(message: "result file is not valid JSON of the agent protocol: \(error)"))
        }
    }
}

/// A result file that could not be read as the agent protocol.
public struct ResultFileError: Error, Equatable, Sendable {
    public var message: String
}

/// The result line of Claude Code's `--output-format json` (see shared/fixtures).
public struct ClaudeCodeResult: Decodable, Sendable, Equatable {
    public struct Usage: Decodable, Sendable, Equatable {
        public var inputTokens: Int?
        public var outputTokens: Int?
        public var cacheCreationInputTokens: Int?
        public var cacheReadInputTokens: Int?
        enum CodingKeys: String, CodingKey {
            case inputTokens = "input_tokens"
            case outputTokens = "output_tokens"
            case cacheCreationInputTokens = "cache_creation_input_tokens"
            case cacheReadInputTokens = "cache_read_input_tokens"
        }
    }
    public var type: String
    public var subtype: String?
    public var isError: Bool?
    public var result: String?
    public var totalCostUSD: Double?
    public var costUSD: Double?
    public var usage: Usage?

    enum CodingKeys: String, CodingKey {
        case type, subtype, result, usage
        case isError = "is_error"
        case totalCostUSD = "total_cost_usd"
        case costUSD = "cost_usd"
    }

    public static func parse(_ line: String) -> ClaudeCodeResult? {
        guard let r = try? JSONDecoder().decode(ClaudeCodeResult.self, from: Data(line.utf8)), r.type == "result" else {
            return nil
        }
        return r
    }

    public var cost: Double? { totalCostUSD ?? costUSD }
    public var tokensIn: Int? {
        guard let u = usage else { return nil }
        return (u.inputTokens ?? 0) + (u.cacheCreationInputTokens ?? 0) + (u.cacheReadInputTokens ?? 0)
    }
}
