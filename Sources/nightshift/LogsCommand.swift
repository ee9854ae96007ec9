import ArgumentParser
import Foundation
import NightshiftCore

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// `nightshift logs ...`: the log room's client commands (issue 13) and the deterministic
/// analyzers that read log files directly.
struct LogsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logs",
        abstract: "Ship, read, search and ask about logs (POST /api/logs/*), analyze log files, and capture a command's output.",
        discussion: """
            A log run is the lines between two `logs clear`; every line an agent prints is in its \
            task's run as source task:<id>. Wherever a run id is accepted, `latest` (the default) \
            names the newest run.
            """,
        subcommands: [
            LogsIngest.self, LogsClear.self, LogsAsk.self, LogsRaw.self, LogsIssues.self, LogsTail.self, LogsStats.self,
            LogsExtract.self, LogsCapture.self,
        ])
}

extension APIClient {
    /// A request with a raw body (ingest).
    func send(_ method: String, _ path: String, data: Data, contentType: String, timeout: Double = 60) async throws -> Reply {
        guard let url = URL(string: base + path) else { throw CLIFailure(message: "bad URL \(base + path)", code: 2) }
        var req = URLRequest(url: url, timeoutInterval: timeout)
        req.httpMethod = method
        req.httpBody = data
        req.setValue(contentType, forHTTPHeaderField: "Content-Type")
        if !token.isEmpty { req.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        do {
            let (body, response) = try await URLSession.shared.data(for: req)
            return Reply(status: (response as? HTTPURLResponse)?.statusCode ?? 0, body: body)
        } catch {
            throw CLIFailure(
                message: "cannot reach the daemon at \(base) (\(error.localizedDescription)); is `nightshift serve` running?")
        }
    }

    /// Fails with the problem's detail unless 2xx.
    static func check(_ reply: Reply) throws {
        guard (200..<300).contains(reply.status) else {
            let p = reply.json?.objectValue
            let detail = p?["detail"]?.stringValue ?? String(decoding: reply.body.prefix(300), as: UTF8.self)
            throw CLIFailure(message: "\(reply.status) \(p?["title"]?.stringValue ?? "HTTP \(reply.status)"): \(detail)")
        }
    }
}

/// `?a=b&c=d` of the given pairs, nil values left out, values percent-encoded.
func queryString(_ pairs: [(String, String?)]) -> String {
    var allowed = CharacterSet.urlQueryAllowed
    allowed.remove(charactersIn: "&=+?#")
    let parts = pairs.compactMap { k, v in
        v.map { "\(k)=\($0.addingPercentEncoding(withAllowedCharacters: allowed) ?? $0)" }
    }
    return parts.isEmpty ? "" : "?" + parts.joined(separator: "&")
}

struct LogsIngest: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ingest", abstract: "Send a file (or - for stdin) of NDJSON, a JSON array, or plain text lines.")
    @OptionGroup var client: ClientCommandOptions
    @Argument(help: "The file, or - for standard input.") var file: String
    @Option(name: .long, help: "The run the lines go to (default: latest).") var run: String?
    @Option(name: .long, help: "Lines per request.") var batch = 500

    func run() async throws {
        try await runReporting {
            let data: Data
            if file == "-" {
                data = FileHandle.standardInput.readDataToEndOfFile()
            } else {
                guard let d = FileManager.default.contents(atPath: file) else {
                    throw CLIFailure(message: "cannot read \(file)")
                }
                data = d
            }
            let c = try client.client()
            let first = data.first { !LogMasking.isSpace($0) }
            var accepted = 0
            var rejected = 0
            var runID = run
            func post(_ body: Data, _ type: String) async throws {
                let reply = try await c.send(
                    "POST", "/api/logs/ingest" + queryString([("run", runID)]), data: body, contentType: type)
                try APIClient.check(reply)
                let o = reply.json?.objectValue ?? [:]
                accepted += Int(o["accepted"]?.doubleValue ?? 0)
                rejected += Int(o["rejected"]?.doubleValue ?? 0)
                runID = o["run_id"]?.stringValue ?? runID
            }
            if first == UInt8(ascii: "[")
                || (first == UInt8(ascii: "{") && (try? JSONSerialization.jsonObject(with: data)) != nil)
            {
                try await post(data, "application/json")
            } else {
                let type = first == UInt8(ascii: "{") ? "application/x-ndjson" : "text/plain"
                let lines = data.split(separator: 0x0A, omittingEmptySubsequences: true)
                var i = 0
                while i < lines.count {
                    let chunk = lines[i..<min(lines.count, i + max(1, batch))]
                    try await post(Data(chunk.joined(separator: [0x0A])), type)
                    i += max(1, batch)
                }
            }
            if client.json {
                return printJSON(
                    try JSONEncoder.nightshift().encode([
                        "accepted": JSONValue.number(Double(accepted)), "rejected": .number(Double(rejected)),
                        "run_id": runID.map(JSONValue.string) ?? .null,
                    ]))
            }
            print("accepted=\(accepted) rejected=\(rejected) run=\(runID ?? "-")")
        }
    }
}

