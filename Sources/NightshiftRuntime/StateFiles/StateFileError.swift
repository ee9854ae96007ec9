import Foundation

/// A state file (fatal issues, monitor issues, a report) that exists but cannot be read or
/// parsed. Readers that decide something from such a file fail closed with it.
public struct StateFileError: Error, CustomStringConvertible, Sendable, Equatable {
    public var path: String
    public var reason: String

    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    public var description: String { "cannot read \(path): \(reason)" }

    /// A decoding error in one line (the path in the document and what was wrong).
    public static func describe(_ error: Error) -> String {
        switch error {
        case DecodingError.dataCorrupted(let c), DecodingError.keyNotFound(_, let c), DecodingError.typeMismatch(_, let c),
            DecodingError.valueNotFound(_, let c):
            let at = c.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
            let underlying = (c.underlyingError as NSError?)?.userInfo[NSDebugDescriptionErrorKey] as? String
            let what = underlying ?? c.debugDescription
            return at.isEmpty ? "not valid JSON for this file: \(what)" : "\(at.dropFirst()): \(what)"
        default:
            return "\(error)"
        }
    }
}
