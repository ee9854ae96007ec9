import Foundation
import MCP
import NightshiftCore

/// The MCP tools (issue 13, point 8): each a thin call of the REST API with the API's own enums,
/// answering in compact text cut at `maxChars` with a cursor to read on.
public struct NightshiftTools: Sendable {
    public let client: DaemonClient
    /// Characters of one tool answer at most; longer ones end with the cursor of the rest.
    public static let maxChars = 6000

    public init(client: DaemonClient) { self.client = client }

    static func schema(_ properties: [String: Value], required: [String] = []) -> Value {
        .object([
            "type": "object", "properties": .object(properties), "required": .array(required.map { .string($0) }),
            "additionalProperties": false,
        ])
    }
    static func string(_ d: String, enum values: [String]? = nil) -> Value {
        var o: [String: Value] = ["type": "string", "description": .string(d)]
        if let values { o["enum"] = .array(values.map { .string($0) }) }
        return .object(o)
    }
    static func int(_ d: String, min: Int, max: Int) -> Value {
        .object(["type": "integer", "description": .string(d), "minimum": .int(min), "maximum": .int(max)])
    }
    static let cursor = string("Where to read on (from a truncated answer).")
    static let run = string("A log run id, or latest (default).")

    /// Every tool with its input schema.
    public static let tools: [Tool] = [
        Tool(
            name: "task_list", description: "List tasks, newest first: id status type priority direction.",
            inputSchema: schema([
                "status": string("Only this status.", enum: TaskStatus.allCases.map(\.rawValue)),
                "task_type": string("Only this type (spec, impl, test, review, heal, or a configured one)."),
                "limit": int("Tasks at most.", min: 1, max: 200), "cursor": cursor,
            ])),
        Tool(
            name: "task_get", description: "One task's fields (output tail cut).",
            inputSchema: schema(["id": string("task_ + 16 hex.")], required: ["id"])),
        Tool(
            name: "task_create", description: "Create a task.",
            inputSchema: schema(
                [
                    "task_type": string("spec, impl, test, review, heal, or a configured type."),
                    "direction": string("The prompt, 1-5000 characters."),
                    "priority": int("Higher first.", min: -1000, max: 1000),
                ], required: ["task_type", "direction"])),
        Tool(
            name: "task_control", description: "Decide (answer a needs_decision task), cancel, or retry a failed task.",
            inputSchema: schema(
                [
                    "id": string("task_ + 16 hex."), "action": string("What to do.", enum: ["decide", "cancel", "retry"]),
                    "decision": string("The answer, for decide."),
                ], required: ["id", "action"])),
        Tool(
            name: "pipeline_status", description: "The pipeline's status: counts, running tasks, attention.",
            inputSchema: schema([:])),
        Tool(
            name: "log_query", description: "Ask a question about a run's logs; says when the answer is degraded.",
            inputSchema: schema(["question": string("The question."), "run": run], required: ["question"])),
        Tool(
            name: "log_issues", description: "A run's fingerprints: id rule severity count sources template.",
            inputSchema: schema(["run": run, "cursor": cursor])),
        Tool(
            name: "log_raw", description: "A run's newest lines, filtered; grep is a regex.",
            inputSchema: schema([
                "run": run, "source": string("e.g. task:task_0123456789abcdef."),
                "level": string("This level and above.", enum: LogLevels.ordered), "grep": string("A regular expression."),
                "since": string("RFC 3339, epoch seconds, or a duration ago (10m)."),
                "limit": int("Lines at most.", min: 1, max: 2000),
                "cursor": cursor,
            ])),
        Tool(
            name: "log_clear", description: "Start a fresh log run (the new latest); returns its id.",
            inputSchema: schema(["callback_url": string("A URL for this run's notifications.")])),
    ]

    /// The tool schemas' size, approximated as characters / 4.
    public static var schemaTokens: Int {
        let data = (try? JSONEncoder().encode(tools)) ?? Data()
        return (data.count + 3) / 4
    }

    /// Calls one tool: its text, and whether it failed.
    public func call(_ name: String, _ args: [String: Value]) async -> (String, Bool) {
        do {
            let text = try await run(name, args)
            let offset = Int(args["cursor"]?.stringValue ?? "") ?? 0
            return (Self.page(text, from: offset), false)
        } catch {
            return ("\(error)", true)
        }
    }

