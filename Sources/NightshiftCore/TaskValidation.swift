import Foundation

/// The rules a new task must meet, shared by the API (422 with the field) and the store.
public enum TaskValidation {
    public static let directionLimit = 5000
    public static let priorityRange = -1_000_000...1_000_000
    public static let maxAttemptsRange = 1...100

    /// A field that broke a rule, and why.
    public struct Problem: Error, Equatable, Sendable {
        public var field: String
        public var reason: String
        public init(field: String, reason: String) {
            self.field = field
            self.reason = reason
        }
    }

    /// The direction after trimming, or a problem.
    public static func direction(_ raw: String) -> Result<String, Problem> {
        let trimmed = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.isEmpty { return .failure(Problem(field: "direction", reason: "must not be empty")) }
        // Counted in code points, as SQLite's length() (the CHECK constraint) counts them.
        let length = trimmed.unicodeScalars.count
        if length > directionLimit {
            return .failure(Problem(field: "direction", reason: "must be at most \(directionLimit) characters, got \(length)"))
        }
        return .success(trimmed)
    }

    /// Every problem with a task about to be inserted.
    public static func problems(_ t: AgentTask) -> [Problem] {
        var out: [Problem] = []
        if !TaskID.isValid(t.id) { out.append(Problem(field: "id", reason: "must be task_ followed by 16 hex characters")) }
        if case .failure(let p) = direction(t.direction) { out.append(p) }
        if !TaskType.isValidName(t.taskType.rawValue) {
            out.append(Problem(field: "task_type", reason: "must be a-z, 0-9, _ or -, starting with a letter"))
        }
        if !priorityRange.contains(t.priority) {
            out.append(
                Problem(field: "priority", reason: "must be between \(priorityRange.lowerBound) and \(priorityRange.upperBound)"))
        }
        if !maxAttemptsRange.contains(t.maxAttempts) {
            out.append(Problem(field: "max_attempts", reason: "must be between 1 and \(maxAttemptsRange.upperBound)"))
        }
        if t.dependsOn.contains(t.id) { out.append(Problem(field: "depends_on", reason: "a task cannot depend on itself")) }
        return out
    }
}
