import Foundation
import NightshiftCore

/// `restart_requested.json`: written by the monitor (or an operator), consumed by the watchdog.
public struct RestartRequest: Codable, Sendable, Equatable {
    public var reason: String
    public var at: Date
    public var requestedBy: String
    enum CodingKeys: String, CodingKey {
        case reason, at
        case requestedBy = "requested_by"
    }
    public init(reason: String, at: Date, requestedBy: String) {
        self.reason = reason
        self.at = at
        self.requestedBy = requestedBy
    }

    public func write(to path: String) throws { try AtomicFile.writeJSON(self, to: path) }

    public static func read(path: String) -> RestartRequest? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return try? JSONDecoder.nightshift().decode(RestartRequest.self, from: data)
    }
}
