import Foundation
import NightshiftCore
import NightshiftStore

/// What a structured agent's own events change in an attempt's outcome: the metered totals,
/// a budget stop that Claude's `--max-budget-usd` made, a usage-limit refusal (a pause, not a
/// failure), a missing result line, an error result. Plain executors get only the usage-limit
/// pattern on their tail.
enum StructuredOutcome {
    struct Refined: Sendable {
        var outcome: AttemptOutcome
        /// The account's limit was hit: pause the executor until `until`.
        var limit: UsageLimit?
        var until: Date?
    }

    /// `consecutiveLimits`: the executor's limits in a row before this one (the backoff's exponent).
    static func refine(
        _ outcome: AttemptOutcome, report: AttemptReport, meter: AgentMeter?, base: AgentSession.Base?,
        executor: NightshiftConfig.Executor, backoff: NightshiftConfig.Backoff, consecutiveLimits: Int, now: Date,
        retryDelay: Double, capUSD: Double?
    ) -> Refined {
        var o = outcome
        var reading: MeterReading?
        if let meter, let base {
            reading = MeterReading(
                costUSD: base.costUSD + meter.costUSD, costSource: meter.costSource.rawValue,
                tokensIn: base.tokensIn + meter.usage.allInput, tokensOut: base.tokensOut + meter.usage.output,
                tokensCacheRead: base.cacheRead + meter.usage.cacheRead,
                tokensCacheWrite: base.cacheWrite + meter.usage.cacheWrite,
                turns: base.turns + meter.turns, lastTool: meter.lastTool, lastEventAt: meter.lastEventAt,
                sessionID: meter.sessionID, model: meter.model)
            o.metering = reading
            if o.summary == nil, let text = meter.final?.text, meter.final?.isError == false {
                o.summary = String(text.prefix(2000))
            }
        }
        func paused(_ limit: UsageLimit) -> Refined {
            let wait = UsageLimit.backoff(base: backoff.base, max: backoff.max, consecutive: consecutiveLimits + 1)
            let until = max(limit.resetsAt ?? now.addingTimeInterval(wait), now.addingTimeInterval(1))
            var p = o
            p.kind = .paused(
                until: until, errorClass: .usageLimited,
                error: "usage limit: \(limit.evidence) (paused until \(Timestamp.format(until)))")
            return Refined(outcome: p, limit: limit, until: until)
        }
        if case .halted(.budget(_, let cap)) = report.end, let meter {
            o.kind = .needsDecision(
                prompt: BudgetDecision.prompt(spent: reading?.costUSD ?? meter.costUSD, cap: cap, source: meter.costSource))
            o.decisionClass = .budgetExceeded
        }
        if case .halted = report.end { return Refined(outcome: o, limit: nil, until: nil) }
        if case .stopped = report.end { return Refined(outcome: o, limit: nil, until: nil) }

        guard executor.format.isStructured, let meter else {
            // A plain executor: only its configured pattern says it hit a limit.
            if case .failed = o.kind, !executor.usageLimitPattern.isEmpty,
                let limit = UsageLimit.detect(tail: report.tail, pattern: executor.usageLimitPattern, now: now)
            {
                return paused(limit)
            }
            return Refined(outcome: o, limit: nil, until: nil)
        }
        if let final = meter.final, final.isError {
            if let limit = UsageLimit.detect(text: final.text ?? "", apiErrorStatus: final.apiErrorStatus, now: now) {
                return paused(limit)
            }
            if final.subtype == "error_max_budget_usd" {
                let spent = reading?.costUSD ?? meter.costUSD
                o.kind = .needsDecision(
                    prompt: BudgetDecision.prompt(spent: spent, cap: capUSD ?? spent, source: meter.costSource))
                o.decisionClass = .budgetExceeded
                return Refined(outcome: o, limit: nil, until: nil)
            }
            if case .completed = o.kind {
                o.kind = .failed(
                    errorClass: .agentError,
                    error: "agent result: \(final.subtype ?? "error")\(final.text.map { ": \(String($0.prefix(300)))" } ?? "")",
                    retryDelay: retryDelay)
            } else if case .failed(let cls, _, let delay) = o.kind, cls == .exitCode || cls == .agentError {
                o.kind = .failed(
                    errorClass: .agentError,
                    error: "agent result: \(final.subtype ?? "error")\(final.text.map { ": \(String($0.prefix(300)))" } ?? "")",
                    retryDelay: delay)
            }
            return Refined(outcome: o, limit: nil, until: nil)
        }
        if meter.final == nil, case .failed = o.kind,
            let limit = UsageLimit.detect(text: OutcomeClassifier.lastLines(report.tail), now: now)
        {
            return paused(limit)
        }
        if executor.format == .claudeStreamJSON, meter.final == nil, case .completed = o.kind {
            let said = OutcomeClassifier.lastLines(report.tail)
            o.kind = .failed(
                errorClass: .noResult, error: "the agent exited without its result line\(said.isEmpty ? "" : ": \(said)")",
                retryDelay: retryDelay)
        }
        return Refined(outcome: o, limit: nil, until: nil)
    }
}
