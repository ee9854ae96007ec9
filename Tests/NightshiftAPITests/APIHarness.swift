import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NightshiftAPI
import NightshiftCore
import NightshiftRuntime
import NightshiftStore
import NightshiftTesting
import Testing

/// The control plane over a real SQLite store in a temporary state dir, built with the same
/// `APIServer.buildRouter` that `main` uses (STYLE 10). No runner runs: tests move tasks through
/// their lifecycle with the store directly.
final class APIHarness: Sendable {
    /// Which pipeline views the router gets.
    enum Views: Sendable {
        /// What `nightshift serve` wires: the store's monitor issues and effectiveness, a
        /// project manager status and attention flags (set by the test).
        case live
        /// `PipelineViews.files`: the operator files in the state dir.
        case files
    }

    let dir: TemporaryDirectory
    let paths: StatePaths
    let store: SQLiteTaskStore
    let clock: MutableNow
    let config: NightshiftConfig
    let env: ServiceEnvironment
    let ready: Bool
    let views: Views
    /// What the live views report as the project manager's status.
    let projectManager = Locked<JSONValue>(.object(["enabled": .bool(false), "state": .string("disabled")]))
    /// What the live views report as attention flags.
    let attention = Locked<[JSONValue]>([])
    /// When set, the live views have a project manager that can pause: this records the calls.
    let pauses: Locked<[Bool]>?
    /// The log routes' service over the harness store (no notifier, no tap).
    let logs: LogAPI

    /// The runner identity the harness claims tasks as.
    static let owner = "runner-test"
    /// `runner.max_attempts` in the test config, different from every built-in default.
    static let maxAttempts = 4
    /// When the harness daemon "started".
    static let startedAt = MutableNow.defaultStart

    init(
        ready: Bool = true, views: Views = .live, pausable: Bool = false, configure: (inout NightshiftConfig) -> Void = { _ in }
    ) throws {
        dir = try TemporaryDirectory(prefix: "nightshift-api")
        paths = StatePaths(root: dir.path)
        try paths.prepare()
        store = try SQLiteTaskStore(path: paths.database)
        clock = MutableNow()
        var config = NightshiftConfig()
        config.stateDir = paths.root
        config.runner.maxAttempts = Self.maxAttempts
        configure(&config)
        self.config = config
        let logs = ComponentLogs(paths: paths, maxBytes: 1 << 20, backups: 1, redactor: Redactor(), echo: false)
        env = ServiceEnvironment(
            config: config, paths: paths, store: store, logs: logs, redactor: Redactor(),
            version: VersionInfo(gitSHA: "test", startedAt: Self.startedAt), instanceID: "test", now: clock.provider)
        self.ready = ready
        self.views = views
        pauses = pausable ? Locked([]) : nil
        let service = LogService(
            store: store, config: config.logs, notifier: nil, tap: nil, defaultRun: nil, logger: Logger(label: "api-test"),
            now: clock.provider)
        self.logs = LogAPI(service: service, questions: LogQuestions(logs: service, config: config.logs.llm, environment: [:]))
    }

    /// The pipeline views, wired as the daemon wires them (or from the state dir's files).
    func pipelineViews() -> PipelineViews {
        switch views {
        case .files:
            return PipelineViews.files(paths)
        case .live:
            let pm = projectManager
            let flags = attention
            var v = PipelineViews.live(env: env, store: store, projectManager: { pm.value }, attention: { flags.value })
            if let pauses {
                v.setPaused = { paused in
                    pauses.withLock { $0.append(paused) }
                    pm.withLock {
                        $0 = .object([
                            "enabled": .bool(true), "state": .string(paused ? "paused" : "idle"), "paused": .bool(paused),
                        ])
                    }
                }
            }
            return v
        }
    }

    /// The router and route table exactly as the daemon builds them.
    func build() -> (router: Router<APIContext>, routes: [(method: String, path: String)]) {
        let ready = self.ready
        return APIServer.buildRouter(env: env, views: pipelineViews(), isReady: { ready }, logs: logs)
    }

