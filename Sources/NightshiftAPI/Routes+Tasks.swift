import Foundation
import Hummingbird
import NightshiftCore
import NightshiftRuntime
import NightshiftStore

/// `/api/agent/tasks*`: the task resource.
struct TaskRoutes {
    let env: ServiceEnvironment
    let bodyLimit: Int

    struct Count: Encodable {
        var total: Int
        var byStatus: [String: Int]
        enum CodingKeys: String, CodingKey {
            case total
            case byStatus = "by_status"
        }
    }

    func register(_ r: RouteRecorder) {
        r.on(.get, "/api/agent/tasks") { request, _ in try await list(request) }
        r.on(.post, "/api/agent/tasks") { request, _ in try await create(request) }
        r.on(.get, "/api/agent/tasks/count") { _, _ in try await count() }
        r.on(.get, "/api/agent/tasks/{id}") { _, context in
            let task = try await env.store.get(try taskID(context))
            var w = JSONWriter(capacity: 2048)
            try task.writeJSON(to: &w)
            return JSONResponse.bytes(w)
        }
        r.on(.patch, "/api/agent/tasks/{id}") { request, context in try await patch(request, id: try taskID(context)) }
        r.on(.get, "/api/agent/tasks/{id}/log") { request, context in try await log(request, id: try taskID(context)) }
    }

    func taskID(_ context: APIContext) throws -> String {
        let id = context.parameters.get("id") ?? ""
        guard TaskID.isValid(id) else { throw Problem.notFound("no task with id \(id) (ids look like task_0123456789abcdef)") }
        return id
    }

    func list(_ request: Request) async throws -> Response {
        let q = request.uri.queryParameters
        var errors: [Problem.FieldError] = []
        var query = TaskQuery()
        if let s = q.get("status") {
            for part in Self.listItems(s) {
                if let st = TaskStatus(rawValue: part) {
                    query.statuses.append(st)
                } else {
                    errors.append(
                        .init(
                            field: "status",
                            message:
                                "unknown status \"\(part)\" (one of \(TaskStatus.allCases.map(\.rawValue).joined(separator: ", ")))"
                        ))
                }
            }
        }
        if let t = q.get("task_type") {
            let known = env.config.allTaskTypes
            for part in Self.listItems(t) {
                if known.contains(TaskType(part)) {
                    query.taskTypes.append(TaskType(part))
                } else {
                    errors.append(
                        .init(
                            field: "task_type",
                            message:
                                "unknown task type \"\(part)\" (configured: \(known.map(\.rawValue).joined(separator: ", ")))"))
                }
            }
        }
        if let l = q.get("limit") {
            if let n = Int(l), (1...100).contains(n) {
                query.limit = n
            } else {
                errors.append(.init(field: "limit", message: "must be a whole number from 1 to 100"))
            }
        }
        if let o = q.get("offset") {
            if let n = Int(o), n >= 0 {
                query.offset = n
            } else {
                errors.append(.init(field: "offset", message: "must be a whole number ≥ 0"))
            }
        }
        if let a = q.get("after") {
            if let cursor = TaskCursor(a) {
                query.after = cursor
                if query.offset > 0 { errors.append(.init(field: "after", message: "page by after or by offset, not both")) }
            } else {
                errors.append(.init(field: "after", message: "not a cursor this server gave (use the list's next)"))
            }
        }
        var fields = AgentTask.FieldSet.all
        if let f = q.get("fields") {
            do {
                fields = try AgentTask.FieldSet(names: Self.listItems(f))
            } catch {
                errors.append(
                    .init(
                        field: "fields",
                        message: "unknown field \"\(error.name)\" (one of \(AgentTask.fieldNames.joined(separator: ", ")))"))
            }
        }
        if let item = q.get("backlog_item"), !item.isEmpty { query.backlogItem = item }
        if !errors.isEmpty { throw Problem.invalid(errors) }
        let page = try await env.store.list(query)
        return JSONResponse.bytes(try Self.listJSON(page, limit: query.limit, offset: query.offset, fields: fields))
    }

