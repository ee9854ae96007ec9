import Foundation
import NightshiftCore

/// `POST /api/agent/tasks`: checks every field against the task model and the config.
enum NewTaskRequest {
    static let fields: Set<String> = ["direction", "task_type", "priority", "max_attempts", "executor", "context", "depends_on"]

    static func parse(_ body: [String: JSONValue], config: NightshiftConfig, now: Date) throws -> AgentTask {
        var errors = RequestBody.unknownKeys(body, allowed: fields)
        var direction: String?
        switch body["direction"] {
        case nil, .null?: errors.append(.init(field: "direction", message: "is required"))
        case let v?:
            if let s = RequestBody.string(v, "direction", &errors) {
                switch TaskValidation.direction(s) {
                case .success(let d): direction = d
                case .failure(let p): errors.append(.init(field: p.field, message: p.reason))
                }
            }
        }
        var type: TaskType?
        let known = config.allTaskTypes
        switch body["task_type"] {
        case nil, .null?: errors.append(.init(field: "task_type", message: "is required (one of \(known.map(\.rawValue).joined(separator: ", ")))"))
        case let v?:
            if let s = RequestBody.string(v, "task_type", &errors) {
                if known.contains(TaskType(s)) {
                    type = TaskType(s)
                } else {
                    errors.append(.init(field: "task_type", message: "unknown type \"\(s)\" (one of \(known.map(\.rawValue).joined(separator: ", ")))"))
                }
            }
        }
        var priority = 0
        if let v = body["priority"], v != .null, let p = RequestBody.int(v, "priority", TaskValidation.priorityRange, &errors) { priority = p }
        var maxAttempts = config.runner.maxAttempts
        if let v = body["max_attempts"], v != .null, let m = RequestBody.int(v, "max_attempts", TaskValidation.maxAttemptsRange, &errors) {
            maxAttempts = m
        }
        var executor: String?
        if let v = body["executor"], v != .null, let e = RequestBody.string(v, "executor", &errors) {
            if config.runner.executors[e] != nil {
                executor = e
            } else {
                errors.append(.init(field: "executor", message: "unknown executor \"\(e)\" (configured: \(config.runner.executors.keys.sorted().joined(separator: ", ")))"))
            }
        }
        var context: [String: JSONValue] = [:]
        if let v = body["context"], v != .null {
            if case .object(let o) = v { context = o } else { errors.append(.init(field: "context", message: "must be a JSON object")) }
        }
        var dependsOn: [String] = []
        if let v = body["depends_on"], v != .null {
            if case .array(let items) = v, items.allSatisfy({ $0.stringValue.map(TaskID.isValid) ?? false }) {
                dependsOn = items.compactMap(\.stringValue)
            } else {
                errors.append(.init(field: "depends_on", message: "must be a list of task ids"))
            }
        }
        guard errors.isEmpty, let direction, let type else { throw Problem.invalid(errors) }
        return AgentTask(
            taskType: type, direction: direction, priority: priority, maxAttempts: maxAttempts, executor: executor,
            context: context, dependsOn: dependsOn, now: now)
    }
}

/// `PATCH /api/agent/tasks/{id}`: one change per request, so each is one transaction.
enum TaskPatch: Equatable {
    case decide(String)
    case cancel
    case retry
    case priority(Int)

    static let fields: Set<String> = ["decision", "status", "priority"]

    static func parse(_ body: [String: JSONValue]) throws -> TaskPatch {
        if body.isEmpty { throw Problem.badRequest("empty patch: send one of decision, status or priority") }
        var errors = RequestBody.unknownKeys(body, allowed: fields)
        if !errors.isEmpty { throw Problem.invalid(errors) }
        if body.count > 1 {
            throw Problem.invalid(body.keys.sorted().map { .init(field: $0, message: "send one of decision, status or priority per request") })
        }
        let (key, value) = body.first!
        switch key {
        case "decision":
            guard let s = RequestBody.string(value, "decision", &errors) else { throw Problem.invalid(errors) }
            let d = s.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !d.isEmpty, d.count <= TaskValidation.directionLimit else {
                throw Problem.invalid("decision", "must be 1 to \(TaskValidation.directionLimit) characters")
            }
            return .decide(d)
        case "status":
            guard let s = RequestBody.string(value, "status", &errors) else { throw Problem.invalid(errors) }
            switch s {
            case "cancelled": return .cancel
            case "pending": return .retry
            default: throw Problem.invalid("status", "can only be set to \"cancelled\" (cancel) or \"pending\" (retry a failed task)")
            }
        default:
            guard let p = RequestBody.int(value, "priority", TaskValidation.priorityRange, &errors) else { throw Problem.invalid(errors) }
            return .priority(p)
        }
    }
}
