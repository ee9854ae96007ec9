import Foundation
import Logging
import NightshiftCore
import NightshiftRuntime
import NightshiftStore
import NightshiftTesting
import Testing

/// The token budget of log questions under concurrency (issue 13, point 6): each question
/// reserves its tokens in the store before the model is asked, so questions asked at once
/// never spend more than `logs.llm.max_tokens_per_run` between them.
@Suite("log questions: the token budget under concurrent questions")
struct LogQuestionsBudgetTests {
    @Test("six questions at once against a tight cap: the spend never passes it, the rest are degraded over_budget")
    func concurrentQuestions() async throws {
        let dir = try TemporaryDirectory(prefix: "nightshift-qna")
        // A model that always uses all the completion it is allowed, and reports it: every
        // question spends exactly what it reserved.
        let llm = try LoopbackHTTPServer { request in
            let messages = request.json?["messages"] as? [[String: Any]] ?? []
            let prompt = messages.reduce(0) { $0 + LogDigest.estimateTokens($1["content"] as? String ?? "") } + 8
            let completion = request.json?["max_tokens"] as? Int ?? 0
            return (
                200,
                #"{"choices":[{"index":0,"message":{"role":"assistant","content":"connection_refused dominates."}}],"usage":{"total_tokens":\#(prompt + completion)}}"#
            )
        }
        let store = try SQLiteTaskStore(path: dir.path("logs.sqlite"))
        var config = NightshiftConfig()
        config.logs.llm.baseURL = "http://127.0.0.1:\(llm.port)/v1"
        config.logs.llm.model = "fake"
        config.logs.llm.maxTokensPerRun = 1500
        let service = LogService(
            store: store, config: config.logs, notifier: nil, tap: nil, defaultRun: nil, logger: Logger(label: "test"))
        let run = try await service.clear(callbackURL: nil)
        var parsed = LogIngestParser.Parsed()
        parsed.lines = (1...5).map {
            IncomingLogLine(level: "error", source: "api", message: "Error: connect ECONNREFUSED 10.0.0.\($0):5432")
        }
        _ = try await service.ingest(parsed, run: run.id)
        let questions = LogQuestions(logs: service, config: config.logs.llm, environment: [:])

        let answers = try await withThrowingTaskGroup(of: LogAnswer.self) { group in
            for k in 0..<6 { group.addTask { try await questions.ask("why does the database refuse? (\(k))", run: run.id) } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        let spent = try #require(try await store.logRun(run.id)).tokensUsed
        #expect(spent <= 1500, "the run spent \(spent) tokens, over its cap of 1500")
        let answered = answers.filter { !$0.degraded }
        let refused = answers.filter { $0.degraded }
        #expect(!answered.isEmpty, "no question got a model answer")
        #expect(!refused.isEmpty, "every question fitted: the cap is not tight")
        #expect(refused.allSatisfy { $0.reason == "over_budget" && $0.tokensUsed == 0 }, "\(refused.map(\.reason))")
        #expect(answered.map(\.tokensUsed).reduce(0, +) == spent, "the run's spend is the sum of what the answers spent")
        #expect(answers.allSatisfy { $0.runTokenBudget == 1500 && $0.runTokensUsed <= 1500 })
        #expect(llm.requests.count == answered.count, "only the questions that fitted reached the model")
    }

    @Test("a reservation that does not fit changes nothing; settling replaces it with the real use")
    func reserveAndSettle() async throws {
        let dir = try TemporaryDirectory(prefix: "nightshift-qna")
        let store = try SQLiteTaskStore(path: dir.path("logs.sqlite"))
        let run = try await store.startLogRun(callbackURL: nil, now: Date())
        #expect(try await store.reserveLogTokens(runID: run.id, tokens: 600, budget: 1000) == 600)
        #expect(try await store.reserveLogTokens(runID: run.id, tokens: 500, budget: 1000) == nil)
        #expect(try await store.logRun(run.id)?.tokensUsed == 600)
        #expect(try await store.reserveLogTokens(runID: run.id, tokens: 400, budget: 1000) == 1000)
        #expect(try await store.settleLogTokens(runID: run.id, reserved: 600, used: 250) == 650)
        #expect(try await store.settleLogTokens(runID: run.id, reserved: 400, used: 0) == 250)
        #expect(try await store.reserveLogTokens(runID: "run_000000000000000000000", tokens: 1, budget: 10) == nil)
    }
}
