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
        case nil, .null?:
            errors.append(
                .init(field: "task_type", message: "is required (one of \(known.map(\.rawValue).joined(separator: ", ")))"))
        case let v?:
            if let s = RequestBody.string(v, "task_type", &errors) {
                if known.contains(TaskType(s)) {
                    type = TaskType(s)
                } else {
                    errors.append(
                        .init(
                            field: "task_type",
                            message: "unknown type \"\(s)\" (one of \(known.map(\.rawValue).joined(separator: ", ")))"))
                }
            }
        }
        var priority = 0
        if let v = body["priority"], v != .null, let p = RequestBody.int(v, "priority", TaskValidation.priorityRange, &errors) {
            priority = p
        }
        var maxAttempts = config.runner.maxAttempts
        if let v = body["max_attempts"], v != .null,
            let m = RequestBody.int(v, "max_attempts", TaskValidation.maxAttemptsRange, &errors)
        {
            maxAttempts = m
        }
        var executor: String?
        if let v = body["executor"], v != .null, let e = RequestBody.string(v, "executor", &errors) {
            if config.runner.executors[e] != nil {
                executor = e
            } else {
                errors.append(
                    .init(
                        field: "executor",
                        message:
                            "unknown executor \"\(e)\" (configured: \(config.runner.executors.keys.sorted().joined(separator: ", ")))"
                    ))
            }
        }
        var context: [String: JSONValue] = [:]
        if let v = body["context"], v != .null {
            if case .object(let o) = v {
                context = o
            } else {
                errors.append(.init(field: "context", message: "must be a JSON object"))
            }
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

/// `PATCH /api/agent/tasks/{id}`: a status change (a decision, a cancel or a retry), a new
/// priority, or one of each. The store applies both in one transaction, so a refused status
/// change leaves the priority as it was. `decision` and `status` are two different status
/// changes and cannot be combined.
struct TaskPatch: Equatable {
    enum Transition: Equatable {
        case decide(String)
        case cancel
        case retry
    }

    var transition: Transition?
    var priority: Int?

    static let fields: Set<String> = ["decision", "status", "priority"]

    static func parse(_ body: [String: JSONValue]) throws -> TaskPatch {
        if body.isEmpty { throw Problem.badRequest("empty patch: send decision, status or priority") }
        var errors = RequestBody.unknownKeys(body, allowed: fields)
        if !errors.isEmpty { throw Problem.invalid(errors) }
        if body["decision"] != nil && body["status"] != nil {
            throw Problem.invalid(
                ["decision", "status"].map {
                    .init(field: $0, message: "send decision or status, not both (either may come with priority)")
                })
        }
        var patch = TaskPatch()
        if let v = body["decision"], let s = RequestBody.string(v, "decision", &errors) {
            let d = s.trimmingCharacters(in: TaskValidation.blank)
            // Code points, as the spec's maxLength and the direction rule count them.
            if !d.isEmpty, d.unicodeScalars.count <= TaskValidation.directionLimit {
                patch.transition = .decide(d)
            } else {
                errors.append(.init(field: "decision", message: "must be 1 to \(TaskValidation.directionLimit) characters"))
            }
        }
        if let v = body["status"], let s = RequestBody.string(v, "status", &errors) {
            switch s {
            case "cancelled": patch.transition = .cancel
            case "pending": patch.transition = .retry
            default:
                errors.append(
                    .init(
                        field: "status", message: "can only be set to \"cancelled\" (cancel) or \"pending\" (retry a failed task)"
                    ))
            }
        }
        if let v = body["priority"] { patch.priority = RequestBody.int(v, "priority", TaskValidation.priorityRange, &errors) }
        if !errors.isEmpty { throw Problem.invalid(errors) }
        return patch
    }
}
