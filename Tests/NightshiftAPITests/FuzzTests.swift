import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NightshiftCore
import NightshiftTesting
import Testing

/// Garbage and near-valid request bodies and query strings.
struct Garbage {
    var rng: SeededRandom

    static let keys = [
        "direction", "task_type", "priority", "max_attempts", "executor", "context", "depends_on", "decision", "status", "", "x",
    ]
    static let strings = [
        "", " ", "impl", "test", "pending", "cancelled", "running", "default", "yes", "task_0123456789abcdef", "\u{0}", "é🙂",
        "\\", "\"", "<script>", "'; DROP TABLE tasks; --", String(repeating: "z", count: 6000),
    ]
    static let numbers = [
        "0", "-1", "1", "3", "100", "101", "1.5", "-0", "1e308", "1e400", "-1e400", "9007199254740993", "1E2", "0.0000001",
    ]
    static let oddities = [
        String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000),
        String(repeating: #"{"a":"#, count: 3000) + "1" + String(repeating: "}", count: 3000),
        #"{"direction":"\ud800","task_type":"impl"}"#, #"{"direction":"x","direction":"y","task_type":"impl"}"#,
        #"{"direction":"x","task_type":"impl","context":{"a":{"b":{"c":[1,[2,[3]]]}}}}"#, "\u{FEFF}{}", "{\"\u{0}\":1}",
        #"{"priority":NaN}"#, #"{"priority":Infinity}"#, #"{"decision":"\u0000"}"#, "{}", "[]", "\"\"",
    ]

    mutating func int(_ n: Int) -> Int { Int.random(in: 0..<n, using: &rng) }
    mutating func pick<T>(_ a: [T]) -> T { a[int(a.count)] }

    mutating func value(depth: Int = 0) -> String {
        switch int(depth > 2 ? 4 : 7) {
        case 0: return "null"
        case 1: return pick(["true", "false"])
        case 2: return pick(Self.numbers)
        case 3: return jsonString(pick(Self.strings))
        case 4: return "[" + (0..<int(4)).map { _ in value(depth: depth + 1) }.joined(separator: ",") + "]"
        default: return object(depth: depth + 1)
        }
    }

    mutating func object(depth: Int = 0) -> String {
        "{" + (0..<int(5)).map { _ in jsonString(pick(Self.keys)) + ":" + value(depth: depth) }.joined(separator: ",") + "}"
    }

    func jsonString(_ s: String) -> String {
        let data = try! JSONEncoder().encode(s)
        return String(decoding: data, as: UTF8.self)
    }

