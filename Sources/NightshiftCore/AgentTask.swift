import Foundation

/// One unit of agent work: the row of the `tasks` table and the JSON of the API (DESIGN.md).
public struct AgentTask: Codable, Hashable, Sendable, Identifiable {
    public var id: String
    public var taskType: TaskType
    public var direction: String
    public var status: TaskStatus
    public var priority: Int
    public var notBefore: Date?
    public var attempt: Int
    public var maxAttempts: Int
    public var executor: String?
    public var command: String?
    public var claimedBy: String?
    public var leaseExpiresAt: Date?
    public var heartbeatAt: Date?
    public var pid: Int32?
    public var pgid: Int32?
    public var decisionPrompt: String?
    public var decision: String?
    public var decidedAt: Date?
    public var exitCode: Int32?
    public var error: String?
    public var errorClass: String?
    public var outputTail: String?
    public var logPath: String?
    public var summary: String?
    public var verdict: String?
    public var feedback: String?
    public var costUSD: Double?
    public var tokensIn: Int?
    public var tokensOut: Int?
    public var backlogItem: String?
    public var phase: String?
    public var iteration: Int?
    public var parentID: String?
    public var dependsOn: [String]
    public var context: [String: JSONValue]
    public var createdAt: Date
    public var updatedAt: Date
    public var startedAt: Date?
    public var finishedAt: Date?
    /// The run that created it (`run_YYYYMMDD_HHMMSS_xxxx`); nil for tasks older than runs.
    public var runID: String?
    // Live metering of structured agents (`format: claude-stream-json | codex-jsonl`).
    /// Assistant turns of the task's attempts.
    public var turns: Int?
    /// Input tokens read from the prompt cache, and written to it (both also in `tokens_in`).
    public var tokensCacheRead: Int?
    public var tokensCacheWrite: Int?
    /// The last tool the agent used, and when it last said anything (a message or a tool event).
    public var lastTool: String?
    public var lastEventAt: Date?
    /// `reported` (the agent printed its total) or `estimated` (tokens × the price table).
    public var costSource: String?
    /// The agent's session (Claude's session id, Codex's thread id): a decision resumes it.
    public var sessionID: String?
    /// The model the agent reported (or the executor's).
    public var model: String?
    /// This task's own spend cap, when a decision raised it past `budget.per_task_usd`.
    public var budgetUSD: Double?

    enum CodingKeys: String, CodingKey {
        case id, direction, status, priority, attempt, executor, command, pid, pgid, decision, error, summary, verdict,
            feedback, phase, iteration, context
        case taskType = "task_type"
        case notBefore = "not_before"
        case maxAttempts = "max_attempts"
        case claimedBy = "claimed_by"
        case leaseExpiresAt = "lease_expires_at"
        case heartbeatAt = "heartbeat_at"
        case decisionPrompt = "decision_prompt"
        case decidedAt = "decided_at"
        case exitCode = "exit_code"
        case errorClass = "error_class"
        case outputTail = "output_tail"
        case logPath = "log_path"
        case costUSD = "cost_usd"
        case runID = "run_id"
        case turns, model
        case tokensCacheRead = "tokens_cache_read"
        case tokensCacheWrite = "tokens_cache_write"
        case lastTool = "last_tool"
        case lastEventAt = "last_event_at"
        case costSource = "cost_source"
        case sessionID = "session_id"
        case budgetUSD = "budget_usd"
        case tokensIn = "tokens_in"
        case tokensOut = "tokens_out"
        case backlogItem = "backlog_item"
        case parentID = "parent_id"
        case dependsOn = "depends_on"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
        case startedAt = "started_at"
        case finishedAt = "finished_at"
    }

    public init(
        id: String = TaskID.generate(), taskType: TaskType, direction: String, status: TaskStatus = .pending,
        priority: Int = 0, maxAttempts: Int = 3, executor: String? = nil, context: [String: JSONValue] = [:],
        backlogItem: String? = nil, phase: String? = nil, iteration: Int? = nil, parentID: String? = nil,
        dependsOn: [String] = [], now: Date
    ) {
        self.id = id
        self.taskType = taskType
        self.direction = direction
        self.status = status
        self.priority = priority
        self.attempt = 0
        self.maxAttempts = maxAttempts
        self.executor = executor
        self.context = context
        self.backlogItem = backlogItem
        self.phase = phase
        self.iteration = iteration
        self.parentID = parentID
        self.dependsOn = dependsOn
        self.createdAt = now
        self.updatedAt = now
    }

    /// Attempts left after the current one fails.
    public var hasAttemptsLeft: Bool { attempt < maxAttempts }

    /// Seconds the last (or current) attempt took, when it finished.
    public var durationSeconds: Double? {
        guard let s = startedAt, let f = finishedAt else { return nil }
        return f.timeIntervalSince(s)
    }

    // Encode every key, nulls included, so clients see the whole shape of a task.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(taskType, forKey: .taskType)
        try c.encode(direction, forKey: .direction)
        try c.encode(status, forKey: .status)
        try c.encode(priority, forKey: .priority)
        try c.encode(notBefore, forKey: .notBefore)
        try c.encode(attempt, forKey: .attempt)
        try c.encode(maxAttempts, forKey: .maxAttempts)
        try c.encode(executor, forKey: .executor)
        try c.encode(command, forKey: .command)
        try c.encode(claimedBy, forKey: .claimedBy)
        try c.encode(leaseExpiresAt, forKey: .leaseExpiresAt)
        try c.encode(heartbeatAt, forKey: .heartbeatAt)
        try c.encode(pid, forKey: .pid)
        try c.encode(pgid, forKey: .pgid)
        try c.encode(decisionPrompt, forKey: .decisionPrompt)
        try c.encode(decision, forKey: .decision)
        try c.encode(decidedAt, forKey: .decidedAt)
        try c.encode(exitCode, forKey: .exitCode)
        try c.encode(error, forKey: .error)
        try c.encode(errorClass, forKey: .errorClass)
        try c.encode(outputTail, forKey: .outputTail)
        try c.encode(logPath, forKey: .logPath)
        try c.encode(summary, forKey: .summary)
        try c.encode(verdict, forKey: .verdict)
        try c.encode(feedback, forKey: .feedback)
        try c.encode(costUSD, forKey: .costUSD)
        try c.encode(tokensIn, forKey: .tokensIn)
        try c.encode(tokensOut, forKey: .tokensOut)
        try c.encode(backlogItem, forKey: .backlogItem)
        try c.encode(phase, forKey: .phase)
        try c.encode(iteration, forKey: .iteration)
        try c.encode(parentID, forKey: .parentID)
        try c.encode(dependsOn, forKey: .dependsOn)
        try c.encode(context, forKey: .context)
        try c.encode(createdAt, forKey: .createdAt)
        try c.encode(updatedAt, forKey: .updatedAt)
        try c.encode(startedAt, forKey: .startedAt)
        try c.encode(finishedAt, forKey: .finishedAt)
        try c.encode(runID, forKey: .runID)
        try c.encode(turns, forKey: .turns)
        try c.encode(tokensCacheRead, forKey: .tokensCacheRead)
        try c.encode(tokensCacheWrite, forKey: .tokensCacheWrite)
        try c.encode(lastTool, forKey: .lastTool)
        try c.encode(lastEventAt, forKey: .lastEventAt)
        try c.encode(costSource, forKey: .costSource)
        try c.encode(sessionID, forKey: .sessionID)
        try c.encode(model, forKey: .model)
        try c.encode(budgetUSD, forKey: .budgetUSD)
    }
}
