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
