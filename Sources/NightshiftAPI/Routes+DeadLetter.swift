import Foundation
import Hummingbird
import NightshiftCore
import NightshiftRuntime
import NightshiftStore

/// `/api/agent/dlq*`: the dead-letter queue (failed tasks nothing took over), its stats,
/// reprocessing and cleanup. Bad input is a 4xx problem and changes nothing.
struct DeadLetterRoutes {
    let env: ServiceEnvironment
    let bodyLimit: Int

    var queue: DeadLetterQueue { DeadLetterQueue(env: env) }

    func register(_ r: RouteRecorder) {
        r.on(.get, "/api/agent/dlq") { request, _ in try await page(request) }
        r.on(.post, "/api/agent/dlq/reprocess") { request, _ in
            let body = try await RequestBody.object(request, limit: bodyLimit)
            let req = try Self.parseReprocess(body)
            return try JSONResponse.make(
                try await queue.reprocess(req.selection, reason: req.reason, dryRun: req.dryRun, by: "api"))
        }
        r.on(.post, "/api/agent/dlq/cleanup") { request, _ in
            let body = try await RequestBody.object(request, limit: bodyLimit)
            let (age, dryRun) = try Self.parseCleanup(body)
            return try JSONResponse.make(try await queue.cleanup(olderThan: age, dryRun: dryRun))
        }
    }

    func page(_ request: Request) async throws -> Response {
        let q = request.uri.queryParameters
        var errors: [Problem.FieldError] = []
        var limit = 20
        var offset = 0
        var errorClass: String?
        if let c = q.get("error_class") {
            if DeadLetter.isErrorClass(c) {
                errorClass = c
            } else {
                errors.append(.init(field: "error_class", message: DeadLetter.errorClassRule))
            }
        }
        if let l = q.get("limit") {
            if let n = Int(l), (1...100).contains(n) {
                limit = n
            } else {
                errors.append(.init(field: "limit", message: "must be a whole number from 1 to 100"))
            }
        }
        if let o = q.get("offset") {
            if let n = Int(o), (0...Self.maxOffset).contains(n) {
                offset = n
            } else {
                errors.append(.init(field: "offset", message: "must be a whole number from 0 to \(Self.maxOffset)"))
            }
        }
        if !errors.isEmpty { throw Problem.invalid(errors) }
        return try JSONResponse.make(try await queue.page(errorClass: errorClass, limit: limit, offset: offset))
    }

    static let maxOffset = 1_000_000

    struct Reprocess: Equatable {
        var selection: DeadLetterSelection
        var reason: String?
        var dryRun: Bool
    }

    /// `{"ids": [...]} | {"all": true} | {"error_class": "..."}`, plus `dry_run` and `reason`.
    static func parseReprocess(_ body: [String: JSONValue]) throws -> Reprocess {
        var errors = RequestBody.unknownKeys(body, allowed: ["ids", "all", "error_class", "dry_run", "reason"])
        let named = ["ids", "all", "error_class"].filter { body[$0] != nil }
        var selection: DeadLetterSelection?
        if named.count != 1 {
            errors.append(
                .init(
                    field: named.first ?? "ids",
                    message:
                        "send exactly one of ids, all and error_class (got \(named.isEmpty ? "none" : named.joined(separator: ", ")))"
                ))
        } else if let v = body["ids"] {
            let ids = v.arrayValue?.compactMap(\.stringValue) ?? []
            if (1...DeadLetter.maxIDs).contains(ids.count), ids.count == v.arrayValue?.count, ids.allSatisfy(TaskID.isValid) {
                selection = .ids(ids)
            } else {
                errors.append(
                    .init(
                        field: "ids", message: "must be a list of 1 to \(DeadLetter.maxIDs) task ids (task_ + 16 hex characters)")
                )
            }
        } else if let v = body["all"] {
            if v == .bool(true) {
                selection = .all
            } else {
                errors.append(.init(field: "all", message: "must be true (leave it out to select by ids or error_class)"))
            }
        } else if let v = body["error_class"] {
            if let c = v.stringValue, DeadLetter.isErrorClass(c) {
                selection = .errorClass(c)
            } else {
                errors.append(.init(field: "error_class", message: DeadLetter.errorClassRule))
            }
        }
        var dryRun = false
        if let v = body["dry_run"] {
            if case .bool(let b) = v {
                dryRun = b
            } else {
                errors.append(.init(field: "dry_run", message: "must be true or false"))
            }
        }
        var reason: String?
        if let v = body["reason"] {
            if let s = v.stringValue, s.unicodeScalars.count <= DeadLetter.maxReason {
                reason = s
            } else {
                errors.append(.init(field: "reason", message: "must be a string of at most \(DeadLetter.maxReason) characters"))
            }
        }
        guard errors.isEmpty, let selection else { throw Problem.invalid(errors) }
        return Reprocess(selection: selection, reason: reason, dryRun: dryRun)
    }

    /// `{"older_than": "30d", "dry_run": true}`: the age in seconds and whether to only look.
    static func parseCleanup(_ body: [String: JSONValue]) throws -> (age: Double, dryRun: Bool) {
        var errors = RequestBody.unknownKeys(body, allowed: ["older_than", "dry_run"])
        var age: Double?
        if let v = body["older_than"] {
            if let s = v.stringValue, let seconds = DeadLetter.parseAge(s) {
                age = seconds
            } else {
                errors.append(.init(field: "older_than", message: DeadLetter.ageRule))
            }
        } else {
            errors.append(.init(field: "older_than", message: "required: " + DeadLetter.ageRule))
        }
        var dryRun = false
        if let v = body["dry_run"] {
            if case .bool(let b) = v {
                dryRun = b
            } else {
                errors.append(.init(field: "dry_run", message: "must be true or false"))
            }
        }
        guard errors.isEmpty, let age else { throw Problem.invalid(errors) }
        return (age, dryRun)
    }
}
