import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The REST client the MCP tools call: the daemon's control plane, nothing else.
public struct DaemonClient: Sendable {
    public let base: String
    public let token: String

    public init(base: String, token: String = "") {
        var b = base
        while b.hasSuffix("/") { b.removeLast() }
        self.base = b
        self.token = token
    }

    public struct Reply: Sendable {
        public var status: Int
        public var body: Data
        public var json: Any? { try? JSONSerialization.jsonObject(with: body) }
        public var text: String { String(decoding: body, as: UTF8.self) }
    }

    public func send(_ method: String, _ path: String, json: [String: Any]? = nil, timeout: Double = 60) async throws -> Reply {
        guard let url = URL(string: base + path) else { throw ToolFailure("bad URL \(base + path)") }
        var req = URLRequest(url: url, timeoutInterval: timeout)
        req.httpMethod = method
        if let json {
            req.httpBody = try JSONSerialization.data(withJSONObject: json)
            req.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        if !token.isEmpty { req.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        do {
            let (data, response) = try await URLSession.shared.data(for: req)
            return Reply(status: (response as? HTTPURLResponse)?.statusCode ?? 0, body: data)
        } catch {
            throw ToolFailure(
                "cannot reach the daemon at \(base) (\(error.localizedDescription)); is `nightshift serve` running?")
        }
    }

    /// The reply of a 2xx, else a failure with the problem's detail.
    public func call(_ method: String, _ path: String, json: [String: Any]? = nil) async throws -> Reply {
        let r = try await send(method, path, json: json)
        guard (200..<300).contains(r.status) else {
            let p = r.json as? [String: Any]
            throw ToolFailure("\(r.status) \(p?["title"] as? String ?? "HTTP error"): \(p?["detail"] as? String ?? r.text)")
        }
        return r
    }
}

/// A tool call that failed, in one line for the model.
public struct ToolFailure: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ d: String) { description = d }
}
