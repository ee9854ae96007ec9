import Foundation
import NightshiftCore
import Testing

/// The monitor's rules for real agents: a spent cap alerts, a usage-limit pause is shown (and
/// resolves by itself), and neither is mistaken for a stuck pipeline.
@Suite("MonitorRules: budget and usage limits")
struct MonitorAgentRulesTests {
    static let now = MonitorRulesTests.now

    @Test("budget_exhausted: high (it alerts), with the reason; nothing without a spent cap")
    func budgetExhausted() {
        let s = MonitorRulesTests.snapshot { $0.budgetExhausted = "per_run_usd cap of $5.00 is spent ($5.02 so far)" }
        let f = MonitorRules.budget(s)
        #expect(f.count == 1)
        #expect(f.first?.condition == .budgetExhausted)
        #expect(f.first?.severity == .high)
        #expect(f.first?.message == "per_run_usd cap of $5.00 is spent ($5.02 so far)")
        #expect(MonitorRules.budget(MonitorRulesTests.snapshot()).isEmpty)
        #expect(MonitorRules.evaluate(s, MonitorRulesTests.t).contains { $0.condition == .budgetExhausted })
    }

    @Test("executor_paused: one medium finding per paused executor, saying until when")
    func paused() {
        let s = MonitorRulesTests.snapshot {
            $0.pausedExecutors = [
                "codex": "codex: paused until 03:00 (usage limit)", "claude": "claude: paused until 02:30 (usage limit)",
            ]
        }
        let f = MonitorRules.usageLimits(s)
        #expect(f.map(\.subject) == ["executor:claude", "executor:codex"])
        #expect(f.allSatisfy { $0.condition == .executorPaused && $0.severity == .medium })
        #expect(f.first?.message == "claude: paused until 02:30 (usage limit)")
    }

    @Test("work waiting on a cap or a pause is not no_progress")
    func notStuck() {
        let waiting: (inout MonitorSnapshot) -> Void = { $0.oldestRunnableSince = Self.now.addingTimeInterval(-3600) }
        #expect(!MonitorRules.noProgress(MonitorRulesTests.snapshot(waiting), MonitorRulesTests.t).isEmpty)
        for hold in [
            { (s: inout MonitorSnapshot) in s.budgetWaiting = "per_run_usd cap $5.00: …" },
            { (s: inout MonitorSnapshot) in s.budgetExhausted = "spent" },
            { (s: inout MonitorSnapshot) in s.pausedExecutors = ["claude": "claude: paused until 03:00 (usage limit)"] },
        ] {
            let s = MonitorRulesTests.snapshot {
                waiting(&$0)
                hold(&$0)
            }
            #expect(MonitorRules.noProgress(s, MonitorRulesTests.t).isEmpty)
        }
    }
}
