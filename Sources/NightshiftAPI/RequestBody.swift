import Foundation
import Hummingbird
import NightshiftCore

/// Reads and checks JSON request bodies, producing 400/413/422 problems that name the field.
enum RequestBody {
    /// The whole body; a 413 problem past `limit` bytes.
    static func collect(_ request: Request, limit: Int) async throws -> ByteBuffer {
        var request = request
        do {
            return try await request.collectBody(upTo: limit)
        } catch let e as HTTPResponseError where e.status == .contentTooLarge {
            throw Problem(
                .contentTooLarge, type: "body_too_large", title: "Body too large",
                detail: "request body is larger than \(limit) bytes")
        }
    }

    /// The body as a JSON object; 413 past `limit`, 400 when empty, malformed or not an object.
    static func object(_ request: Request, limit: Int) async throws -> [String: JSONValue] {
        let buffer = try await collect(request, limit: limit)
        guard buffer.readableBytes > 0 else { throw Problem.badRequest("the request body is empty; send a JSON object") }
        let value: JSONValue
        do {
            value = try JSONDecoder().decode(JSONValue.self, from: Data(buffer.readableBytesView))
        } catch {
            throw Problem.badRequest("the request body is not valid JSON")
        }
        guard case .object(let object) = value else { throw Problem.badRequest("the request body must be a JSON object") }
        return object
    }

    static func unknownKeys(_ object: [String: JSONValue], allowed: Set<String>) -> [Problem.FieldError] {
        object.keys.filter { !allowed.contains($0) }.sorted().map {
            Problem.FieldError(field: $0, message: "unknown field (allowed: \(allowed.sorted().joined(separator: ", ")))")
        }
    }

    static func string(_ v: JSONValue, _ field: String, _ errors: inout [Problem.FieldError]) -> String? {
        guard case .string(let s) = v else {
            errors.append(.init(field: field, message: "must be a string"))
            return nil
        }
        return s
    }

    static func int(_ v: JSONValue, _ field: String, _ range: ClosedRange<Int>, _ errors: inout [Problem.FieldError]) -> Int? {
        guard case .number(let n) = v, n.rounded() == n, n.isFinite, Double(range.lowerBound) <= n, n <= Double(range.upperBound)
        else {
            errors.append(
                .init(field: field, message: "must be a whole number between \(range.lowerBound) and \(range.upperBound)"))
            return nil
        }
        return Int(n)
    }
}
