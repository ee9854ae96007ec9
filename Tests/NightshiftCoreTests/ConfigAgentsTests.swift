import NightshiftCore
import Testing

/// The config of real agents: executor `format`, `resume_command`, `max_turns`, `model`,
/// `usage_limit_pattern`; `runner.idle_timeout` and `usage_limit_backoff`; `budget`; `pricing`.
/// A bad value stops startup with the key's path and the reason.
@Suite("config: agents, budget, pricing")
struct ConfigAgentsTests {
    /// The error loading `yaml` throws (parse, then validate), or nil.
    func loadError(_ yaml: String) -> ConfigError? { ConfigContractsTests().loadError(yaml) }

    @Test("a structured executor, the runner's limits, the caps and extra prices are read")
    func parses() throws {
        let c = try ConfigLoader.parse(
            yaml: """
                runner:
                  idle_timeout: 2m
                  usage_limit_backoff: { base: 1m, max: 2h }
                  executors:
                    default:
                      command: "claude -p {direction} --session-id {session_id}"
                      format: claude-stream-json
                      resume_command: "claude -p {decision} --resume {session_id}"
                      max_turns: 50
                      model: claude-sonnet-4-5
                    plain:
                      command: "my-agent {direction}"
                      usage_limit_pattern: "(?i)quota exhausted"
                budget: { per_task_usd: 1.5, per_run_usd: 10, per_day_usd: 25, reserve_usd: 0.25 }
                pricing:
                  version: acme-2026
                  models:
                    acme-coder: { input: 1, output: 2 }
                    Claude-Sonnet-4-5: { input: 2, output: 10, cache_read: 0.2, cache_write: 2.5 }
                """)
        let e = try #require(c.runner.executors["default"])
        #expect(e.format == .claudeStreamJSON)
        #expect(e.resumeCommand == "claude -p {decision} --resume {session_id}")
        #expect(e.maxTurns == 50)
        #expect(e.model == "claude-sonnet-4-5")
        #expect(c.runner.executors["plain"]?.format == .plain)
        #expect(c.runner.executors["plain"]?.usageLimitPattern == "(?i)quota exhausted")
        #expect(c.runner.idleTimeout == 120)
        #expect(c.runner.usageLimitBackoff == .init(base: 60, max: 7200))
        #expect(c.budget == BudgetCaps(perTaskUSD: 1.5, perRunUSD: 10, perDayUSD: 25, reserveUSD: 0.25))
        #expect(c.pricing.version == "acme-2026")
        #expect(c.pricing.models["acme-coder"] == ModelPrice(input: 1, output: 2, cacheRead: 0, cacheWrite: 0))
        #expect(c.pricing.price(of: "claude-sonnet-4-5-20250929")?.input == 2)
        #expect(c.pricing.models["gpt-5"] == PriceTable.builtIn.models["gpt-5"], "the built-in entries stay")
    }

    @Test("the defaults: plain executors, no caps, the built-in prices, a 10-minute idle timeout")
    func defaults() {
        let c = NightshiftConfig()
        #expect(c.runner.executors["default"]?.format == .plain)
        #expect(c.budget.isEmpty)
        #expect(c.budget.reserveUSD == 0.5)
        #expect(c.pricing == .builtIn)
        #expect(c.runner.idleTimeout == 600)
    }

    @Test(
        "bad values name their key",
        arguments: [
            ("runner:\n  executors:\n    default: { command: x, format: json }\n", "runner.executors.default.format"),
            (
                "runner:\n  executors:\n    default: { command: x, resume_command: \"x --resume {session_id}\" }\n",
                "runner.executors.default.resume_command"
            ),
            ("runner:\n  executors:\n    default: { command: x, max_turns: -1 }\n", "runner.executors.default.max_turns"),
            (
                "runner:\n  executors:\n    default: { command: x, usage_limit_pattern: \"(\" }\n",
                "runner.executors.default.usage_limit_pattern"
            ),
            ("runner:\n  idle_timeout: 0s\n", "runner.idle_timeout"),
            ("runner:\n  usage_limit_backoff: { base: soon }\n", "runner.usage_limit_backoff.base"),
            ("budget: { per_task_usd: 0 }\n", "budget.per_task_usd"),
            ("budget: { per_run_usd: -3 }\n", "budget.per_run_usd"),
            ("budget: { per_week_usd: 3 }\n", "budget.per_week_usd"),
            ("pricing:\n  models:\n    m: { input: 1 }\n", "pricing.models.m"),
            ("pricing:\n  models:\n    m: { input: 1, output: 2, per_call: 3 }\n", "pricing.models.m.per_call"),
            ("pricing:\n  currency: EUR\n", "pricing.currency"),
        ])
    func badValues(_ yaml: String, _ path: String) {
        let error = loadError(yaml)
        #expect(error?.path == path, "\(String(describing: error))")
    }
}
