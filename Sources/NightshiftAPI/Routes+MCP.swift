import Foundation
import HTTPTypes
import Hummingbird
import MCP
import NightshiftCore
import NightshiftMCP
import NightshiftRuntime

/// `POST /mcp` (issue 13, point 8): the `nightshift mcp` tools over streamable HTTP, through
/// the SDK's `StatelessHTTPServerTransport` (JSON responses, no session, no SSE stream; GET and
/// DELETE are 405). The bearer middleware guards it like every mutating route: the token when
/// one is configured, and always off loopback. Its tools call this server's REST API back on
/// the address the request came in on, with the configured token.
struct MCPRoutes {
    let env: ServiceEnvironment
    let bodyLimit: Int

    func register(_ r: RouteRecorder) {
        r.on(.post, "/mcp") { request, context in try await post(request, context) }
    }

    func post(_ request: Hummingbird.Request, _ context: APIContext) async throws -> Hummingbird.Response {
        let buffer = try await RequestBody.collect(request, limit: bodyLimit)
        var headers: [String: String] = [:]
        for field in request.headers {
            let name = field.name.canonicalName
            headers[name] = headers[name].map { $0 + ", " + field.value } ?? field.value
        }
        let mcpRequest = MCP.HTTPRequest(
            method: "POST", headers: headers, body: Data(buffer.readableBytesView), path: request.uri.path)
        let base = context.localBase ?? "http://127.0.0.1:\(env.config.server.port)"
        let reply = await NightshiftMCPServer.handle(
            mcpRequest, client: DaemonClient(base: base, token: env.config.server.token), version: env.version.version)
        var fields = HTTPFields()
        for (k, v) in reply.headers.sorted(by: { $0.key < $1.key }) {
            if let name = HTTPField.Name(k) { fields[name] = v }
        }
        let status = HTTPTypes.HTTPResponse.Status(code: reply.statusCode)
        guard let body = reply.bodyData else { return Hummingbird.Response(status: status, headers: fields) }
        return Hummingbird.Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}
