import Foundation
import NightshiftCore
import NightshiftStore
import NightshiftTesting
import Testing

@testable import NightshiftRuntime

/// From what came out of an attempt to the outcome the store records (pure), and the result file.
@Suite("OutcomeClassifier and AgentResult")
struct OutcomeClassifierTests {
    static let limits = (timeout: 3600.0, stall: 900.0)

    func report(_ end: AttemptEnd, tail: String = "last words\n", claude: String? = nil) -> AttemptReport {
        AttemptReport(end: end, tail: tail, claudeResultLine: claude, outputBytes: tail.utf8.count, killedLeftovers: false)
    }

    func classify(
        _ end: AttemptEnd, result: Result<AgentResult, ResultFileError>? = nil, claude: String? = nil, delay: Double = 12.5
    ) -> AttemptOutcome? {
        OutcomeClassifier.classify(report: report(end, claude: claude), result: result, retryDelay: delay, limits: Self.limits)
    }

    @Test("exit 0 without a result file: completed with exit code and tail")
    func completed() throws {
        let o = try #require(classify(.exited(0)))
        #expect(o.kind == .completed)
        #expect(o.exitCode == 0)
        #expect(o.outputTail == "last words\n")
        #expect(o.summary == nil && o.costUSD == nil && o.tokensIn == nil)
    }

    @Test("a non-zero exit fails with exit_code and the retry delay")
    func nonZero() throws {
        let o = try #require(classify(.exited(3), result: .success(AgentResult(status: "needs_decision"))))
        #expect(o.kind == .failed(errorClass: "exit_code", error: "agent exited with code 3: last words", retryDelay: 12.5))
        #expect(o.exitCode == 3)
    }

    @Test("the error carries the agent's last two non-empty lines, cut to 400 characters")
    func lastLines() {
        #expect(OutcomeClassifier.lastLines("one\n\ntwo\nError: no such file\n\n") == "two | Error: no such file")
        #expect(OutcomeClassifier.lastLines("") == "")
        let long = OutcomeClassifier.lastLines(String(repeating: "x", count: 1000))
        #expect(long.count == 400 && long.hasPrefix("…"))
    }

