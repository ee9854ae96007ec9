/// Where a task is in its lifecycle. Stored as text; the store's CHECK constraint lists these.
public enum TaskStatus: String, Codable, CaseIterable, Sendable, Hashable {
    case pending
    case running
    case needsDecision = "needs_decision"
    case completed
    case failed
    case cancelled

    /// A terminal status never changes again except by an operator retry (`failed` only).
    public var isTerminal: Bool {
        switch self {
        case .completed, .failed, .cancelled: return true
        case .pending, .running, .needsDecision: return false
        }
    }
}
