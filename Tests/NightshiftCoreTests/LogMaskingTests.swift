import Foundation
import NightshiftCore
import Testing

@Suite("Log masking, rules and fingerprints")
struct LogMaskingTests {
    @Test(
        "each kind of variable part becomes its placeholder",
        arguments: [
            ("user 42 logged in", "user <n> logged in"),
            ("req 3f2b1c9a-1d2e-4f5a-9b8c-7d6e5f4a3b2c failed", "req <uuid> failed"),
            ("commit deadbeefcafe1234 pushed", "commit <hex> pushed"),
            ("connect ECONNREFUSED 10.0.0.7:5432", "connect ECONNREFUSED <ip>"),
            ("GET https://api.example.com/v1/users?id=7 -> 502", "GET <url> -> <n>"),
            ("open /var/lib/app/data.db: denied", "open <path>: denied"),
            ("at 2026-12-01T22:00:00.123Z the job stopped", "at <date> the job stopped"),
            ("took 250ms then 1.5s", "took <dur> then <dur>"),
            ("key \"secret-name\" missing in 'config'", "key <str> missing in <str>"),
            ("db.internal:6379 is down", "<host> is down"),
            ("retry=3 of max=5", "retry=<n> of max=<n>"),
            ("task_0123456789abcdef ended", "task_<hex> ended"),
            ("don't panic", "don't panic"),
        ])
    func masks(_ input: String, _ expected: String) {
        #expect(LogMasking.mask(input) == expected)
    }

    @Test("two sightings of one problem share a fingerprint; a different problem does not")
    func fingerprints() {
        let rules = LogRuleSet()
        let a = rules.classify(message: "Error: connect ECONNREFUSED 127.0.0.1:6379", level: "error")
        let b = rules.classify(message: "Error: connect ECONNREFUSED 10.1.2.3:5432", level: "error")
        let c = rules.classify(message: "TypeError: Cannot read properties of undefined (reading 'id')", level: "error")
        #expect(a?.ruleID == "connection_refused")
        #expect(a?.fingerprint == b?.fingerprint)
        #expect(c?.ruleID == "type_error")
        #expect(c?.fingerprint != a?.fingerprint)
        #expect(LogFingerprint.isValid(a?.fingerprint ?? ""))
    }