struct LogsClear: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "clear", abstract: "Start a fresh log run (the new latest) and print its id.")
    @OptionGroup var client: ClientCommandOptions
    @Option(name: .long, help: "A URL that gets this run's notifications too.") var callbackUrl: String?

    func run() async throws {
        try await runReporting {
            let reply = try await client.client().call(
                "POST", "/api/logs/clear", body: callbackUrl.map { ["callback_url": .string($0)] } ?? [:])
            if client.json { return printJSON(reply.body) }
            print(reply.json?.objectValue?["id"]?.stringValue ?? "")
        }
    }
}

struct LogsAsk: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ask", abstract: "Ask a question about a run's logs (the configured LLM, else an extractive answer).")
    @OptionGroup var client: ClientCommandOptions
    @Argument(help: "The question.") var question: String
    @Option(name: .long, help: "The run (default: latest).") var run: String?

    func run() async throws {
        try await runReporting {
            var body: [String: JSONValue] = ["question": .string(question)]
            if let run { body["run"] = .string(run) }
            let reply = try await client.client().call("POST", "/api/logs/qna", body: body)
            if client.json { return printJSON(reply.body) }
            let o = reply.json?.objectValue ?? [:]
            print(o["answer"]?.stringValue ?? "")
            let degraded = o["degraded"] == .bool(true) ? " degraded=\(o["reason"]?.stringValue ?? "yes")" : ""
            let fps = (o["fingerprints"]?.arrayValue ?? []).compactMap(\.stringValue).joined(separator: ",")
            print(
                "-- run=\(o["run_id"]?.stringValue ?? "") tokens_used=\(StatusCommand.num(o["tokens_used"]))\(degraded) fingerprints=\(fps.isEmpty ? "-" : fps)"
            )
        }
    }
}

/// The filters `raw` and `tail` share.
struct LogFilterOptions: ParsableArguments {
    @Option(name: .long, help: "The run (default: latest).") var run: String?
    @Option(name: .long, help: "Only this source (e.g. task:task_0123456789abcdef).") var source: String?
    @Option(name: .long, help: "This level and above (debug, info, warning, error, critical, ...).") var level: String?
    @Option(name: .long, help: "Only lines whose message matches this regular expression.") var grep: String?
    @Option(name: .long, help: "Only lines at or after this time (RFC 3339, epoch seconds, or a duration ago: 10m).")
    var since: String?

    var pairs: [(String, String?)] { [("run", run), ("source", source), ("level", level), ("grep", grep), ("since", since)] }
}

struct LogsRaw: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "raw", abstract: "Print a run's newest lines as plain text, filtered (grep is a regex).")
    @OptionGroup var client: ClientCommandOptions
    @OptionGroup var filter: LogFilterOptions
    @Option(name: .long, help: "Lines at most (the newest).") var limit = 200

    func run() async throws {
        try await runReporting {
            let reply = try await client.client().call(
                "GET", "/api/logs/raw" + queryString(filter.pairs + [("limit", String(limit))]))
            FileHandle.standardOutput.write(reply.body)
        }
    }
}