    /// `text` from `offset`, cut at `maxChars` with the next cursor.
    public static func page(_ text: String, from offset: Int) -> String {
        let chars = Array(text)
        let start = min(max(0, offset), chars.count)
        let end = min(chars.count, start + maxChars)
        var out = String(chars[start..<end])
        if end < chars.count { out += "\n…[truncated: \(chars.count - end) more chars; call again with cursor=\(end)]" }
        return out
    }

    static func q(_ pairs: [(String, String?)]) -> String {
        var allowed = CharacterSet.urlQueryAllowed
        allowed.remove(charactersIn: "&=+?#")
        let parts = pairs.compactMap { k, v in v.map { "\(k)=\($0.addingPercentEncoding(withAllowedCharacters: allowed) ?? $0)" }
        }
        return parts.isEmpty ? "" : "?" + parts.joined(separator: "&")
    }

    static func cut(_ s: String, _ n: Int) -> String {
        let one = s.replacingOccurrences(of: "\n", with: " ")
        return one.count > n ? String(one.prefix(n - 1)) + "…" : one
    }

    func text(_ a: [String: Value], _ k: String) -> String? { a[k]?.stringValue }
    func num(_ a: [String: Value], _ k: String) -> String? { a[k]?.intValue.map(String.init) ?? a[k]?.stringValue }

    func run(_ name: String, _ a: [String: Value]) async throws -> String {
        switch name {
        case "task_list":
            let r = try await client.call(
                "GET",
                "/api/agent/tasks"
                    + Self.q([
                        ("status", text(a, "status")), ("task_type", text(a, "task_type")), ("limit", num(a, "limit") ?? "20"),
                    ]))
            let o = r.json as? [String: Any] ?? [:]
            let tasks = o["tasks"] as? [[String: Any]] ?? []
            let lines = tasks.map { t in
                "\(t["id"] ?? "") \(t["status"] ?? "") \(t["task_type"] ?? "") p\(t["priority"] ?? 0) \(Self.cut(t["direction"] as? String ?? "", 80))"
            }
            return "total=\(o["total"] ?? 0)\n" + lines.joined(separator: "\n")
        case "task_get":
            let id = try required(a, "id")
            guard TaskID.isValid(id) else { throw ToolFailure("id must be task_ + 16 hex characters") }
            let t = try await client.call("GET", "/api/agent/tasks/\(id)").json as? [String: Any] ?? [:]
            let keys = [
                "id", "status", "task_type", "priority", "attempt", "max_attempts", "direction", "decision_prompt", "error_class",
                "error", "exit_code", "backlog_item", "phase", "run_id", "created_at", "finished_at", "output_tail",
            ]
            return keys.compactMap { k in
                guard let v = t[k], !(v is NSNull) else { return nil }
                return "\(k): \(Self.cut("\(v)", k == "output_tail" || k == "direction" ? 1500 : 200))"
            }.joined(separator: "\n")
        case "task_create":
            var body: [String: Any] = ["task_type": try required(a, "task_type"), "direction": try required(a, "direction")]
            if let p = a["priority"]?.intValue { body["priority"] = p }
            let t = try await client.call("POST", "/api/agent/tasks", json: body).json as? [String: Any] ?? [:]
            return "created \(t["id"] ?? "") \(t["status"] ?? "")"
        case "task_control":
            let id = try required(a, "id")
            guard TaskID.isValid(id) else { throw ToolFailure("id must be task_ + 16 hex characters") }
            let body: [String: Any]
            switch try required(a, "action") {
            case "decide": body = ["decision": try required(a, "decision")]
            case "cancel": body = ["status": "cancelled"]
            case "retry": body = ["status": "pending"]
            case let other: throw ToolFailure("action must be decide, cancel or retry, got \(other)")
            }
            let t = try await client.call("PATCH", "/api/agent/tasks/\(id)", json: body).json as? [String: Any] ?? [:]
            return "\(t["id"] ?? id) \(t["status"] ?? "")"
        case "pipeline_status":
            return try await client.call("GET", "/api/agent/pipeline-status").text
        case "log_query":
            var body: [String: Any] = ["question": try required(a, "question")]
            if let r = text(a, "run") { body["run"] = r }
            let o = try await client.call("POST", "/api/logs/qna", json: body).json as? [String: Any] ?? [:]
            let degraded = (o["degraded"] as? Bool) == true ? " degraded=\(o["reason"] ?? "yes")" : ""
            let fps = (o["fingerprints"] as? [String] ?? []).joined(separator: ",")
            return
                "\(o["answer"] ?? "")\n-- run=\(o["run_id"] ?? "") tokens_used=\(o["tokens_used"] ?? 0)\(degraded) fingerprints=\(fps)"
        case "log_issues":
            let o =
                try await client.call("GET", "/api/logs/issues" + Self.q([("run", text(a, "run"))])).json as? [String: Any] ?? [:]
            let issues = o["issues"] as? [[String: Any]] ?? []
            return "run=\(o["run_id"] ?? "") fingerprints=\(issues.count)\n"
                + issues.map { i in
                    let sources = (i["sources"] as? [String] ?? []).prefix(5).joined(separator: ",")
                    return
                        "\(i["fingerprint"] ?? "") \(i["rule_id"] ?? "") \(i["severity"] ?? "") ×\(i["count"] ?? 0) [\(sources)] \(Self.cut(i["template"] as? String ?? "", 160))"
                }.joined(separator: "\n")
        case "log_raw":
            let pairs: [(String, String?)] = [
                ("run", text(a, "run")), ("source", text(a, "source")), ("level", text(a, "level")), ("grep", text(a, "grep")),
                ("since", text(a, "since")), ("limit", num(a, "limit") ?? "100"),
            ]
            return try await client.call("GET", "/api/logs/raw" + Self.q(pairs)).text
        case "log_clear":
            var body: [String: Any] = [:]
            if let u = text(a, "callback_url") { body["callback_url"] = u }
            let o = try await client.call("POST", "/api/logs/clear", json: body).json as? [String: Any] ?? [:]
            return "run \(o["id"] ?? "") started (now latest)"
        default:
            throw ToolFailure("unknown tool \(name) (one of \(Self.tools.map(\.name).joined(separator: ", ")))")
        }
    }

