import Foundation
import HTTPTypes
import Hummingbird
import NightshiftCore
import NightshiftRuntime
import NightshiftStore
import ServiceLifecycle

/// What the log routes run on; the daemon passes its log service and question answerer.
public struct LogAPI: Sendable {
    public var service: LogService
    public var questions: LogQuestions
    public init(service: LogService, questions: LogQuestions) {
        self.service = service
        self.questions = questions
    }
}

/// `/api/logs/*` (issue 13): ingest, clear, issues, raw, tail, qna.
struct LogRoutes {
    let logs: LogAPI?
    let bodyLimit: Int

    struct Issues: Encodable {
        var runID: String
        var total: Int
        var issues: [LogIssue]
        enum CodingKeys: String, CodingKey {
            case total, issues
            case runID = "run_id"
        }
    }

    static let runHeader = HTTPField.Name("X-Run-Id")!
    static let maxRawLimit = 10_000

    func register(_ r: RouteRecorder) {
        r.on(.post, "/api/logs/ingest") { request, _ in try await ingest(request) }
        r.on(.post, "/api/logs/clear") { request, _ in try await clear(request) }
        r.on(.get, "/api/logs/issues") { request, _ in try await issues(request) }
        r.on(.get, "/api/logs/raw") { request, _ in try await raw(request) }
        r.on(.get, "/api/logs/tail") { request, _ in try await tail(request) }
        r.on(.post, "/api/logs/qna") { request, _ in try await qna(request) }
    }

    func api() throws -> LogAPI {
        guard let logs else {
            throw Problem(
                .serviceUnavailable, type: "logs_unavailable", title: "Logs unavailable",
                detail: "this server runs without the log service")
        }
        return logs
    }

