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

    /// What trimming removes: the white space of ECMAScript's `\s`, which the API contract's
    /// `pattern: "\S"` uses, so a text the schema accepts is never empty here (Foundation's
    /// `whitespacesAndNewlines` also holds U+0085, which `\S` matches, and lacks U+FEFF).
    public static let blank: CharacterSet = {
        var set = CharacterSet(charactersIn: "\u{09}\u{0A}\u{0B}\u{0C}\u{0D}\u{20}\u{A0}\u{FEFF}\u{2028}\u{2029}")
        set.formUnion(CharacterSet(charactersIn: "\u{1680}\u{2000}\u{2001}\u{2002}\u{2003}\u{2004}\u{2005}\u{2006}"))
        set.formUnion(CharacterSet(charactersIn: "\u{2007}\u{2008}\u{2009}\u{200A}\u{202F}\u{205F}\u{3000}"))
        return set
    }()

    /// The direction after trimming, or a problem.
    public static func direction(_ raw: String) -> Result<String, Problem> {
        let trimmed = raw.trimmingCharacters(in: blank)
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
