import Foundation
import Hummingbird
import NightshiftCore
import NightshiftRuntime
import NightshiftStore
import ServiceLifecycle

/// Pipeline views: status, monitor and fatal issues, effectiveness, and the event stream.
struct PipelineRoutes {
    let env: ServiceEnvironment
    let views: PipelineViews

    struct TaskBrief: Encodable {
        var id: String
        var taskType: TaskType
        var status: TaskStatus
        var phase: String?
        var backlogItem: String?
        var attempt: Int
        var startedAt: Date?
        var decisionPrompt: String?
        var direction: String
        // Live metering (structured agents; what plain ones report at exit).
        var costUSD: Double?
        var costSource: String?
        var tokensIn: Int?
        var tokensOut: Int?
        var turns: Int?
        var lastTool: String?
        var lastEventAt: Date?
        var notBefore: Date?
        var errorClass: String?
        enum CodingKeys: String, CodingKey {
            case id, status, phase, attempt, direction, turns
            case taskType = "task_type"
            case backlogItem = "backlog_item"
            case startedAt = "started_at"
            case decisionPrompt = "decision_prompt"
            case costUSD = "cost_usd"
            case costSource = "cost_source"
            case tokensIn = "tokens_in"
            case tokensOut = "tokens_out"
            case lastTool = "last_tool"
            case lastEventAt = "last_event_at"
            case notBefore = "not_before"
            case errorClass = "error_class"
        }
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(id, forKey: .id)
            try c.encode(taskType, forKey: .taskType)
            try c.encode(status, forKey: .status)
            try c.encode(phase, forKey: .phase)
            try c.encode(backlogItem, forKey: .backlogItem)
            try c.encode(attempt, forKey: .attempt)
            try c.encode(startedAt, forKey: .startedAt)
            try c.encode(decisionPrompt, forKey: .decisionPrompt)
            try c.encode(direction, forKey: .direction)
            try c.encode(costUSD, forKey: .costUSD)
            try c.encode(costSource, forKey: .costSource)
            try c.encode(tokensIn, forKey: .tokensIn)
            try c.encode(tokensOut, forKey: .tokensOut)
            try c.encode(turns, forKey: .turns)
            try c.encode(lastTool, forKey: .lastTool)
            try c.encode(lastEventAt, forKey: .lastEventAt)
            try c.encode(notBefore, forKey: .notBefore)
            try c.encode(errorClass, forKey: .errorClass)
        }
        init(_ t: AgentTask) {
            id = t.id
            taskType = t.taskType
            status = t.status
            phase = t.phase
            backlogItem = t.backlogItem
            attempt = t.attempt
            startedAt = t.startedAt
            decisionPrompt = t.decisionPrompt
            direction = String(t.direction.prefix(200))
            costUSD = t.costUSD
            costSource = t.costSource
            tokensIn = t.tokensIn
            tokensOut = t.tokensOut
            turns = t.turns
            lastTool = t.lastTool
            lastEventAt = t.lastEventAt
            notBefore = t.notBefore
            errorClass = t.errorClass
        }
    }

    /// The `budget` section: the caps, the spend, whether new work waits, and how each cap is
    /// enforced.
    struct BudgetStatus: Encodable {
        var view: AgentBoard.BudgetView
        var enforcement: BudgetEnforcement
        func encode(to encoder: any Encoder) throws {
            try view.encode(to: encoder)
            try enforcement.encode(to: encoder)
        }
    }

    /// An executor paused by a usage limit.
    struct PausedExecutor: Encodable {
        var pause: ExecutorPause
        var line: String
        enum CodingKeys: String, CodingKey { case executor, until, reason, line }
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(pause.executor, forKey: .executor)
            try c.encode(pause.until, forKey: .until)
            try c.encode(pause.reason, forKey: .reason)
            try c.encode(line, forKey: .line)
        }
    }

    func register(_ r: RouteRecorder) {
        r.on(.get, "/api/agent/pipeline-status") { _, _ in try await pipelineStatus() }
        r.on(.get, "/api/agent/monitor-issues") { request, _ in
            let raw = request.uri.queryParameters.get("include_resolved") ?? "false"
            guard let include = ["true": true, "1": true, "false": false, "0": false][raw.lowercased()] else {
                throw Problem.invalid("include_resolved", "must be true or false")
            }
            // Open first whatever order the view gives (stable, so each part keeps its order).
            let all = await views.monitorIssues(include)
            let isOpen = { (i: JSONValue) in i.objectValue?["resolved_at"] ?? .null == .null }
            let issues = all.filter(isOpen) + all.filter { !isOpen($0) }
            let open = issues.filter(isOpen).count
            return try JSONResponse.make(JSONValue.object(["issues": .array(issues), "open": .number(Double(open))]))
        }
        r.on(.get, "/api/agent/fatal-issues") { _, _ in
            let issues = await views.fatalIssues()
            return try JSONResponse.make(JSONValue.object(["issues": .array(issues), "count": .number(Double(issues.count))]))
        }
        r.on(.get, "/api/agent/effectiveness") { _, _ in try await effectiveness() }
        r.on(.get, "/api/agent/pm") { _, _ in try JSONResponse.make(await views.projectManager()) }
        r.on(.post, "/api/agent/pm/pause") { _, _ in try await setPaused(true) }
        r.on(.post, "/api/agent/pm/resume") { _, _ in try await setPaused(false) }
    }

    func setPaused(_ paused: Bool) async throws -> Response {
        guard let set = views.setPaused else {
            throw Problem(
                .conflict, type: "pm_disabled", title: "Conflict",
                detail: "the project manager is disabled (project_manager.backlog is empty)")
        }
        try await set(paused)
        return try JSONResponse.make(await views.projectManager())
    }

    /// `GET /api/agent/pipeline-status`, encoded in one pass.
    struct PipelineStatus: Encodable {
        struct Component: Encodable {
            var lastBeat: Date
            var ageSeconds: Double
            var running: Bool
            enum CodingKeys: String, CodingKey {
                case running
                case lastBeat = "last_beat"
                case ageSeconds = "age_seconds"
            }
        }
        struct MonitorSummary: Encodable {
            var openIssues: Int
            enum CodingKeys: String, CodingKey { case openIssues = "open_issues" }
        }
        var generatedAt: Date
        var counts: [String: Int]
        var running: [TaskBrief]
        var pending: [TaskBrief]
        var pendingCount: Int
        var needsDecision: [TaskBrief]
        var runningByPhase: [String: Int]
        var workers: Int
        var projectManager: JSONValue
        var monitor: MonitorSummary
        var attention: [JSONValue]
        var components: [String: Component]
        var budget: BudgetStatus
        var pausedExecutors: [PausedExecutor]
        enum CodingKeys: String, CodingKey {
            case counts, running, pending, workers, monitor, attention, components, budget
            case pausedExecutors = "paused_executors"
            case generatedAt = "generated_at"
            case pendingCount = "pending_count"
            case needsDecision = "needs_decision"
            case runningByPhase = "running_by_phase"
            case projectManager = "project_manager"
        }
    }

    func pipelineStatus() async throws -> Response {
        let counts = try await env.store.countByStatus()
        let running = try await env.store.list(TaskQuery(statuses: [.running], limit: 100)).tasks
        let waiting = try await env.store.list(TaskQuery(statuses: [.needsDecision], limit: 100)).tasks
        var nextUp = TaskQuery(statuses: [.pending], limit: 20)
        nextUp.order = .claim
        let pending = try await env.store.list(nextUp).tasks
        var byPhase: [String: Int] = [:]
        for t in running { byPhase[t.phase ?? t.taskType.rawValue, default: 0] += 1 }
        let now = env.now()
        let runningComponents = env.health.runningComponents
        var components: [String: PipelineStatus.Component] = [:]
        for (name, at) in env.health.heartbeats {
            components[name] = .init(
                lastBeat: at, ageSeconds: (now.timeIntervalSince(at) * 10).rounded() / 10,
                running: runningComponents.contains(name))
        }
        return try JSONResponse.make(
            PipelineStatus(
                generatedAt: now, counts: Dictionary(uniqueKeysWithValues: counts.map { ($0.key.rawValue, $0.value) }),
                running: running.map(TaskBrief.init), pending: pending.map(TaskBrief.init), pendingCount: counts[.pending] ?? 0,
                needsDecision: waiting.map(TaskBrief.init), runningByPhase: byPhase, workers: env.config.runner.workers,
                projectManager: await views.projectManager(),
                monitor: .init(openIssues: await views.monitorIssues(false).count), attention: await views.attention(),
                components: components,
                budget: BudgetStatus(
                    view: env.agents.budget,
                    enforcement: BudgetEnforcement.of(
                        env.config.budget, formats: env.config.runner.executors.values.map(\.format),
                        largestCallUSD: nil)),
                pausedExecutors: env.agents.pauses.filter { $0.until > now }.map {
                    PausedExecutor(pause: $0, line: AgentBoard.describe($0))
                }))
    }

    func effectiveness() async throws -> Response {
        try JSONResponse.make(JSONValue.object(await views.effectiveness()))
    }
}
