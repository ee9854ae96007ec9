import Foundation
import HTTPTypes
import Hummingbird
import NightshiftCore
import NightshiftRuntime
import NightshiftStore
import ServiceLifecycle

/// A task's history and the event stream, both read from `task_events`.
struct EventRoutes {
    let env: ServiceEnvironment

    /// Events sent per read of the table while catching up.
    static let page = 500

    func register(_ r: RouteRecorder) {
        r.on(.get, "/api/agent/events") { request, _ in try await stream(request) }
        r.on(.get, "/api/agent/tasks/{id}/events") { _, context in
            let id = context.parameters.get("id") ?? ""
            guard TaskID.isValid(id) else {
                throw Problem.notFound("no task with id \(id) (ids look like task_0123456789abcdef)")
            }
            return try await history(id)
        }
    }

    /// `GET /api/agent/tasks/{id}/events`: every transition of one task, oldest first.
    func history(_ id: String) async throws -> Response {
        let events = try await env.store.events(taskID: id)
        return try JSONResponse.make(TaskHistory(taskID: id, events: events))
    }

    /// Where a stream starts: after `Last-Event-ID` (or `?after=`), else after the newest event.
    func startingPoint(_ request: Request) async throws -> Int64 {
        let header = request.headers[HTTPField.Name("Last-Event-ID")!]
        let given: String? = header ?? request.uri.queryParameters.get("after").map { String($0) }
        guard let given else { return try await env.store.lastEventID() }
        guard let id = Int64(given.trimmingCharacters(in: CharacterSet.whitespaces)), id >= 0 else {
            throw Problem.invalid("after", "must be an event id (a whole number, 0 for the whole history), got \"\(given)\"")
        }
        return id
    }

    /// `GET /api/agent/events`: server-sent events, one `task` event per row of `task_events`
    /// with `id:` set to its id, strictly in id order. A client that reconnects with
    /// `Last-Event-ID` (or `?after=`) gets every event after it from the table, then the live
    /// ones: no gap, no duplicate. A live event that arrives ahead of one not yet seen (two
    /// transactions announcing out of order, or a slow client's dropped buffer) makes the
    /// stream read the missing ones from the table first. Running structured agents' live
    /// metering comes as `meter` events without an `id:`, and `signal` events (no `id:`) say
    /// that the monitor's issues or the backlog may have changed. The stream asks clients to
    /// reconnect after a second.
    func stream(_ request: Request) async throws -> Response {
        let after = try await startingPoint(request)
        // Subscribe before reading the table, so nothing committed in between is missed.
        let live = env.events.subscribe()
        let meters = env.events.subscribeMeters()
        let signals = env.events.subscribeSignals()
        let store = env.store
        let body = ResponseBody { writer in
            try await writer.write(ByteBuffer(string: ": nightshift task events\n\nretry: 1000\n\n"))
            var last = after
            func send(_ event: TaskEventRecord, _ task: AgentTask?) async throws {
                try await writer.write(ByteBuffer(string: Self.frame(event, task)))
                last = event.id
            }
            func catchUp(to target: Int64?) async throws {
                while true {
                    let batch = try await store.events(after: last, limit: Self.page)
                    var tasks: [String: AgentTask] = [:]
                    for e in batch where target == nil || e.id <= target! {
                        if tasks[e.taskID] == nil { tasks[e.taskID] = try? await store.get(e.taskID) }
                        try await send(e, tasks[e.taskID])
                    }
                    if batch.count < Self.page || (target.map { last >= $0 } ?? false) { return }
                }
            }
            try await catchUp(to: nil)
            // History entries and live metering, in one stream.
            let (merged, sink) = AsyncStream<Live>.makeStream(bufferingPolicy: .bufferingNewest(4096))
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    for await change in live { sink.yield(.change(change)) }
                    sink.finish()
                }
                group.addTask {
                    for await task in meters { sink.yield(.meter(task)) }
                    sink.finish()
                }
                group.addTask {
                    for await signal in signals { sink.yield(.signal(signal)) }
                    sink.finish()
                }
                // Ends on graceful shutdown, so an open stream does not hold up the server's drain.
                for await item in merged.cancelOnGracefulShutdown() {
                    switch item {
                    case .change(let change):
                        let id = change.event.id
                        if id <= last { continue }
                        if id > last + 1 { try await catchUp(to: id - 1) }
                        if id > last { try await send(change.event, change.task) }
                    case .meter(let task):
                        try await writer.write(ByteBuffer(string: Self.meterFrame(task)))
                    case .signal(let signal):
                        try await writer.write(ByteBuffer(string: "event: signal\ndata: {\"topic\":\"\(signal.rawValue)\"}\n\n"))
                    }
                }
                group.cancelAll()
            }
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"], body: body)
    }

    enum Live: Sendable {
        case change(TaskChange)
        case meter(AgentTask)
        case signal(PipelineSignal)
    }

    /// A running task's live metering: `event: meter` with data `{task}` and no `id:` (it is
    /// not a history entry, so a client's `Last-Event-ID` stays on the last one).
    static func meterFrame(_ task: AgentTask) -> String {
        let t = (try? JSONEncoder.nightshift().encode(task)).map { String(decoding: $0, as: UTF8.self) } ?? "null"
        return "event: meter\ndata: {\"task\":\(t)}\n\n"
    }

    /// One SSE frame: `event: task`, `id:` the event id, and data `{change, event, task}`.
    static func frame(_ event: TaskEventRecord, _ task: AgentTask?) -> String {
        let enc = JSONEncoder.nightshift()
        let e = (try? enc.encode(event)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        let t = task.flatMap { try? enc.encode($0) }.map { String(decoding: $0, as: UTF8.self) } ?? "null"
        return "event: task\nid: \(event.id)\ndata: {\"change\":\"\(event.kind.rawValue)\",\"event\":\(e),\"task\":\(t)}\n\n"
    }
}
