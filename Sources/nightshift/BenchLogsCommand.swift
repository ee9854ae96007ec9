import ArgumentParser
import Foundation
import Hummingbird
import Logging
import NightshiftCore
import NightshiftRuntime
import NightshiftStore

/// `nightshift bench logs`: issue 13's figures: ingest lines/s and p95 of 200-line batches,
/// fingerprint cost per line, `logs ask` round trip against a local fake OpenAI-compatible
/// server, tokens per question, and fingerprint stability on a mixed sample.
struct LogsBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logs", abstract: "Log ingest, fingerprinting and question figures (in process, a real SQLite file).")
    @Option(help: "Batches of --batch lines to ingest.") var batches = 200
    @Option(help: "Lines per batch.") var batch = 200
    @Option(help: "Questions timed.") var questions = 20
    @Option(help: "Directory for the temporary database.") var dir = FileManager.default.temporaryDirectory.path

    /// A mixed sample: each template with varying parts; the index says which template.
    static func sample(_ i: Int) -> (template: Int, line: String, level: String) {
        let n = i &* 2_654_435_761 % 1_000_003
        let t = i % 10
        let ip = "10.\(n % 250).\((n / 7) % 250).\((n / 13) % 250)"
        switch t {
        case 0: return (t, "Error: connect ECONNREFUSED \(ip):\(5000 + n % 1000)", "error")
        case 1:
            return (
                t,
                "request \(UUID(uuidString: "3f2b1c9a-1d2e-4f5a-9b8c-\(String(format: "%012x", n))")!.uuidString.lowercased()) timed out after \(n % 900)ms",
                "warning"
            )
        case 2: return (t, "TypeError: Cannot read properties of undefined (reading '\(["id", "name", "user"][n % 3])')", "error")
        case 3: return (t, "query failed: deadlock detected on table jobs row \(n)", "error")
        case 4: return (t, "GET https://api.example.com/v1/items/\(n) answered HTTP 50\(n % 4)", "error")
        case 5: return (t, "panic: runtime error: index out of range [\(n % 64)] with length \(n % 8)", "critical")
        case 6:
            return (
                t, "cache miss for /var/cache/app/\(n % 97)/blob.bin at 2026-12-01T22:\(String(format: "%02d", n % 60)):00Z",
                "error"
            )
        default: return (t, "served GET /health 200 in \(n % 20)ms", "info")
        }
    }

    func run() async throws {
        try await runReporting {
            guard batches > 0, batch > 0 else { throw CLIFailure(message: "--batches and --batch must be positive", code: 2) }
            let root = (dir as NSString).appendingPathComponent("nightshift-bench-logs-\(getpid())")
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: root) }
            let store = try SQLiteTaskStore(path: (root as NSString).appendingPathComponent("bench.sqlite"))
            var config = NightshiftConfig()

            // Fingerprint cost per line, and stability on the mixed sample.
            let rules = LogRuleSet()
            let lines = (0..<20_000).map(Self.sample)
            let clock = ContinuousClock()
            var fps: [Int: Set<String>] = [:]
            let cost = clock.measure {
                for l in lines {
                    if let c = rules.classify(message: l.line, level: l.level) {
                        fps[l.template, default: []].insert(c.fingerprint)
                    }
                }
            }
            let stable = fps.values.filter { $0.count == 1 }.count
            let distinct = Set(fps.values.flatMap { $0 }).count
            print(
                "fingerprint: \(String(format: "%.2f", cost.seconds * 1e6 / Double(lines.count))) µs/line over \(lines.count) lines; stability: \(stable)/\(fps.count) templates with one fingerprint each, \(distinct) fingerprints in all"
            )

            // Ingest: batches of `batch` lines through the service (classify + one transaction).
            let service = LogService(
                store: store, config: config.logs, notifier: nil, tap: nil, defaultRun: nil, logger: Logger(label: "bench"))
            let run = try await service.clear(callbackURL: nil)
            var latencies: [Double] = []
            let total = try await clock.measure {
                for b in 0..<batches {
                    var parsed = LogIngestParser.Parsed()
                    parsed.lines = (0..<batch).map { k in
                        let s = Self.sample(b * batch + k)
                        return IncomingLogLine(level: s.level, source: "bench", message: s.line)
                    }
                    let start = clock.now
                    _ = try await service.ingest(parsed, run: run.id)
                    latencies.append((clock.now - start).seconds)
                }
            }
            latencies.sort()
            let p95 = latencies[min(latencies.count - 1, Int(Double(latencies.count) * 0.95))]
            print(
                "ingest: \(Int(Double(batches * batch) / total.seconds)) lines/s; \(batch)-line batch p50 \(String(format: "%.2f", latencies[latencies.count / 2] * 1000)) ms p95 \(String(format: "%.2f", p95 * 1000)) ms"
            )

            // Questions against a fake OpenAI-compatible server on loopback (no usage in its reply,
            // so tokens are counted from the prompt as the budget counts them).
            let router = Router()
            router.post("/v1/chat/completions") { _, _ in
                Response(
                    status: .ok, headers: [.contentType: "application/json"],
                    body: .init(
                        byteBuffer: ByteBuffer(
                            string:
                                #"{"choices":[{"index":0,"message":{"role":"assistant","content":"connection_refused dominates: the database at 10.x refused connections."}}]}"#
                        )))
            }
            let port = Locked<Int?>(nil)
            var quiet = Logger(label: "fake-llm")
            quiet.logLevel = .critical
            let app = Application(
                router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                onServerRunning: { channel in port.withLock { $0 = channel.localAddress?.port } }, logger: quiet)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await app.runService() }
                while port.value == nil { try await Task.sleep(for: .milliseconds(5)) }
                config.logs.llm.baseURL = "http://127.0.0.1:\(port.value!)/v1"
                config.logs.llm.model = "fake"
                config.logs.llm.maxTokensPerRun = 100_000_000
                let qa = LogQuestions(logs: service, config: config.logs.llm, environment: [:])
                var times: [Double] = []
                var tokens: [Int] = []
                for _ in 0..<questions {
                    let start = clock.now
                    let a = try await qa.ask("why do the database calls fail?", run: run.id)
                    times.append((clock.now - start).seconds)
                    tokens.append(a.tokensUsed)
                    if a.degraded { throw CLIFailure(message: "the fake model's answer was degraded: \(a.reason ?? "")") }
                }
                times.sort()
                print(
                    "ask: round trip p50 \(String(format: "%.1f", times[times.count / 2] * 1000)) ms max \(String(format: "%.1f", times.last! * 1000)) ms; tokens per question \(tokens.min()!)–\(tokens.max()!) (budget \(NightshiftConfig.LogLLM().maxTokensPerRun) per run)"
                )
                group.cancelAll()
            }
        }
    }
}

extension Duration {
    fileprivate var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
