import Foundation
import NightshiftCore
import Testing

/// Structured agent output: the parsers over the fixtures, the meter and its reconciliation,
/// prices, usage limits, and the budget's arithmetic.
@Suite("Agents: streams, meter, limits, budget")
struct AgentStreamTests {
    static func lines(_ name: String) throws -> [String] {
        try PreflightTests.fixture(name).split(separator: "\n").map(String.init)
    }

    static let t0 = Date(timeIntervalSince1970: 1_764_600_000)

    @Test("Claude's stream-json: session, calls with their usage and tools, tool results, the result")
    func claudeStream() throws {
        let parser = AgentStreamParser(format: .claudeStreamJSON)
        let events = try Self.lines("claude-code-stream.jsonl").flatMap { parser.parse($0) }
        #expect(events.count == 7)
        #expect(events[0] == .session(id: "0b6f3c1e-5a2d-4e0b-9d51-2f8a7c4e1b90", model: "claude-sonnet-4-5"))
        #expect(
            events[1]
                == .call(
                    messageID: "msg_01A", model: "claude-sonnet-4-5",
                    usage: AgentUsage(input: 4210, output: 96, cacheRead: 0, cacheWrite: 5120), tools: ["Grep"]))
        #expect(events[2] == .progress(tool: nil))
        guard case .final(let f) = events[6] else {
            Issue.record("the last event is not the result")
            return
        }
        #expect(f.isError == false)
        #expect(f.subtype == "success")
        #expect(f.reportedCostUSD == 0.0419)
        #expect(f.numTurns == 3)
        #expect(f.usage == AgentUsage(input: 4662, output: 179, cacheRead: 18971, cacheWrite: 5120))
    }

    @Test("the meter sums the calls live, estimates from prices, and the result's total wins")
    func meterReconciles() throws {
        let parser = AgentStreamParser(format: .claudeStreamJSON)
        var meter = AgentMeter()
        let lines = try Self.lines("claude-code-stream.jsonl")
        for line in lines.dropLast() { for e in parser.parse(line) { meter.apply(e, at: Self.t0) } }
        #expect(meter.turns == 3)
        #expect(meter.usage == AgentUsage(input: 4662, output: 179, cacheRead: 18971, cacheWrite: 5120))
        #expect(meter.lastTool == "Bash")
        #expect(meter.costSource == .estimated)
        // 4662 × $3 + 179 × $15 + 18971 × $0.30 + 5120 × $3.75 per Mtok.
        #expect(abs(meter.costUSD - 0.0415623) < 1e-9)
        for e in parser.parse(lines.last!) { meter.apply(e, at: Self.t0) }
        #expect(meter.costUSD == 0.0419)
        #expect(meter.costSource == .reported)
        #expect(meter.sessionID == "0b6f3c1e-5a2d-4e0b-9d51-2f8a7c4e1b90")
    }

    @Test("one message split over several events is one turn, its usage counted once")
    func splitMessage() {
        var meter = AgentMeter(model: "claude-sonnet-4-5")
        let u = AgentUsage(input: 1000, output: 10)
        meter.apply(.call(messageID: "m1", model: nil, usage: u, tools: []), at: Self.t0)
        meter.apply(.call(messageID: "m1", model: nil, usage: AgentUsage(input: 1000, output: 20), tools: ["Edit"]), at: Self.t0)
        meter.apply(.call(messageID: "m2", model: nil, usage: u, tools: []), at: Self.t0)
        #expect(meter.turns == 2)
        #expect(meter.usage == AgentUsage(input: 2000, output: 30))
        #expect(meter.lastTool == "Edit")
    }

    @Test("Codex JSONL: thread, items as progress, turn usage with cached input apart; failures are results")
    func codex() throws {
        let parser = AgentStreamParser(format: .codexJSONL)
        let events = try Self.lines("codex-exec.jsonl").flatMap { parser.parse($0) }
        #expect(events.first == .session(id: "0199a213-81c0-7800-8aa1-bbab2a035a53", model: nil))
        #expect(events.contains(.progress(tool: "command_execution")))
        #expect(
            events.last
                == .call(messageID: nil, model: nil, usage: AgentUsage(input: 5366, output: 1210, cacheRead: 18944), tools: []))
        var meter = AgentMeter(model: "gpt-5-codex")
        for e in events { meter.apply(e, at: Self.t0) }
        #expect(meter.turns == 1)
        #expect(abs(meter.costUSD - (5366 * 1.25 + 1210 * 10 + 18944 * 0.125) / 1e6) < 1e-12)
        let failed = try Self.lines("codex-exec-failed.jsonl").flatMap { parser.parse($0) }
        guard case .final(let f) = failed.last else {
            Issue.record("turn.failed is not a result")
            return
        }
        #expect(f.isError)
        #expect(f.text == "You've hit your usage limit. Try again in 2 hours 14 minutes.")
    }

    @Test("tolerant: plain text, broken JSON, unknown types and fields are no events")
    func tolerant() {
        let parser = AgentStreamParser(format: .claudeStreamJSON)
        for line in [
            "", "plain text", "{not json", #"{"type":"stream_event","event":{}}"#, #"{"no_type":1}"#, "[1,2]",
            #"{"type":"system","subtype":"hook"}"#,
        ] {
            #expect(parser.parse(line).isEmpty, "\(line)")
        }
        #expect(AgentStreamParser(format: .plain).parse(#"{"type":"result"}"#).isEmpty)
        let extra = parser.parse(
            #"{"type":"assistant","future":{"x":1},"message":{"id":"a","usage":{"input_tokens":5,"new_kind":7}}}"#)
        #expect(extra == [.call(messageID: "a", model: nil, usage: AgentUsage(input: 5), tools: [])])
    }

    @Test("prices: exact names, the longest listed prefix, unknown models at 0 with a warning")
    func prices() {
        let table = PriceTable.builtIn
        #expect(table.price(of: "claude-sonnet-4-5-20250929") == table.models["claude-sonnet-4-5"])
        #expect(table.price(of: "claude-opus-4-5-20251101") == table.models["claude-opus-4-5"])
        #expect(table.price(of: "claude-opus-4-20250514") == table.models["claude-opus-4"])
        #expect(table.price(of: "gpt-5-codex") == table.models["gpt-5-codex"])
        #expect(table.price(of: "llama-3") == nil)
        var meter = AgentMeter(model: "llama-3")
        meter.apply(.call(messageID: "m", model: nil, usage: AgentUsage(input: 1_000_000), tools: []), at: Self.t0)
        #expect(meter.costUSD == 0)
        #expect(meter.unpricedModels == ["llama-3"])
    }

    @Test("usage limits: Claude's epoch, words with a time of day, 429, Codex's try again in")
    func usageLimits() throws {
        let now = Self.t0
        let utc = TimeZone(identifier: "UTC")!
        let epoch = UsageLimit.detect(text: "Claude AI usage limit reached|1764633600", now: now, timeZone: utc)
        #expect(epoch?.resetsAt == Date(timeIntervalSince1970: 1_764_633_600))
        let codex = UsageLimit.detect(text: "You've hit your usage limit. Try again in 2 hours 14 minutes.", now: now)
        #expect(codex?.resetsAt == now.addingTimeInterval(2 * 3600 + 14 * 60))
        // 2025-12-01T14:40:00Z; "resets 3pm" is 20 minutes later, "resets 9am" tomorrow.
        let words = UsageLimit.detect(text: "5-hour limit reached ∙ resets 3pm", now: now, timeZone: utc)
        #expect(words?.resetsAt == Date(timeIntervalSince1970: 1_764_601_200))
        let tomorrow = UsageLimit.detect(text: "Weekly limit reached · resets 9am (UTC)", now: now, timeZone: utc)
        #expect(tomorrow?.resetsAt == Date(timeIntervalSince1970: 1_764_666_000))
        let status = UsageLimit.detect(text: "API Error", apiErrorStatus: 429, now: now)
        #expect(status != nil && status?.resetsAt == nil)
        #expect(UsageLimit.detect(text: "Implemented the retry policy", now: now) == nil)
        let plain = UsageLimit.detect(tail: "working\nQUOTA: try again in 30s\n", pattern: "quota", now: now)
        #expect(plain?.resetsAt == now.addingTimeInterval(30))
        #expect(UsageLimit.detect(tail: "all good\n", pattern: "quota", now: now) == nil)
        #expect(UsageLimit.backoff(base: 300, max: 3600, consecutive: 1) == 300)
        #expect(UsageLimit.backoff(base: 300, max: 3600, consecutive: 3) == 1200)
        #expect(UsageLimit.backoff(base: 300, max: 3600, consecutive: 9) == 3600)
    }

    @Test("budget: admission counts spend and reservations; exhausted; continue raises the cap")
    func budget() {
        let caps = BudgetCaps(perTaskUSD: 1, perRunUSD: 5)
        #expect(
            BudgetAdmission.check(caps, BudgetState(runSpentUSD: 1, daySpentUSD: 0, runningReservedUSD: 2), reservation: 1)
                == .admit(2))
        guard
            case .hold(let why) = BudgetAdmission.check(
                caps, BudgetState(runSpentUSD: 3.5, daySpentUSD: 0, runningReservedUSD: 1), reservation: 1)
        else {
            Issue.record("no hold")
            return
        }
        #expect(why.contains("per_run_usd cap $5.00: spent $3.50 + reserved by running tasks $1.00 + this task's $1.00"))
        guard
            case .exhausted(let cap, _) = BudgetAdmission.check(
                BudgetCaps(perDayUSD: 2), BudgetState(runSpentUSD: 0, daySpentUSD: 2.01, runningReservedUSD: 0), reservation: 1)
        else {
            Issue.record("not exhausted")
            return
        }
        #expect(cap == "per_day_usd")
        #expect(
            BudgetAdmission.check(
                BudgetCaps(), BudgetState(runSpentUSD: 9, daySpentUSD: 9, runningReservedUSD: 9), reservation: 1)
                == .admit(Int.max))
        #expect(BudgetDecision.parse("continue +2.00", cap: 1, spent: 1.05, perTask: 1) == .raise(toUSD: 3.05))
        #expect(BudgetDecision.parse("Continue", cap: 1, spent: 1.05, perTask: 1) == .raise(toUSD: 2.05))
        #expect(BudgetDecision.parse("continue +1", cap: 1, spent: 0.9, perTask: nil) == .raise(toUSD: 2))
        for no in ["stop", "no", "continue -1", "continue +abc", "continue + 1 2", "", "continued"] {
            #expect(BudgetDecision.parse(no, cap: 1, spent: 1, perTask: 1) == .stop, "\(no)")
        }
        #expect(BudgetEnforcement.of(caps, formats: [.claudeStreamJSON, .codexJSONL], largestCallUSD: nil).mode == "enforced")
        #expect(BudgetEnforcement.of(caps, formats: [.plain, .claudeStreamJSON], largestCallUSD: nil).mode == "reported")
        #expect(BudgetEnforcement.of(BudgetCaps(), formats: [.plain], largestCallUSD: nil).mode == "none")
    }
}
