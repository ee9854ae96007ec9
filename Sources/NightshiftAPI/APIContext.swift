import Foundation
import Hummingbird
import NightshiftCore

/// Request context of the control plane, with Nightshift's JSON coding (RFC 3339 times).
public struct APIContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// `http://ADDRESS:PORT` of the socket the request came in on (nil in the in-memory test
    /// router): where `/mcp`'s tools call this same server back.
    public var localBase: String?
    public init(source: Source) {
        coreContext = .init(source: source)
        if let a = source.channel.localAddress, let ip = a.ipAddress, let port = a.port {
            localBase = ip.contains(":") ? "http://[\(ip)]:\(port)" : "http://\(ip):\(port)"
        }
    }
    public var responseEncoder: JSONEncoder { JSONEncoder.nightshift() }
    public var requestDecoder: JSONDecoder { JSONDecoder.nightshift() }
}