    func required(_ a: [String: Value], _ k: String) throws -> String {
        guard let v = a[k]?.stringValue, !v.isEmpty else { throw ToolFailure("\(k) is required (a string)") }
        return v
    }
}

/// `nightshift mcp`: the MCP server over stdio.
public enum NightshiftMCPServer {
    /// A server with the tools, not yet started: stdio starts one for its life, `/mcp` one per
    /// HTTP request.
    public static func make(client: DaemonClient, version: String) async -> Server {
        let server = Server(
            name: "nightshift", version: version, capabilities: .init(tools: .init(listChanged: false)))
        let tools = NightshiftTools(client: client)
        await server.withMethodHandler(ListTools.self) { _ in .init(tools: NightshiftTools.tools) }
        await server.withMethodHandler(CallTool.self) { params in
            let (text, failed) = await tools.call(params.name, params.arguments ?? [:])
            return .init(content: [.text(text: text, annotations: nil, _meta: nil)], isError: failed)
        }
        return server
    }

    public static func run(client: DaemonClient, version: String) async throws {
        let server = await make(client: client, version: version)
        try await server.start(transport: StdioTransport())
        await server.waitUntilCompleted()
    }

    /// One streamable-HTTP POST (a JSON-RPC request or notification) answered by a fresh server
    /// over the SDK's `StatelessHTTPServerTransport`: JSON in, JSON out, no session and no SSE
    /// (the tools never send anything unasked). Every request stands alone, so a second client's
    /// `initialize` never meets an already initialized server.
    public static func handle(_ request: HTTPRequest, client: DaemonClient, version: String) async -> HTTPResponse {
        let server = await make(client: client, version: version)
        let transport = StatelessHTTPServerTransport()
        do {
            try await server.start(transport: transport)
        } catch {
            return .error(statusCode: 500, .internalError("the MCP server did not start: \(error)"))
        }
        let response = await transport.handleRequest(request)
        await server.stop()
        return response
    }
}