    /// A body: random bytes, random JSON, a mangled valid body, or a known oddity.
    mutating func body() -> [UInt8] {
        switch int(5) {
        case 0: return (0..<int(80)).map { _ in UInt8(int(256)) }
        case 1: return Array(value().utf8)
        case 2: return Array(object().utf8)
        case 3:
            var valid = Array(#"{"direction":"fix it","task_type":"impl","priority":2,"context":{"k":[1,2]}}"#.utf8)
            for _ in 0..<(1 + int(3)) {
                switch int(3) {
                case 0: valid = Array(valid.prefix(int(valid.count)))
                case 1 where !valid.isEmpty: valid[int(valid.count)] = UInt8(int(128))
                default: valid.insert(pick([UInt8](#"{}[],:"\ 0e-"#.utf8)), at: int(valid.count + 1))
                }
            }
            return valid
        default: return Array(pick(Self.oddities).utf8)
        }
    }

    /// A query string of known and unknown parameters with odd values.
    mutating func query() -> String {
        let names = ["status", "task_type", "limit", "offset", "backlog_item", "include_resolved", "tail", "x", ""]
        let values = [
            "", "pending", "pending,running", ",", ",,pending,", "bogus", "impl", "0", "1", "-1", "100", "101", "abc", "%", "%zz",
            "%E2%82", "%00", "1e3", "99999999999999999999999", "+", "true", "maybe", "%F0%9F%99%82", "a=b=c", "[]",
        ]
        return (0..<(1 + int(4))).map { _ in
            let n = pick(names)
            return int(6) == 0 ? n : "\(n)=\(pick(values))"
        }.joined(separator: pick(["&", "&&", ";"]))
    }
}

@Suite("API: garbage never gets a 500")
struct FuzzTests {
    @Test("~200 random bodies and query strings: every answer is 2xx or a 4xx problem, never 5xx")
    func garbage() async throws {
        let h = try APIHarness()
        let existing = try await h.needsDecision()
        let failed = try await h.failed()
        try await h.test { client in
            var g = Garbage(rng: SeededRandom(seed: 0x5EED_2026))
            var statuses: [Int: Int] = [:]
            for i in 0..<210 {
                let method: HTTPRequest.Method
                let uri: String
                var body: [UInt8]? = nil
                switch i % 7 {
                case 0, 1:
                    (method, uri, body) = (.post, "/api/agent/tasks", g.body())
                case 2:
                    (method, uri, body) = (.patch, "/api/agent/tasks/\(g.pick([existing.id, failed.id]))", g.body())
                case 3:
                    let id = g.pick([unknownTaskID, "x", "task_", "%2e%2e", "task_0123456789abcdeg", "..", existing.id + "0"])
                    (method, uri, body) = (.patch, "/api/agent/tasks/\(id)", g.body())
                case 4, 5:
                    (method, uri) = (.get, "/api/agent/tasks?\(g.query())")
                default:
                    let path = g.pick([
                        "/api/agent/tasks/\(existing.id)/log", "/api/agent/monitor-issues", "/api/agent/tasks/count",
                        "/api/health",
                        "/api/agent/pipeline-status", "/api/agent/effectiveness",
                    ])
                    (method, uri) = (.get, "\(path)?\(g.query())")
                }
                var headers: HTTPFields = [:]
                if body != nil {
                    headers[.contentType] = g.pick(["application/json", "text/plain", "application/json; charset=utf-8"])
                }
                let r = try await client.executeRequest(
                    uri: uri, method: method, headers: headers, body: body.map { ByteBuffer(bytes: $0) })
                statuses[r.status.code, default: 0] += 1
                let shown = body.map { String(decoding: $0.prefix(120), as: UTF8.self) } ?? ""
                #expect(r.status.code < 500, "case \(i): \(method) \(uri) \(shown) → \(r.status) \(r.text)")
                if r.status.code >= 400 {
                    #expect(r.headers[.contentType] == "application/problem+json", "case \(i): \(method) \(uri) → \(r.status)")
                    let p = try? r.json()
                    #expect(p?["status"].int == r.status.code, "case \(i): \(r.text)")
                }
            }
            // The generator reached past the first check: some inputs parsed, some were refused field by field.
            #expect(statuses[400, default: 0] > 0, "\(statuses)")
            #expect(statuses[422, default: 0] > 0, "\(statuses)")
            #expect(statuses[200, default: 0] > 0, "\(statuses)")
        }
        #expect(try await h.store.get(failed.id).id == failed.id, "the store still answers")
    }

    @Test("~300 random methods, paths and tokens off loopback: only 2xx, 401 (with WWW-Authenticate), 404 or 405 (with Allow)")
    func methodsPathsAndTokens() async throws {
        let h = try APIHarness(configure: OffLoopbackAuthTests.offLoopback)
        let t = try await h.pending()
        try await h.test { client in
            var g = Garbage(rng: SeededRandom(seed: 0x0405_2026))
            let methods: [HTTPRequest.Method] = [
                .get, .post, .patch, .put, .delete, .head, .options, .trace, .connect, HTTPRequest.Method("PURGE")!,
            ]
            let paths = [
                "/api/agent/tasks", "/api/agent/tasks/\(t.id)", "/api/agent/tasks/\(unknownTaskID)", "/api/agent/tasks/count",
                "/api/agent/tasks/\(t.id)/log", "/api/health", "/api/ready", "/metrics", "/api/agent/pm/pause", "/api/nope",
                "/nope",
                "/api/agent/tasks/\(t.id)/log/x", "//api//health//", "/api/agent/telegram/webhook",
            ]
            let auth = ["", "Bearer \(OffLoopbackAuthTests.token)", "Bearer wrong", "Bearer"]
            var statuses: [Int: Int] = [:]
            for i in 0..<300 {
                let method = g.pick(methods)
                let uri = g.pick(paths)
                var headers: HTTPFields = [:]
                let token = g.pick(auth)
                if !token.isEmpty { headers[.authorization] = token }
                let r = try await client.executeRequest(uri: uri, method: method, headers: headers, body: nil)
                statuses[r.status.code, default: 0] += 1
                let code = r.status.code
                #expect(
                    (200..<300).contains(code) || [400, 401, 404, 405, 409, 422].contains(code),
                    "case \(i): \(method) \(uri) → \(r.status) \(r.text)")
                if code == 401 { #expect(r.headers[.wwwAuthenticate] == "Bearer", "case \(i)") }
                if code == 405 { #expect(r.headers[.allow]?.isEmpty == false, "case \(i): \(method) \(uri)") }
                if code >= 400 {
                    #expect(r.headers[.contentType] == "application/problem+json", "case \(i): \(method) \(uri) → \(r.status)")
                }
            }
            for code in [200, 401, 404, 405] { #expect(statuses[code, default: 0] > 0, "reached \(code): \(statuses)") }
        }
    }
}
