import Foundation
import NightshiftCore
import NightshiftStore

/// Turns what came out of an attempt into the outcome the store records (pure).
public enum OutcomeClassifier {
    /// The last non-empty line(s) the agent printed (its output and errors share one stream, in
    /// order), so a failed task says why in its `error`, not only its exit code.
    public static func lastLines(_ tail: String, count: Int = 2, limit: Int = 400) -> String {
        let lines = tail.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            .filter { !$0.hasPrefix("[nightshift]") }
        let text = lines.suffix(count).joined(separator: " | ")
        return text.count > limit ? "…" + String(text.suffix(limit - 1)) : text
    }

    public static func classify(
        report: AttemptReport, result: Result<AgentResult, ResultFileError>?, retryDelay: Double,
        limits: (timeout: Double, stall: Double)
    ) -> AttemptOutcome? {
        let claude = report.claudeResultLine.flatMap(ClaudeCodeResult.parse)
        var file: AgentResult?
        var fileError: String?
        switch result {
        case .success(let r): file = r
        case .failure(let e): fileError = e.message
        case nil: break
        }
        let summary = file?.summary ?? claude?.result.map { String($0.prefix(2000)) }
        var outcome = AttemptOutcome(
            .completed, exitCode: nil, outputTail: report.tail, summary: summary,
            verdict: file?.verdict.flatMap { ["pass", "fail"].contains($0) ? $0 : nil },
            feedback: file?.feedback, costUSD: file?.costUSD ?? claude?.cost, tokensIn: file?.tokensIn ?? claude?.tokensIn,
            tokensOut: file?.tokensOut ?? claude?.usage?.outputTokens)
        switch report.end {
        case .exited(let code):
            outcome.exitCode = code
            if code != 0 {
                let said = lastLines(report.tail)
                outcome.kind = .failed(
                    errorClass: .exitCode, error: "agent exited with code \(code)\(said.isEmpty ? "" : ": \(said)")",
                    retryDelay: retryDelay)
            } else if let fileError {
                outcome.kind = .failed(errorClass: .badResult, error: fileError, retryDelay: retryDelay)
            } else if file?.status == "needs_decision" {
                let prompt = file?.decisionPrompt?.trimmingCharacters(in: .whitespacesAndNewlines)
                outcome.kind = .needsDecision(prompt: (prompt?.isEmpty ?? true) ? "The agent asked for a decision." : prompt!)
            } else if file?.status == "failed" {
                outcome.kind = .failed(
                    errorClass: .agentReported, error: file?.summary ?? "the agent reported failure", retryDelay: retryDelay)
            } else if claude?.isError == true {
                outcome.kind = .failed(
                    errorClass: .agentError, error: "agent result: \(claude?.subtype ?? "error")", retryDelay: retryDelay)
            } else if outcome.verdict == "fail" {
                outcome.kind = .failed(errorClass: .reviewFailed, error: file?.feedback ?? "the review failed", retryDelay: nil)
            }
        case .signaled(let sig):
            outcome.kind = .failed(errorClass: .signal, error: "agent was killed by signal \(sig)", retryDelay: retryDelay)
        case .timedOut:
            outcome.kind = .failed(
                errorClass: .timeout, error: "attempt exceeded task_timeout (\(ConfigValues.formatDuration(limits.timeout)))",
                retryDelay: retryDelay)
        case .stalled:
            outcome.kind = .failed(
                errorClass: .stalled, error: "no output for stall_timeout (\(ConfigValues.formatDuration(limits.stall)))",
                retryDelay: retryDelay)
        case .spawnFailed(let why):
            outcome.kind = .failed(errorClass: .spawnFailed, error: "could not start the agent: \(why)", retryDelay: retryDelay)
        case .halted(.budget(let spent, let cap)):
            outcome.kind = .needsDecision(prompt: BudgetDecision.prompt(spent: spent, cap: cap, source: .estimated))
            outcome.decisionClass = .budgetExceeded
        case .halted(.idle(let seconds)):
            outcome.kind = .failed(
                errorClass: .idle,
                error:
                    "no agent event (message or tool call) for idle_timeout (\(ConfigValues.formatDuration(seconds))); stopped",
                retryDelay: retryDelay)
        case .halted(.maxTurns(let turns)):
            outcome.kind = .failed(
                errorClass: .maxTurns, error: "the agent took \(turns) turns, past the executor's max_turns; stopped",
                retryDelay: nil)
        case .stopped:
            return nil  // cancelled, lease lost or shutdown: the store already says what happened
        }
        return outcome
    }
}
