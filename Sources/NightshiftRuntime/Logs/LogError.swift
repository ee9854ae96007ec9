import NightshiftCore

/// What the log service refused, with a code the API maps to one status (STYLE 8).
public struct LogError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable {
        /// A parameter is wrong (422, `field` names it).
        case invalid
        /// No such run (404).
        case notFound = "not_found"
    }
    public var code: Code
    public var field: String?
    public var message: String
    public init(_ code: Code, field: String? = nil, _ message: String) {
        self.code = code
        self.field = field
        self.message = message
    }
    public var description: String { field.map { "\($0): \(message)" } ?? message }
}

/// Log levels in order, for "this level and above" filters.
public enum LogLevels {
    public static let ordered = [
        "trace", "debug", "info", "warning", "error", "critical", "fatal", "alert", "panic", "emergency",
    ]

    /// The levels at or above `level`; nil when `level` is not one of `ordered`.
    public static func atLeast(_ level: String) -> [String]? {
        guard let norm = LogIngestParser.normalizeLevel(level), let i = ordered.firstIndex(of: norm) else { return nil }
        return Array(ordered[i...])
    }
}
