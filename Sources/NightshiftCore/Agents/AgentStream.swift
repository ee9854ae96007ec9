import Foundation

/// What an executor prints (`runner.executors.<name>.format`): plain text, or the structured
/// event streams of Claude Code (`--output-format stream-json --verbose`) and Codex
/// (`exec --json`), which Nightshift meters while the agent runs.
public enum AgentFormat: String, Sendable, CaseIterable, Equatable {
    case plain
    case claudeStreamJSON = "claude-stream-json"
    case codexJSONL = "codex-jsonl"

    /// Whether the output is an event stream the runner meters live.
    public var isStructured: Bool { self != .plain }
}

/// Tokens of one model call or one turn, by kind. `input` excludes cache reads and writes
/// (Claude's convention; Codex's `input_tokens` includes its cached ones, which the parser
/// subtracts), so each kind is priced once.
public struct AgentUsage: Sendable, Equatable {
    public var input = 0
    public var output = 0
    public var cacheRead = 0
    public var cacheWrite = 0
    public init(input: Int = 0, output: Int = 0, cacheRead: Int = 0, cacheWrite: Int = 0) {
        self.input = input
        self.output = output
        self.cacheRead = cacheRead
        self.cacheWrite = cacheWrite
    }

    public static func + (a: AgentUsage, b: AgentUsage) -> AgentUsage {
        AgentUsage(
            input: a.input + b.input, output: a.output + b.output, cacheRead: a.cacheRead + b.cacheRead,
            cacheWrite: a.cacheWrite + b.cacheWrite)
    }

    /// Every input token, cached or not (the task's `tokens_in`).
    public var allInput: Int { input + cacheRead + cacheWrite }
}

/// The final line of a structured run: what the agent itself reported.
public struct AgentFinal: Sendable, Equatable {
    public var isError = false
    /// Claude's `subtype` (`success`, `error_max_turns`, `error_max_budget_usd`, ...); `failed` for Codex's `turn.failed`.
    public var subtype: String?
    /// The answer, or the error message.
    public var text: String?
    public var sessionID: String?
    /// `total_cost_usd` (or the older `cost_usd`): wins over the estimate.
    public var reportedCostUSD: Double?
    /// The run's total usage, when the agent reports it.
    public var usage: AgentUsage?
    public var numTurns: Int?
    /// `api_error_status` (429 = the account's usage limit).
    public var apiErrorStatus: Int?
    public init() {}
}

/// One thing a structured agent said, from one line of its output. Unknown events are none.
public enum AgentEvent: Sendable, Equatable {
    /// The session started: Claude's `system/init`, Codex's `thread.started`.
    case session(id: String, model: String?)
    /// A model call: Claude's `assistant` message (the usage of that one call), or Codex's
    /// `turn.completed` (the usage of that turn). `messageID` lets a message split over several
    /// events count as one turn.
    case call(messageID: String?, model: String?, usage: AgentUsage?, tools: [String])
    /// Progress without usage: a tool result, a Codex item.
    case progress(tool: String?)
    /// The run ended (Claude's `result`, Codex's `turn.failed` / `error`).
    case final(AgentFinal)
}

/// Parses a structured agent's output line by line, tolerantly: a line that is not JSON, an
/// unknown event type and unknown fields are ignored (the line is still kept in the task log as
/// plain output).
public struct AgentStreamParser: Sendable {
    public let format: AgentFormat
    public init(format: AgentFormat) { self.format = format }

    /// The events of one line (without its newline).
    public func parse(_ line: UnsafeBufferPointer<UInt8>) -> [AgentEvent] {
        guard format.isStructured else { return [] }
        // Cheap refusal of plain lines: JSON events start with `{` after optional blanks.
        var i = 0
        while i < line.count, line[i] == 0x20 || line[i] == 0x09 || line[i] == 0x0D { i += 1 }
        guard i < line.count, line[i] == UInt8(ascii: "{"), let value = JSONValue.parse(bytes: line),
            let object = value.objectValue, let type = object["type"]?.stringValue
        else { return [] }
        switch format {
        case .claudeStreamJSON: return Self.claude(type, object)
        case .codexJSONL: return Self.codex(type, object)
        case .plain: return []
        }
    }