    @Test("needs_decision asks with the trimmed prompt, or a default one")
    func needsDecision() throws {
        let asked = try #require(
            classify(.exited(0), result: .success(AgentResult(status: "needs_decision", decisionPrompt: "  Ship it?\n"))))
        #expect(asked.kind == .needsDecision(prompt: "Ship it?"))
        let blank = try #require(
            classify(.exited(0), result: .success(AgentResult(status: "needs_decision", decisionPrompt: "  "))))
        #expect(blank.kind == .needsDecision(prompt: "The agent asked for a decision."))
    }

    @Test("verdict fail fails the review for good (retryDelay nil); pass completes; other verdicts are dropped")
    func verdicts() throws {
        let fail = try #require(classify(.exited(0), result: .success(AgentResult(verdict: "fail", feedback: "no tests"))))
        #expect(fail.kind == .failed(errorClass: "review_failed", error: "no tests", retryDelay: nil))
        #expect(fail.verdict == "fail")
        #expect(fail.feedback == "no tests")
        let pass = try #require(classify(.exited(0), result: .success(AgentResult(verdict: "pass"))))
        #expect(pass.kind == .completed)
        #expect(pass.verdict == "pass")
        let odd = try #require(classify(.exited(0), result: .success(AgentResult(verdict: "maybe"))))
        #expect(odd.kind == .completed)
        #expect(odd.verdict == nil)
    }

    @Test("a result file that is not the protocol's JSON fails with bad_result")
    func badResult() throws {
        let o = try #require(classify(.exited(0), result: .failure(ResultFileError(message: "not JSON"))))
        #expect(o.kind == .failed(errorClass: "bad_result", error: "not JSON", retryDelay: 12.5))
    }

    @Test("status failed in the result file fails with agent_reported")
    func agentReported() throws {
        let o = try #require(classify(.exited(0), result: .success(AgentResult(status: "failed", summary: "gave up"))))
        #expect(o.kind == .failed(errorClass: "agent_reported", error: "gave up", retryDelay: 12.5))
    }

    @Test("a Claude Code result with is_error fails with agent_error; its cost and tokens are kept")
    func claudeError() throws {
        let line =
            #"{"type":"result","subtype":"error_max_turns","is_error":true,"total_cost_usd":0.5,"usage":{"input_tokens":10,"output_tokens":3}}"#
        let o = try #require(classify(.exited(0), claude: line))
        #expect(o.kind == .failed(errorClass: "agent_error", error: "agent result: error_max_turns", retryDelay: 12.5))
        #expect(o.costUSD == 0.5)
        #expect(o.tokensIn == 10)
        #expect(o.tokensOut == 3)
    }

    @Test("cost, tokens and summary come from the Claude line, and the result file wins over it")
    func accounting() throws {
        let fromClaude = try #require(classify(.exited(0), claude: claudeFixtureLine))
        #expect(fromClaude.kind == .completed)
        #expect(fromClaude.costUSD == 0.1873)
        #expect(fromClaude.tokensIn == 64314)
        #expect(fromClaude.tokensOut == 2311)
        #expect(fromClaude.summary == "Implemented the retry policy and added three tests.")
        let both = try #require(
            classify(
                .exited(0), result: .success(AgentResult(summary: "mine", costUSD: 0.01, tokensIn: 5, tokensOut: 6)),
                claude: claudeFixtureLine))
        #expect(both.summary == "mine")
        #expect(both.costUSD == 0.01)
        #expect(both.tokensIn == 5)
        #expect(both.tokensOut == 6)
    }

    @Test("timeout, stall, signal and spawn failure each have their error class and retry")
    func failureClasses() throws {
        let cases: [(AttemptEnd, String)] = [
            (.timedOut, "timeout"), (.stalled, "stalled"), (.signaled(9), "signal"), (.spawnFailed("no sh"), "spawn_failed"),
        ]
        for (end, errorClass) in cases {
            let o = try #require(classify(end))
            guard case .failed(let cls, let error, let delay) = o.kind else {
                Issue.record("\(end) did not fail")
                continue
            }
            #expect(cls.rawValue == errorClass)
            #expect(!error.isEmpty)
            #expect(delay == 12.5)
            #expect(o.exitCode == nil)
            #expect(o.outputTail == "last words\n")
        }
        guard case .failed(_, let timeoutError, _) = try #require(classify(.timedOut)).kind else { return }
        #expect(timeoutError.contains("1h"))
    }

    @Test("a stopped attempt records nothing: the store already says what happened")
    func stopped() {
        #expect(classify(.stopped("cancelled")) == nil)
        #expect(classify(.stopped("lease lost"), result: .success(AgentResult(status: "needs_decision"))) == nil)
    }

    // MARK: AgentResult.read

    @Test("AgentResult.read: absent or blank is nil, valid JSON decodes, unknown keys are ignored")
    func readValid() throws {
        let tmp = try TemporaryDirectory()
        #expect(AgentResult.read(path: tmp.path("absent.json")) == nil)
        #expect(AgentResult.read(path: try tmp.write(" \n\t\n", to: "blank.json")) == nil)
        let path = try tmp.write(
            #"{"status":"needs_decision","decision_prompt":"Which?","summary":"s","verdict":"pass","feedback":"f","cost_usd":0.12,"tokens_in":1000,"tokens_out":200,"extra":{"x":1}}"#,
            to: "ok.json")
        let read = try #require(AgentResult.read(path: path))
        #expect(
            try read.get()
                == AgentResult(
                    status: "needs_decision", decisionPrompt: "Which?", summary: "s", verdict: "pass", feedback: "f",
                    costUSD: 0.12,
                    tokensIn: 1000, tokensOut: 200))
        #expect(try AgentResult.read(path: try tmp.write("{}", to: "empty.json"))?.get() == AgentResult())
    }

    @Test(
        "AgentResult.read: broken JSON, a non-object or a wrong type is an error",
        arguments: [
            "{not json", "[1, 2]", #"{"cost_usd": "a lot"}"#, #"{"tokens_in": 1.5}"#, "\"just a string\"",
        ])
    func readInvalid(_ text: String) throws {
        let tmp = try TemporaryDirectory()
        let read = try #require(AgentResult.read(path: try tmp.write(text, to: "bad.json")))
        guard case .failure(let error) = read else {
            Issue.record("\(text) was accepted")
            return
        }
        #expect(error.message.contains("not valid JSON"))
    }
}
