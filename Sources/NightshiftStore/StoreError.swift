import NightshiftCore

/// What a store operation refused, with a code a caller can switch on. The API maps each code
/// to one HTTP status (404, 409, 422, 503).
public struct StoreError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable, Equatable {
        /// No task has that id.
        case notFound = "not_found"
        /// The event is not legal in the task's current status; nothing changed.
        case illegalTransition = "illegal_transition"
        /// The caller no longer holds the task (it was rescued, cancelled or claimed elsewhere).
        case lostClaim = "lost_claim"
        /// A value broke a rule of the task model (field named in `field`).
        case invalid
        /// A task with that id already exists.
        case duplicate
        /// The database could not be opened, read or written.
        case unavailable
        /// The disk that holds the database is full: reads still work, writes wait for space.
        case diskFull = "disk_full"
    }

    public var code: Code
    public var message: String
    /// The field at fault, for `invalid`.
    public var field: String?
    /// The task's status when a transition was refused.
    public var currentStatus: TaskStatus?

    public init(_ code: Code, _ message: String, field: String? = nil, currentStatus: TaskStatus? = nil) {
        self.code = code
        self.message = message
        self.field = field
        self.currentStatus = currentStatus
    }

    public var description: String { "\(code.rawValue): \(message)" }

    /// No task has `id` (every store words it the same).
    public static func notFound(_ id: String) -> StoreError { StoreError(.notFound, "no task with id \(id)") }

    /// `event` is not legal for task `id` in `status`.
    public static func illegal(_ id: String, _ status: TaskStatus, _ event: TaskEvent) -> StoreError {
        let allowed = TaskStateMachine.sources(of: event).map(\.rawValue).joined(separator: ", ")
        return StoreError(
            .illegalTransition,
            "task \(id) is \(status.rawValue); \(event.rawValue) is only allowed from \(allowed)",
            currentStatus: status)
    }
}