struct LogsIssues: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "issues", abstract: "List a run's fingerprints: rule, count, first/last seen, sources, template.")
    @OptionGroup var client: ClientCommandOptions
    @Option(name: .long, help: "The run (default: latest).") var run: String?

    func run() async throws {
        try await runReporting {
            let reply = try await client.client().call("GET", "/api/logs/issues" + queryString([("run", run)]))
            if client.json { return printJSON(reply.body) }
            let o = reply.json?.objectValue ?? [:]
            let issues = (o["issues"]?.arrayValue ?? []).map { $0.objectValue ?? [:] }
            if issues.isEmpty { return print("no fingerprints in \(o["run_id"]?.stringValue ?? "the run")") }
            var table = TextTable(
                ["FINGERPRINT", "RULE", "SEVERITY", "COUNT", "LAST SEEN", "NOTIFIED", "SOURCES", "TEMPLATE"],
                flexible: ["SOURCES", "TEMPLATE"])
            for i in issues {
                table.append([
                    i["fingerprint"]?.stringValue ?? "", i["rule_id"]?.stringValue ?? "", i["severity"]?.stringValue ?? "",
                    StatusCommand.num(i["count"]), i["last_seen"]?.stringValue ?? "",
                    i["notified_at"]?.stringValue == nil ? "-" : "yes",
                    (i["sources"]?.arrayValue ?? []).compactMap(\.stringValue).joined(separator: ","),
                    i["template"]?.stringValue ?? "",
                ])
            }
            for line in table.lines(width: Terminal.width) { print(line) }
        }
    }
}

struct LogsTail: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tail", abstract: "Follow a run's lines live (server-sent events), filtered; Ctrl-C stops.")
    @OptionGroup var client: ClientCommandOptions
    @OptionGroup var filter: LogFilterOptions
    @Option(name: .long, help: "Start with this many of the newest lines.") var backlog = 10
    @Option(name: .long, help: "Stop after this many lines (0 = follow until stopped).") var count = 0

    func run() async throws {
        try await runReporting {
            let c = try client.client()
            let path = "/api/logs/tail" + queryString(filter.pairs + [("backlog", String(backlog))])
            guard let url = URL(string: c.base + path) else { throw CLIFailure(message: "bad URL", code: 2) }
            var req = URLRequest(url: url, timeoutInterval: 24 * 3600)
            if !c.token.isEmpty { req.setValue("Bearer \(c.token)", forHTTPHeaderField: "Authorization") }
            let stream = SSELines(request: req)
            var seen = 0
            for try await line in stream.lines() where line.hasPrefix("data: ") {
                FileHandle.standardOutput.write(Data((line.dropFirst(6) + "\n").utf8))
                seen += 1
                if count > 0 && seen >= count { return }
            }
        }
    }
}

/// Streams a response's lines as they arrive (FoundationNetworking on Linux has no
/// `URLSession.bytes`): a data delegate feeds an `AsyncThrowingStream`.
final class SSELines: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    let request: URLRequest
    private var continuation: AsyncThrowingStream<String, Error>.Continuation?
    private var buffer = Data()
    private var session: URLSession?

    init(request: URLRequest) { self.request = request }

    func lines() -> AsyncThrowingStream<String, Error> {
        AsyncThrowingStream { c in
            self.continuation = c
            let session = URLSession(configuration: .default, delegate: self, delegateQueue: nil)
            self.session = session
            let task = session.dataTask(with: request)
            c.onTermination = { _ in task.cancel() }
            task.resume()
        }
    }

    func urlSession(
        _ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
        completionHandler: @escaping (URLSession.ResponseDisposition) -> Void
    ) {
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        if status != 200 {
            continuation?.finish(throwing: CLIFailure(message: "the tail was refused (HTTP \(status))"))
            completionHandler(.cancel)
            return
        }
        completionHandler(.allow)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        buffer.append(data)
        while let nl = buffer.firstIndex(of: 0x0A) {
            let line = String(decoding: buffer[buffer.startIndex..<nl], as: UTF8.self)
            buffer.removeSubrange(buffer.startIndex...nl)
            continuation?.yield(line)
        }
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: Error?) {
        if let error, (error as NSError).code != NSURLErrorCancelled {
            continuation?.finish(
                throwing: CLIFailure(
                    message: "cannot reach the daemon (\(error.localizedDescription)); is `nightshift serve` running?"))
        } else {
            continuation?.finish()
        }
        session.finishTasksAndInvalidate()
    }
}
