import Foundation
import HTTPTypes
import Hummingbird
import NightshiftCore
import NightshiftStore

/// An API error as RFC 9457 problem+json: `type`, `title`, `status`, `detail`, and `errors[]`
/// naming the fields of a validation failure. Every error the API returns has this shape.
public struct Problem: Error, HTTPResponseError, Sendable, Equatable {
    public struct FieldError: Codable, Sendable, Equatable {
        public var field: String
        public var message: String
        public init(field: String, message: String) {
            self.field = field
            self.message = message
        }
    }

    public var status: HTTPResponse.Status
    public var type: String
    public var title: String
    public var detail: String
    public var errors: [FieldError]

    public init(_ status: HTTPResponse.Status, type: String, title: String, detail: String, errors: [FieldError] = []) {
        self.status = status
        self.type = type
        self.title = title
        self.detail = detail
        self.errors = errors
    }

    static func badRequest(_ detail: String) -> Problem {
        Problem(.badRequest, type: "malformed_request", title: "Malformed request", detail: detail)
    }
    static func notFound(_ detail: String) -> Problem {
        Problem(.notFound, type: "not_found", title: "Not found", detail: detail)
    }
    static func invalid(_ errors: [FieldError]) -> Problem {
        Problem(
            .unprocessableContent, type: "invalid_field", title: "Invalid field",
            detail: errors.map { "\($0.field): \($0.message)" }.joined(separator: "; "), errors: errors)
    }
    static func invalid(_ field: String, _ message: String) -> Problem { invalid([FieldError(field: field, message: message)]) }
    /// New work is refused while the state dir's disk is (nearly) full; reads keep working.
    static func diskFull(_ detail: String) -> Problem {
        Problem(
            .serviceUnavailable, type: "disk_full", title: "Disk full",
            detail: "\(detail); the daemon keeps answering reads and takes new work again once space is freed")
    }
    static func conflict(_ detail: String) -> Problem {
        Problem(.conflict, type: "illegal_transition", title: "Conflict", detail: detail)
    }

    struct Body: Encodable {
        var type: String
        var title: String
        var status: Int
        var detail: String
        var errors: [FieldError]
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        Self.response(self)
    }

    static func response(_ p: Problem) -> Response {
        let body = Body(type: p.type, title: p.title, status: p.status.code, detail: p.detail, errors: p.errors)
        let data = (try? JSONEncoder.nightshift().encode(body)) ?? Data(#"{"title":"error"}"#.utf8)
        return Response(
            status: p.status, headers: [.contentType: "application/problem+json"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// The one mapping from store errors to HTTP statuses.
    static func from(_ e: StoreError) -> Problem {
        switch e.code {
        case .notFound: return .notFound(e.message)
        case .illegalTransition: return .conflict(e.message)
        case .lostClaim: return Problem(.conflict, type: "lost_claim", title: "Conflict", detail: e.message)
        case .invalid: return .invalid(e.field ?? "body", e.message)
        case .duplicate: return Problem(.conflict, type: "duplicate", title: "Conflict", detail: e.message)
        case .unavailable:
            return Problem(.serviceUnavailable, type: "store_unavailable", title: "Store unavailable", detail: e.message)
        case .diskFull: return .diskFull(e.message)
        }
    }
}

/// Turns every error into problem+json. Anything not mapped is a logged 500, which tests treat
/// as a bug.
struct ProblemMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response
    {
        do {
            return try await next(request, context)
        } catch let p as Problem {
            return Problem.response(p)
        } catch let e as StoreError {
            return Problem.response(.from(e))
        } catch let e as HTTPResponseError {
            let status = e.status
            let type: String
            let detail: String
            switch status {
            case .notFound:
                type = "not_found"
                detail = "no route for \(request.method.rawValue) \(request.uri.path)"
            case .contentTooLarge:
                type = "body_too_large"
                detail = "request body is too large"
            case .methodNotAllowed:
                type = "method_not_allowed"
                detail = "\(request.method.rawValue) is not allowed on \(request.uri.path)"
            default:
                type = "http_error"
                detail = "\(e)"
            }
            return Problem.response(Problem(status, type: type, title: status.reasonPhrase, detail: detail))
        } catch {
            context.logger.error("unhandled error: \(error)", metadata: ["path": "\(request.uri.path)"])
            return Problem.response(
                Problem(.internalServerError, type: "internal", title: "Internal error", detail: "unexpected error; see api.log"))
        }
    }
}