    public func parse(_ line: String) -> [AgentEvent] {
        var line = line
        return line.withUTF8 { parse($0) }
    }

    static func int(_ v: JSONValue?) -> Int? { v?.doubleValue.map { Int(exactly: $0.rounded()) ?? 0 } }

    static func claudeUsage(_ v: JSONValue?) -> AgentUsage? {
        guard let u = v?.objectValue else { return nil }
        return AgentUsage(
            input: int(u["input_tokens"]) ?? 0, output: int(u["output_tokens"]) ?? 0,
            cacheRead: int(u["cache_read_input_tokens"]) ?? 0, cacheWrite: int(u["cache_creation_input_tokens"]) ?? 0)
    }

    static func claude(_ type: String, _ o: [String: JSONValue]) -> [AgentEvent] {
        switch type {
        case "system":
            guard o["subtype"]?.stringValue == "init", let id = o["session_id"]?.stringValue else { return [] }
            return [.session(id: id, model: o["model"]?.stringValue)]
        case "assistant":
            let m = o["message"]?.objectValue ?? [:]
            let tools = (m["content"]?.arrayValue ?? []).compactMap { block -> String? in
                guard let b = block.objectValue, b["type"]?.stringValue == "tool_use" else { return nil }
                return b["name"]?.stringValue
            }
            return [
                .call(
                    messageID: m["id"]?.stringValue, model: m["model"]?.stringValue, usage: claudeUsage(m["usage"]),
                    tools: tools)
            ]
        case "user":
            return [.progress(tool: nil)]
        case "result":
            var f = AgentFinal()
            f.isError = o["is_error"].map { if case .bool(true) = $0 { return true } else { return false } } ?? false
            f.subtype = o["subtype"]?.stringValue
            f.text = o["result"]?.stringValue ?? (o["errors"]?.arrayValue?.compactMap(\.stringValue).first)
            f.sessionID = o["session_id"]?.stringValue
            f.reportedCostUSD = o["total_cost_usd"]?.doubleValue ?? o["cost_usd"]?.doubleValue
            f.usage = claudeUsage(o["usage"])
            f.numTurns = int(o["num_turns"])
            f.apiErrorStatus = int(o["api_error_status"])
            return [.final(f)]
        default:
            return []
        }
    }

    static func codex(_ type: String, _ o: [String: JSONValue]) -> [AgentEvent] {
        switch type {
        case "thread.started":
            guard let id = o["thread_id"]?.stringValue else { return [] }
            return [.session(id: id, model: o["model"]?.stringValue)]
        case "turn.completed":
            let u = o["usage"]?.objectValue ?? [:]
            let input = int(u["input_tokens"]) ?? 0
            let cached = int(u["cached_input_tokens"]) ?? 0
            let usage = AgentUsage(input: max(0, input - cached), output: int(u["output_tokens"]) ?? 0, cacheRead: cached)
            return [.call(messageID: nil, model: o["model"]?.stringValue, usage: usage, tools: [])]
        case "item.started", "item.completed", "item.updated":
            let item = o["item"]?.objectValue ?? [:]
            let kind = item["type"]?.stringValue
            let tool: String? = kind == "agent_message" || kind == "reasoning" ? nil : kind
            return [.progress(tool: tool)]
        case "turn.failed", "error":
            var f = AgentFinal()
            f.isError = true
            f.subtype = "failed"
            f.text = o["error"]?.objectValue?["message"]?.stringValue ?? o["message"]?.stringValue
            return [.final(f)]
        default:
            return []
        }
    }
}

extension JSONValue {
    /// `parse` over raw UTF-8 bytes (an agent's output line, before it becomes a String).
    public static func parse(bytes: UnsafeBufferPointer<UInt8>) -> JSONValue? {
        var p = JSONParser(bytes: bytes)
        guard let v = p.value(depth: 0) else { return nil }
        p.skipSpace()
        return p.i == bytes.count ? v : nil
    }
}