    /// The list document, keys sorted as the encoder sorts them:
    /// `{"limit":…,"next":…,"offset":…,"tasks":[…],"total":…}`.
    static func listJSON(_ page: TaskPage, limit: Int, offset: Int, fields: AgentTask.FieldSet) throws -> JSONWriter {
        var w = JSONWriter(capacity: 256 + page.tasks.count * 1536)
        w.raw("{\"limit\":")
        w.int(limit)
        w.raw(",\"next\":")
        w.optional(page.next) { $0.string($1.description) }
        w.raw(",\"offset\":")
        w.int(offset)
        w.raw(",\"tasks\":[")
        for (i, task) in page.tasks.enumerated() {
            if i > 0 { w.raw(UInt8(ascii: ",")) }
            try task.writeJSON(to: &w, fields: fields)
        }
        w.raw("],\"total\":")
        w.int(page.total)
        w.raw(UInt8(ascii: "}"))
        return w
    }

    /// The items of a comma-separated filter, spaces around them dropped. An empty item (an empty
    /// value, or a stray comma) stays in, so that it is refused like any unknown value.
    static func listItems(_ value: String) -> [String] {
        value.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: [" "]) }
    }

    func create(_ request: Request) async throws -> Response {
        let body = try await RequestBody.object(request, limit: bodyLimit)
        let task = try NewTaskRequest.parse(body, config: env.config, now: env.now())
        if let free = DiskSpace.freeBytes(env.paths.root), free < DiskSpace.fullBelowBytes {
            throw Problem.diskFull(
                "only \(free >> 20) MiB free in the state dir \(env.paths.root) (new work needs \(DiskSpace.fullBelowBytes >> 20) MiB)"
            )
        }
        let created = try await env.ledger.create(task, by: "api")
        return try JSONResponse.make(created, status: .created, headers: [.location: "/api/agent/tasks/\(created.id)"])
    }

    func count() async throws -> Response {
        let counts = try await env.store.countByStatus()
        return try JSONResponse.make(
            Count(
                total: counts.values.reduce(0, +),
                byStatus: Dictionary(uniqueKeysWithValues: counts.map { ($0.key.rawValue, $0.value) })))
    }

    func patch(_ request: Request, id: String) async throws -> Response {
        let body = try await RequestBody.object(request, limit: bodyLimit)
        let change = try TaskPatch.parse(body)
        let now = env.now()
        let updated: AgentTask
        switch change.transition {
        case .decide(let d)?:
            updated = try await env.ledger.decide(id: id, decision: d, priority: change.priority, by: "api", now: now)
        case .cancel?:
            updated = try await env.ledger.cancel(
                id: id, reason: "cancelled by operator", priority: change.priority, by: "api", now: now)
        case .retry?:
            updated = try await env.ledger.retry(id: id, priority: change.priority, by: "api", now: now)
        case nil:
            guard let priority = change.priority else {
                throw Problem.badRequest("empty patch: send decision, status or priority")
            }
            updated = try await env.ledger.setPriority(id: id, priority: priority, by: "api", now: now)
        }
        return try JSONResponse.make(updated)
    }

    func log(_ request: Request, id: String) async throws -> Response {
        var lines = 200
        if let t = request.uri.queryParameters.get("tail") {
            guard let n = Int(t), (1...10_000).contains(n) else {
                throw Problem.invalid("tail", "must be a whole number from 1 to 10000")
            }
            lines = n
        }
        var local = false
        if let l = request.uri.queryParameters.get("local") {
            guard let b = Bool(l) else { throw Problem.invalid("local", "must be true or false") }
            local = b
        }
        let task = try await env.store.get(id)
        // The node that ran it wrote it; on another machine its path is not here: ask the others.
        for path in [task.logPath, env.paths.taskLog(id)].compactMap({ $0 }) where FileManager.default.fileExists(atPath: path) {
            return JSONResponse.text(LogTail.lastLines(of: path, count: lines) ?? "")
        }
        if !local, let text = await NodeLogs.fetch(taskID: id, tail: lines, env: env) { return JSONResponse.text(text) }
        return JSONResponse.text("")
    }
}
