import Foundation
import HTTPTypes
import Hummingbird
import NightshiftCore

/// Builds JSON responses with Nightshift's encoder.
enum JSONResponse {
    static func make<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) throws -> Response {
        var data = try JSONEncoder.nightshift().encode(value)
        data.append(0x0A)
        var h = headers
        h[.contentType] = "application/json"
        return Response(status: status, headers: h, body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// A document a `JSONWriter` wrote (the hot routes), with the same trailing newline.
    static func bytes(_ writer: JSONWriter, status: HTTPResponse.Status = .ok) -> Response {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(writer.bytes.count + 1)
        buffer.writeBytes(writer.bytes)
        buffer.writeInteger(UInt8(0x0A))
        return Response(status: status, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: buffer))
    }

    static func text(
        _ text: String, contentType: String = "text/plain; charset=utf-8", status: HTTPResponse.Status = .ok
    ) -> Response {
        Response(status: status, headers: [.contentType: contentType], body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }
}

/// Records every route as it is registered, so a test can hold it against `api/openapi.yaml`.
final class RouteRecorder: @unchecked Sendable {
    let router: Router<APIContext>
    private(set) var routes: [(method: String, path: String)] = []
    /// The dashboard's pages (HTML, outside the documented JSON API; `page(_:_:_:)`).
    var pages: [(method: String, path: String)] = []

    init(router: Router<APIContext>) { self.router = router }

    func on(
        _ method: HTTPRequest.Method, _ path: String,
        _ handler: @escaping @Sendable (Request, APIContext) async throws -> Response
    ) {
        routes.append((method.rawValue, path))
        router.on(RouterPath(path), method: method, use: handler)
    }
}