    /// Maps the log service's errors (and the store's) to problems.
    func mapped<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let e as LogError {
            switch e.code {
            case .invalid: throw Problem.invalid(e.field ?? "body", e.message)
            case .notFound: throw Problem.notFound(e.message)
            }
        }
    }

    func ingest(_ request: Request) async throws -> Response {
        let logs = try api()
        let q = request.uri.queryParameters
        let header = request.headers[Self.runHeader]
        let query = q.get("run").map { String($0) }
        // Both are checked when both are given, though the header wins.
        for (field, value) in [("X-Run-Id", header), ("run", query)] {
            if let value, value != LogRun.latest, let problem = RunID.problem(value) {
                throw Problem.invalid(field, problem)
            }
        }
        let run = header ?? query
        var request = request
        let buffer: ByteBuffer
        do {
            buffer = try await request.collectBody(upTo: bodyLimit)
        } catch let e as HTTPResponseError where e.status == .contentTooLarge {
            throw Problem(
                .contentTooLarge, type: "body_too_large", title: "Body too large",
                detail: "request body is larger than \(bodyLimit) bytes (server.max_body); send smaller batches")
        }
        let parsed: LogIngestParser.Parsed
        do {
            parsed = try LogIngestParser.parse(Array(buffer.readableBytesView), contentType: request.headers[.contentType])
        } catch {
            throw Problem.badRequest(error.reason)
        }
        let result = try await mapped { try await logs.service.ingest(parsed, run: run) }
        return try JSONResponse.make(result, status: .accepted)
    }

    func clear(_ request: Request) async throws -> Response {
        let logs = try api()
        var request = request
        let buffer = try await request.collectBody(upTo: 64 * 1024)
        var callback: String?
        if buffer.readableBytes > 0 {
            let object = try await RequestBody.object(Request(head: request.head, body: .init(buffer: buffer)), limit: 64 * 1024)
            var errors = RequestBody.unknownKeys(object, allowed: ["callback_url"])
            if let v = object["callback_url"], v != .null { callback = RequestBody.string(v, "callback_url", &errors) }
            if !errors.isEmpty { throw Problem.invalid(errors) }
        }
        let run = try await mapped { try await logs.service.clear(callbackURL: callback) }
        return try JSONResponse.make(run, status: .created)
    }

    func issues(_ request: Request) async throws -> Response {
        let logs = try api()
        let q = request.uri.queryParameters
        var limit = 200
        if let l = q.get("limit") {
            guard let n = Int(l), (1...1000).contains(n) else { throw Problem.invalid("limit", "must be 1 to 1000") }
            limit = n
        }
        let (run, issues) = try await mapped { try await logs.service.issues(run: q.get("run").map { String($0) }, limit: limit) }
        return try JSONResponse.make(Issues(runID: run.id, total: issues.count, issues: issues))
    }

    /// The filters `raw` and `tail` share, checked (422 naming the parameter).
    func filter(_ request: Request) throws -> LogService.Filter {
        let q = request.uri.queryParameters
        var f = LogService.Filter()
        if let s = q.get("source"), !s.isEmpty { f.source = String(s) }
        if let l = q.get("level") {
            guard LogLevels.ordered.contains(String(l)), let levels = LogLevels.atLeast(String(l)) else {
                throw Problem.invalid(
                    "level", "unknown level \"\(l)\" (one of \(LogLevels.ordered.joined(separator: ", ")); this level and above)")
            }
            f.levels = levels
        }
        do { f.grep = try LogService.grep(q.get("grep").map { String($0) }) } catch let e as LogError {
            throw Problem.invalid(e.field ?? "grep", e.message)
        }
        if let s = q.get("since") {
            guard let d = Self.since(String(s), now: Date()) else {
                throw Problem.invalid("since", "must be RFC 3339, epoch seconds, or a duration ago such as 10m")
            }
            f.since = d
        }
        return f
    }

    /// The forms `since` takes (the spec's pattern).
    static let sinceForm = try! NSRegularExpression(
        pattern:
            #"^([0-9]{1,10}(\.[0-9]{1,6})?|[0-9]{1,6}(ms|s|m|h|d)|[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?Z)$"#
    )

    /// RFC 3339 UTC, epoch seconds, or a duration ago (`15m`).
    static func since(_ text: String, now: Date) -> Date? {
        guard sinceForm.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil else { return nil }
        if text.last?.isLetter == true && !text.hasSuffix("Z") {
            return ConfigValues.parseDuration(text).map { now.addingTimeInterval(-$0) }
        }
        return LogIngestParser.time(.string(text))
    }

    func raw(_ request: Request) async throws -> Response {
        let logs = try api()
        let q = request.uri.queryParameters
        let f = try filter(request)
        var limit = 500
        if let l = q.get("limit") {
            guard let n = Int(l), (1...Self.maxRawLimit).contains(n) else {
                throw Problem.invalid("limit", "must be 1 to \(Self.maxRawLimit)")
            }
            limit = n
        }
        let run = try await mapped { try await logs.service.resolveForReading(q.get("run").map { String($0) }) }
        let lines = try await logs.service.raw(runID: run.id, filter: f, limit: limit)
        let width = logs.service.configuration.rawWidth
        var text = lines.map { LogService.format($0, width: width) }.joined(separator: "\n")
        if !text.isEmpty { text += "\n" }
        var response = JSONResponse.text(text)
        response.headers[Self.runHeader] = run.id
        return response
    }

    /// `GET /api/logs/tail`: SSE, one `log` event per stored line that matches, `id:` the
    /// line's id; `Last-Event-ID` (or `?after=`) resumes after a line, else it starts after the
    /// newest `backlog` lines (default 0).
    func tail(_ request: Request) async throws -> Response {
        let logs = try api()
        let q = request.uri.queryParameters
        let f = try filter(request)
        let run = try await mapped { try await logs.service.resolveForReading(q.get("run").map { String($0) }) }
        var backlog = 0
        if let b = q.get("backlog") {
            guard let n = Int(b), (0...1000).contains(n) else { throw Problem.invalid("backlog", "must be 0 to 1000") }
            backlog = n
        }
        let given = request.headers[HTTPField.Name("Last-Event-ID")!] ?? q.get("after").map { String($0) }
        var after: Int64?
        if let given {
            guard let n = Int64(given.trimmingCharacters(in: .whitespaces)), n >= 0 else {
                throw Problem.invalid("after", "must be a line id (a whole number)")
            }
            after = n
        }
        let service = logs.service
        let width = service.configuration.rawWidth
        // Subscribe before reading the table, so nothing stored in between is missed.
        let live = service.tail.subscribe()
        let start: Int64
        if let after {
            start = after
        } else {
            let newest = try await service.store.logLines(LogLineQuery(runID: run.id, limit: backlog + 1))
            start = newest.count > backlog ? newest[backlog].id : 0
        }
        let runID = run.id
        let body = ResponseBody { writer in
            try await writer.write(ByteBuffer(string: ": nightshift log tail \(runID)\n\n"))
            var last = start
            func send(_ e: LogEntry) async throws {
                last = e.id
                guard f.matches(e) else { return }
                let data = LogService.format(e, width: width)
                try await writer.write(ByteBuffer(string: "event: log\nid: \(e.id)\ndata: \(data)\n\n"))
            }
            func catchUp() async throws {
                while true {
                    let batch = try await service.store.logLines(LogLineQuery(runID: runID, afterID: last, limit: 500))
                    for e in batch { try await send(e) }
                    if batch.count < 500 { return }
                }
            }
            try await catchUp()
            for await lines in live.cancelOnGracefulShutdown() {
                let mine = lines.filter { $0.runID == runID && $0.id > last }
                guard let first = mine.first else { continue }
                if first.id > last + 1 { try await catchUp() }
                for e in mine where e.id > last { try await send(e) }
            }
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"], body: body)
    }

    func qna(_ request: Request) async throws -> Response {
        let logs = try api()
        let object = try await RequestBody.object(request, limit: 64 * 1024)
        var errors = RequestBody.unknownKeys(object, allowed: ["question", "run"])
        var question: String?
        var run: String?
        if let v = object["question"] {
            question = RequestBody.string(v, "question", &errors)
        } else {
            errors.append(.init(field: "question", message: "is required"))
        }
        if let v = object["run"], v != .null { run = RequestBody.string(v, "run", &errors) }
        if !errors.isEmpty { throw Problem.invalid(errors) }
        let answer = try await mapped { try await logs.questions.ask(question ?? "", run: run) }
        return try JSONResponse.make(answer)
    }
}