    /// Runs `body` against the router in process (no sockets).
    @discardableResult
    func test<V: Sendable>(_ body: @Sendable (any TestClientProtocol) async throws -> V) async throws -> V {
        try await Application(router: build().router).test(.router, body)
    }

    /// Runs `body` against a live server on a loopback port.
    func live<V: Sendable>(_ body: @Sendable (any TestClientProtocol) async throws -> V) async throws -> V {
        let app = Application(router: build().router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        return try await app.test(.live, body)
    }

    // MARK: Tasks in every status, driven through the store

    /// A new pending task, created through the store at the current test time.
    @discardableResult
    func pending(_ direction: String = "do the thing", type: TaskType = .impl, priority: Int = 0) async throws -> AgentTask {
        try await store.create(.make(type: type, direction: direction, priority: priority, maxAttempts: 2, now: clock.now))
    }

    /// A new task claimed by the harness runner. It is created at the top priority so that it
    /// is the task claimed; the test clock is left where it was.
    func running(_ direction: String = "running task", type: TaskType = .impl, phase: String? = nil) async throws -> AgentTask {
        let t = try await store.create(
            .make(
                type: type, direction: direction, priority: TaskValidation.priorityRange.upperBound, maxAttempts: 2, phase: phase,
                now: clock.now))
        let claimed = try #require(try await store.claimNext(owner: Self.owner, limit: 1, now: clock.now, lease: 3600).first)
        try #require(claimed.id == t.id, "the harness claims the task it just created")
        return claimed
    }

    /// A task that ran for `seconds` of test time and ended with `kind`.
    @discardableResult
    func finished(
        _ kind: AttemptOutcome.Kind, direction: String = "finished task", type: TaskType = .impl, seconds: Double = 1,
        cost: Double? = nil
    ) async throws -> AgentTask {
        let t = try await running(direction, type: type)
        clock.advance(by: seconds)
        return try await store.finish(id: t.id, owner: Self.owner, outcome: AttemptOutcome(kind, costUSD: cost), now: clock.now)
    }

    @discardableResult
    func completed(_ direction: String = "completed task", type: TaskType = .impl, seconds: Double = 1) async throws -> AgentTask
    {
        try await finished(.completed, direction: direction, type: type, seconds: seconds)
    }

    @discardableResult
    func failed(_ direction: String = "failed task", type: TaskType = .impl, seconds: Double = 1) async throws -> AgentTask {
        try await finished(
            .failed(errorClass: "agent_error", error: "exit 1", retryDelay: nil), direction: direction, type: type,
            seconds: seconds)
    }

    @discardableResult
    func needsDecision(_ prompt: String = "Ship it?", direction: String = "asks a question") async throws -> AgentTask {
        try await finished(.needsDecision(prompt: prompt), direction: direction)
    }

    @discardableResult
    func cancelled(_ direction: String = "cancelled task") async throws -> AgentTask {
        let t = try await pending(direction)
        return try await store.cancel(id: t.id, reason: "test", now: clock.now).after
    }

    /// Writes `value` as JSON to `path` (operator files the views read).
    func writeJSON(_ json: String, to path: String) throws {
        try Data(json.utf8).write(to: URL(fileURLWithPath: path))
    }
}

/// A valid task id that no task has.
let unknownTaskID = "task_00000000deadbeef"

// MARK: Requests

extension TestClientProtocol {
    /// Sends a request and checks what every response of this API must meet: never a 5xx,
    /// and every 4xx is problem+json.
    @discardableResult
    func send(
        _ method: HTTPRequest.Method, _ uri: String, json: String? = nil, headers: HTTPFields = [:], allow503: Bool = false,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> TestResponse {
        var h = headers
        if json != nil, h[.contentType] == nil { h[.contentType] = "application/json" }
        let response = try await executeRequest(uri: uri, method: method, headers: h, body: json.map { ByteBuffer(string: $0) })
        #expect(
            response.status.code < 500 || (allow503 && response.status == .serviceUnavailable),
            "\(method) \(uri) answered \(response.status): \(response.text)", sourceLocation: sourceLocation)
        if response.status.code >= 400 {
            #expect(
                response.headers[.contentType] == "application/problem+json",
                "\(method) \(uri) answered \(response.status) without problem+json", sourceLocation: sourceLocation)
        }
        return response
    }