    /// A fixed value: if masking or hashing changes, this fails and `LogMasking.version` must move.
    @Test("fingerprints are stable across processes and releases")
    func stableValue() {
        #expect(LogFingerprint.of(ruleID: "timeout", template: "request <n> timed out after <dur>") == "fp_386eb23d485e24cc")
        #expect(
            LogFingerprint.of(ruleID: "timeout", template: "x", version: 1)
                != LogFingerprint.of(ruleID: "timeout", template: "x", version: 2))
    }

    @Test(
        "the built-in rules recognise their problems",
        arguments: [
            ("connect ECONNREFUSED 127.0.0.1:3000", "connection_refused"),
            ("request to /api timed out after 30s", "timeout"),
            ("Uncaught exception: boom", "uncaught_exception"),
            ("Traceback (most recent call last):", "type_error"),
            ("panic: runtime error: index out of range", "panic"),
            ("query failed: deadlock detected", "database_query_failed"),
            ("FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory", "out_of_memory"),
            ("upstream answered HTTP 503", "http_5xx"),
            ("status=500 path=/x", "http_5xx"),
        ])
    func builtIn(_ message: String, _ rule: String) {
        #expect(LogRuleSet().classify(message: message, level: "info")?.ruleID == rule)
    }

    /// The byte search of ASCII lines gives the String path's answer; other lines take that path.
    @Test(
        "rules match the same on the fast ASCII path as through String lowercasing",
        arguments: [
            ("ERROR: Connect ECONNREFUSED 10.0.0.1:5432", "connection_refused"),
            ("Request Timed Out after 30s", "timeout"),
            ("HTTP/1.1 502 Bad Gateway", "http_5xx"),
            ("response code 599 from upstream", "http_5xx"),
            ("code 5000 is fine", nil),
            ("Status 500", "http_5xx"),
            ("ps: 503", nil),
            ("ÉCHEC: connection refused après 3 essais", "connection_refused"),
            ("\u{212A}eyError: 'x'", "type_error"),  // KELVIN SIGN lowercases to an ASCII k
            ("ok", nil),
            ("", nil),
        ] as [(String, String?)])
    func asciiPath(_ message: String, _ rule: String?) {
        #expect(LogRuleSet().classify(message: message, level: "info")?.ruleID == rule)
    }

    @Test("ordinary lines get nothing; unmatched error lines are grouped by template; debug is quiet")
    func unmatched() {
        let rules = LogRuleSet()
        #expect(rules.classify(message: "served 200 in 5ms", level: "info") == nil)
        #expect(rules.classify(message: "port 5000 opened", level: "info") == nil)
        let a = rules.classify(message: "cache miss for item 12", level: "error")
        let b = rules.classify(message: "cache miss for item 99", level: "error")
        #expect(a?.ruleID == LogRule.unmatchedID)
        #expect(a?.fingerprint == b?.fingerprint)
        #expect(rules.classify(message: "connection refused", level: "debug") == nil)
    }

    @Test("config rules come first and are regexes")
    func configured() throws {
        let rule = try LogRule.regex(id: "agent_crash", severity: .high, pattern: "agent .* crashed").get()
        let rules = LogRuleSet(configured: [rule])
        #expect(rules.classify(message: "agent claude crashed: connection refused", level: "info")?.ruleID == "agent_crash")
        guard case .failure(let e) = LogRule.regex(id: "x", severity: .low, pattern: "([") else {
            Issue.record("a bad pattern compiled")
            return
        }
        #expect(e.description.contains("(["))
    }

    @Test("notify once at the count, again only after the debounce")
    func notifyPolicy() {
        let policy = LogNotifyPolicy(count: 3, debounce: 60)
        let t0 = Date(timeIntervalSince1970: 1000)
        var issue = LogIssue(
            runID: "run_20261201_220000_abcd", fingerprint: "fp_0000000000000001", ruleID: "timeout", severity: .medium,
            template: "t", count: 2, firstSeen: t0, lastSeen: t0, sources: [], examples: [])
        #expect(!policy.shouldNotify(issue, now: t0))
        issue.count = 3
        #expect(policy.shouldNotify(issue, now: t0))
        issue.notifiedAt = t0
        issue.count = 5
        #expect(!policy.shouldNotify(issue, now: t0.addingTimeInterval(59)))
        #expect(policy.shouldNotify(issue, now: t0.addingTimeInterval(60)))
    }
}

@Suite("Log ingest parsing")
struct LogIngestParserTests {
    func parse(_ text: String, _ type: String? = nil) throws -> LogIngestParser.Parsed {
        try LogIngestParser.parse(Array(text.utf8), contentType: type)
    }

    @Test("NDJSON: each line alone; a bad line is counted and named, the rest stored")
    func ndjson() throws {
        let p = try parse(
            """
            {"message":"one","level":"WARN","source":"api","timestamp":1764626400}
            not json
            {"log":"two","time":"2026-12-01T22:00:00Z","run_id":"run_20261201_220000_abcd"}
            {"msg":""}
            {"msg":"three","timestamp":"yesterday"}
            """, "application/x-ndjson")
        #expect(p.lines.count == 2)
        #expect(p.rejected == 3)
        #expect(p.rejections.map(\.line) == [2, 4, 5])
        #expect(p.lines[0].level == "warning")
        #expect(p.lines[0].source == "api")
        #expect(p.lines[0].at == Date(timeIntervalSince1970: 1_764_626_400))
        #expect(p.lines[1].runID == "run_20261201_220000_abcd")
        #expect(p.lines[1].message == "two")
    }

    @Test("Fluent Bit json arrays and {logs: [...]} bodies")
    func arrays() throws {
        let fluent = try parse(
            #"[{"date":1764626400.25,"log":"ERROR boom"},{"date":1764626401.5,"log":"ok"}]"#, "application/json")
        #expect(fluent.lines.count == 2)
        #expect(fluent.lines[0].level == "error")
        #expect(fluent.lines[0].at == Date(timeIntervalSince1970: 1_764_626_400.25))
        let wrapped = try parse(#"{"logs":[{"message":"a"},{"nope":1}]}"#, "application/json")
        #expect(wrapped.lines.count == 1)
        #expect(wrapped.rejected == 1)
        #expect(throws: LogIngestParser.Malformed.self) { try parse("[1, 2", "application/json") }
    }
}
