import Foundation
import Hummingbird
import NightshiftCore

/// Request context of the control plane, with Nightshift's JSON coding (RFC 3339 times).
public struct APIContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public init(source: Source) { coreContext = .init(source: source) }
    public var responseEncoder: JSONEncoder { JSONEncoder.nightshift() }
    public var requestDecoder: JSONDecoder { JSONDecoder.nightshift() }
}
