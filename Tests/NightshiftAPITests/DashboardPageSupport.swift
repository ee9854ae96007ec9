import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

/// A browser's cookies and the page's CSRF token, for the dashboard's tests without a browser.
struct PageClient {
    let client: any TestClientProtocol
    var cookies: [String: String] = [:]

    init(_ client: any TestClientProtocol) { self.client = client }

    var cookieHeader: String { cookies.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "; ") }

    /// Sends a request with the cookies, keeps those it sets; never a 5xx.
    @discardableResult
    mutating func send(
        _ method: HTTPRequest.Method, _ uri: String, form: [(String, String)]? = nil, headers: HTTPFields = [:],
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> TestResponse {
        var h = headers
        if !cookies.isEmpty { h[.cookie] = cookieHeader }
        var body: ByteBuffer?
        if let form {
            h[.contentType] = "application/x-www-form-urlencoded"
            body = ByteBuffer(string: Self.encode(form))
        }
        let r = try await client.executeRequest(uri: uri, method: method, headers: h, body: body)
        #expect(r.status.code < 500, "\(method) \(uri): \(r.status) \(r.text)", sourceLocation: sourceLocation)
        // As a browser does: an empty value or Max-Age=0 removes the cookie.
        for value in r.headers[values: .setCookie] {
            let pair = value.split(separator: ";")[0].split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard pair.count == 2 else { continue }
            if pair[1].isEmpty || value.lowercased().contains("max-age=0") {
                cookies[String(pair[0])] = nil
            } else {
                cookies[String(pair[0])] = String(pair[1])
            }
        }
        return r
    }

    mutating func get(_ uri: String, sourceLocation: SourceLocation = #_sourceLocation) async throws -> TestResponse {
        try await send(.get, uri, sourceLocation: sourceLocation)
    }

    /// The CSRF token a page carries (`data-csrf` on its body).
    static func csrf(_ page: TestResponse) -> String? {
        let text = page.text
        guard let start = text.range(of: "data-csrf=\"") else { return nil }
        return String(text[start.upperBound...].prefix { $0 != "\"" })
    }

    static func encode(_ pairs: [(String, String)]) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return pairs.map {
            "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")"
        }.joined(separator: "&")
    }
}

extension TestResponse {
    var isHTML: Bool { headers[.contentType]?.hasPrefix("text/html") == true }
}
