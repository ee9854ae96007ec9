/// A configuration problem: which key, and why. Startup stops with exit code 2 on the first.
public struct ConfigError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Dotted path of the key (`runner.workers`), or the file for a file-level problem.
    public var path: String
    public var reason: String
    /// `file:line` when known.
    public var location: String?

    public init(path: String, reason: String, location: String? = nil) {
        self.path = path
        self.reason = reason
        self.location = location
    }

    public var description: String {
        let at = location.map { " (\($0))" } ?? ""
        return "config error: \(path): \(reason)\(at)"
    }
}