    @discardableResult
    func get(
        _ uri: String, allow503: Bool = false, sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> TestResponse {
        try await send(.get, uri, allow503: allow503, sourceLocation: sourceLocation)
    }

    /// POSTs `json` to the task collection.
    func post(
        _ json: String, headers: HTTPFields = [:], sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> TestResponse {
        try await send(.post, "/api/agent/tasks", json: json, headers: headers, sourceLocation: sourceLocation)
    }

    /// PATCHes task `id` with `json`.
    func patch(
        _ id: String, _ json: String, headers: HTTPFields = [:], sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> TestResponse {
        try await send(.patch, "/api/agent/tasks/\(id)", json: json, headers: headers, sourceLocation: sourceLocation)
    }

    /// GETs `uri`, requires a 200 and returns the JSON body.
    func getJSON(_ uri: String, sourceLocation: SourceLocation = #_sourceLocation) async throws -> JSON {
        let r = try await send(.get, uri, sourceLocation: sourceLocation)
        try #require(r.status == .ok, "GET \(uri): \(r.status) \(r.text)", sourceLocation: sourceLocation)
        #expect(r.headers[.contentType] == "application/json", sourceLocation: sourceLocation)
        return try r.json()
    }
}

extension TestResponse {
    /// The body as UTF-8 text.
    var text: String { String(decoding: body.readableBytesView, as: UTF8.self) }

    /// The body as JSON.
    func json(sourceLocation: SourceLocation = #_sourceLocation) throws -> JSON {
        do {
            return JSON(try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)))
        } catch {
            Issue.record("not JSON (\(status)): \(text)", sourceLocation: sourceLocation)
            throw error
        }
    }
}

/// Checks that `response` is an RFC 9457 problem with `status` (and, for validation failures,
/// an `errors[]` entry naming each of `fields`), and returns the problem body.
@discardableResult
func expectProblem(
    _ response: TestResponse, _ status: HTTPResponse.Status, type: String? = nil, fields: [String] = [],
    sourceLocation: SourceLocation = #_sourceLocation
) throws -> JSON {
    #expect(response.status == status, "\(response.text)", sourceLocation: sourceLocation)
    #expect(response.headers[.contentType] == "application/problem+json", sourceLocation: sourceLocation)
    let p = try response.json(sourceLocation: sourceLocation)
    #expect(p["status"].int == status.code, sourceLocation: sourceLocation)
    #expect(p["type"].string?.isEmpty == false, "type: \(p)", sourceLocation: sourceLocation)
    #expect(p["title"].string?.isEmpty == false, "title: \(p)", sourceLocation: sourceLocation)
    #expect(p["detail"].string?.isEmpty == false, "detail: \(p)", sourceLocation: sourceLocation)
    let errors = try #require(p["errors"].array, "errors[] is always present: \(p)", sourceLocation: sourceLocation)
    if let type { #expect(p["type"].string == type, sourceLocation: sourceLocation) }
    let named = errors.compactMap { $0["field"].string }
    for field in fields {
        #expect(named.contains(field), "errors[] names \(field): \(p)", sourceLocation: sourceLocation)
    }
    for e in errors {
        #expect(e["message"].string?.isEmpty == false, "every error has a message: \(e)", sourceLocation: sourceLocation)
    }
    return p
}

/// Checks that `body` has every key `components.schemas.<schema>` of `api/openapi.yaml` requires.
func expectRequiredKeys(_ body: JSON, schema: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let required = try OpenAPISpec.load().required(ofSchema: schema)
    #expect(!required.isEmpty, "\(schema) lists required keys", sourceLocation: sourceLocation)
    let keys = body.keys ?? []
    #expect(
        required.isSubset(of: keys), "\(schema) lacks \(required.subtracting(keys).sorted()): \(body)",
        sourceLocation: sourceLocation)
}
