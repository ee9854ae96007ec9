import Foundation

/// A rule that recognises a kind of problem in a log line (issue 13, point 3).
public struct LogRule: Sendable {
    public enum Matcher: Sendable {
        /// Any of these, lowercase, as a substring of the lowercased message.
        case anyOf([String])
        /// A regular expression (from `logs.rules`), searched in the message.
        case regex(String, NSRegularExpressionBox)
        /// `HTTP 503`, `status=500`, `response code 502`, `Internal Server Error`, ...
        case http5xx
    }

    public var id: String
    public var severity: Severity
    public var matcher: Matcher

    /// The needles of `.anyOf` as bytes, for the ASCII path of `matches`.
    let needleBytes: [[UInt8]]

    public init(id: String, severity: Severity, matcher: Matcher) {
        self.id = id
        self.severity = severity
        self.matcher = matcher
        if case .anyOf(let needles) = matcher { needleBytes = needles.map { Array($0.utf8) } } else { needleBytes = [] }
    }

    /// A rule from config; nil with the reason when the pattern is not a valid regex.
    public static func regex(id: String, severity: Severity, pattern: String) -> Result<LogRule, RegexProblem> {
        switch NSRegularExpressionBox.compile(pattern) {
        case .success(let box): return .success(LogRule(id: id, severity: severity, matcher: .regex(pattern, box)))
        case .failure(let e): return .failure(e)
        }
    }

    /// Whether the rule matches. `lower` is the message lowercased (computed once per line).
    func matches(_ message: String, lower: String) -> Bool {
        switch matcher {
        case .anyOf(let needles): return needles.contains { lower.contains($0) }
        case .regex(_, let box): return box.firstMatch(in: message) != nil
        case .http5xx: return Self.hasHTTP5xx(lower)
        }
    }

    /// The same answer as `matches(_:lower:)` for an ASCII message, whose lowercased bytes
    /// are `lower`: a byte search per needle instead of a string search (no allocation).
    func matches(_ message: String, asciiLower lower: UnsafeBufferPointer<UInt8>) -> Bool {
        switch matcher {
        case .anyOf: return needleBytes.contains { Self.find($0, in: lower) }
        case .regex(_, let box): return box.firstMatch(in: message) != nil
        case .http5xx: return Self.hasHTTP5xx(ascii: lower)
        }
    }

    /// Whether `needle` occurs in `hay`.
    @inline(__always) static func find(_ needle: [UInt8], in hay: UnsafeBufferPointer<UInt8>) -> Bool {
        let n = needle.count
        guard n > 0 else { return true }
        guard n <= hay.count else { return false }
        let first = needle[0]
        var i = 0
        let last = hay.count - n
        while i <= last {
            if hay[i] == first {
                var k = 1
                while k < n && hay[i + k] == needle[k] { k += 1 }
                if k == n { return true }
            }
            i += 1
        }
        return false
    }

    static let http5xxPhraseBytes = http5xxPhrases.map { Array($0.utf8) }
    static let statusWordBytes = statusWords.map { Array($0.utf8) }

    /// `hasHTTP5xx` over the lowercased bytes of an ASCII message.
    static func hasHTTP5xx(ascii b: UnsafeBufferPointer<UInt8>) -> Bool {
        if http5xxPhraseBytes.contains(where: { find($0, in: b) }) { return true }
        guard b.count >= 3 else { return false }
        var i = 0
        while i + 2 < b.count {
            if b[i] == 0x35 && LogMasking.isDigit(b[i + 1]) && LogMasking.isDigit(b[i + 2])
                && (i == 0 || !LogMasking.isDigit(b[i - 1])) && (i + 3 == b.count || !LogMasking.isDigit(b[i + 3]))
            {
                let before = UnsafeBufferPointer(rebasing: b[max(0, i - 16)..<i])
                if statusWordBytes.contains(where: { find($0, in: before) }) { return true }
            }
            i += 1
        }
        return false
    }

    static let http5xxPhrases = ["internal server error", "bad gateway", "service unavailable", "gateway timeout"]
    static let statusWords = ["http", "status", "code", "response"]

    /// A 5xx status near a word that says it is one.
    static func hasHTTP5xx(_ lower: String) -> Bool {
        if http5xxPhrases.contains(where: { lower.contains($0) }) { return true }
        let b = Array(lower.utf8)
        guard b.count >= 3 else { return false }
        var i = 0
        while i + 2 < b.count {
            if b[i] == 0x35 && LogMasking.isDigit(b[i + 1]) && LogMasking.isDigit(b[i + 2])
                && (i == 0 || !LogMasking.isDigit(b[i - 1])) && (i + 3 == b.count || !LogMasking.isDigit(b[i + 3]))
            {
                let before = String(decoding: b[max(0, i - 16)..<i], as: UTF8.self)
                if statusWords.contains(where: { before.contains($0) }) { return true }
            }
            i += 1
        }
        return false
    }

    /// The built-in rules, first match wins: the most specific and severe first (out of memory
    /// before panic: Node's heap exhaustion says "FATAL ERROR").
    public static let builtIn: [LogRule] = [
        LogRule(
            id: "out_of_memory", severity: .critical,
            matcher: .anyOf([
                "out of memory", "heap out of memory", "cannot allocate memory", "memoryerror", "oomkilled", "oom-kill",
                "oom killer", "std::bad_alloc",
            ])),
        LogRule(
            id: "panic", severity: .critical,
            matcher: .anyOf(["panic:", "panicked at", "fatal error:", "segmentation fault", "sigsegv", "sigabrt"])),
        LogRule(
            id: "uncaught_exception", severity: .high,
            matcher: .anyOf([
                "uncaught exception", "uncaughtexception", "unhandled exception", "unhandledpromiserejection",
                "unhandled rejection", "unhandled promise rejection",
            ])),
        LogRule(
            id: "type_error", severity: .high,
            matcher: .anyOf([
                "typeerror", "traceback (most recent call last)", "referenceerror", "attributeerror", "nameerror:",
                "keyerror:", "valueerror:", "nullpointerexception", "is not a function", "cannot read properties of",
            ])),
        LogRule(
            id: "database_query_failed", severity: .high,
            matcher: .anyOf([
                "query failed", "sqlstate", "deadlock detected", "database is locked", "sqlite_busy", "duplicate key value",
                "syntax error at or near", "relation does not exist", "prismaclientknownrequesterror", "queryfailederror",
                "sequelizedatabaseerror", "operationalerror", "could not connect to database",
            ])),
        LogRule(
            id: "connection_refused", severity: .high,
            matcher: .anyOf(["econnrefused", "connection refused", "connect: connection refused", "econnreset"])),
        LogRule(
            id: "timeout", severity: .medium,
            matcher: .anyOf(["etimedout", "timed out", "timeout exceeded", "deadline exceeded", "request timeout"])),
        LogRule(id: "http_5xx", severity: .medium, matcher: .http5xx),
    ]

    /// The rule id of error lines no rule matched, grouped by template.
    public static let unmatchedID = "unmatched_error"
}

/// An `NSRegularExpression` that may cross concurrency domains: it is immutable and documented
/// thread-safe once built.
public final class NSRegularExpressionBox: @unchecked Sendable {
    public let regex: NSRegularExpression
    init(_ regex: NSRegularExpression) { self.regex = regex }

    /// Compiles `pattern`; the failure names the pattern and why.
    public static func compile(_ pattern: String) -> Result<NSRegularExpressionBox, RegexProblem> {
        guard !pattern.isEmpty else { return .failure(RegexProblem(pattern: pattern, reason: "is empty")) }
        do {
            return .success(NSRegularExpressionBox(try NSRegularExpression(pattern: pattern)))
        } catch {
            return .failure(RegexProblem(pattern: pattern, reason: "is not a valid regular expression"))
        }
    }

    public func firstMatch(in text: String) -> NSTextCheckingResult? {
        regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text))
    }

    /// Names of the pattern's named groups, in the order they appear.
    public var groupNames: [String] {
        let p = regex.pattern
        var names: [String] = []
        var rest = p[...]
        while let r = rest.range(of: "(?<") {
            let after = rest[r.upperBound...]
            if let first = after.first, first != "=", first != "!", let close = after.firstIndex(of: ">") {
                names.append(String(after[..<close]))
            }
            rest = after
        }
        return names
    }
}

/// A regex that did not compile.
public struct RegexProblem: Error, Sendable, Equatable, CustomStringConvertible {
    public var pattern: String
    public var reason: String
    public var description: String { "\"\(pattern)\" \(reason)" }
}

/// What a line is, once classified: its rule, severity, template and fingerprint.
public struct LogClassification: Sendable, Equatable {
    public var ruleID: String
    public var severity: Severity
    public var template: String
    public var fingerprint: String
}

/// The rules in force (config rules first, then the built-ins) and the classifier.
public struct LogRuleSet: Sendable {
    public var rules: [LogRule]

    public init(configured: [LogRule] = []) { rules = configured + LogRule.builtIn }

    /// The first rule that matches. An ASCII message (nearly all) is lowercased byte by byte
    /// on the stack and searched byte by byte; any other goes the String way (Unicode
    /// lowercasing), so the answer is the same either way.
    func firstMatch(_ message: String) -> LogRule? {
        var m = message
        let ascii: LogRule?? = m.withUTF8 { bytes -> LogRule?? in
            for b in bytes where b >= 0x80 { return .none }
            return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: max(1, bytes.count)) { buf -> LogRule?? in
                for (k, b) in bytes.enumerated() { buf[k] = b >= 0x41 && b <= 0x5A ? b | 0x20 : b }
                let lower = UnsafeBufferPointer(rebasing: buf[0..<bytes.count])
                return .some(rules.first { $0.matches(message, asciiLower: lower) })
            }
        }
        if let ascii { return ascii }
        let lower = message.lowercased()
        return rules.first { $0.matches(message, lower: lower) }
    }

    /// Levels whose lines are never matched against the rules.
    static let quiet: Set<String> = ["debug", "trace"]
    /// Levels of error lines: those no rule matched still get a fingerprint by template.
    public static let errorLevels: Set<String> = ["error", "critical", "fatal", "panic", "alert", "emergency"]

    /// The classification of one line, or nil for an ordinary line.
    public func classify(message: String, level: String) -> LogClassification? {
        if Self.quiet.contains(level) { return nil }
        if let rule = firstMatch(message) {
            let template = LogMasking.mask(message)
            return LogClassification(
                ruleID: rule.id, severity: rule.severity, template: template,
                fingerprint: LogFingerprint.of(ruleID: rule.id, template: template))
        }
        guard Self.errorLevels.contains(level) else { return nil }
        let template = LogMasking.mask(message)
        return LogClassification(
            ruleID: LogRule.unmatchedID, severity: level == "error" ? .medium : .high, template: template,
            fingerprint: LogFingerprint.of(ruleID: LogRule.unmatchedID, template: template))
    }
}

/// Fingerprints: `fp_` + 16 hex digits of FNV-1a 64 over the masking version, the rule id and
/// the template. Stable across runs, restarts and machines (no seeded hash).
public enum LogFingerprint {
    public static func of(ruleID: String, template: String, version: Int = LogMasking.version) -> String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        func feed(_ s: String) {
            for b in s.utf8 {
                h ^= UInt64(b)
                h = h &* 0x100_0000_01b3
            }
            // A 0 byte between the parts, so ("ab", "c") and ("a", "bc") differ.
            h = h &* 0x100_0000_01b3
        }
        feed("v\(version)")
        feed(ruleID)
        feed(template)
        let hex = String(h, radix: 16)
        return "fp_" + String(repeating: "0", count: 16 - hex.count) + hex
    }

    public static func isValid(_ text: String) -> Bool {
        text.count == 19 && text.hasPrefix("fp_") && text.dropFirst(3).allSatisfy { $0.isHexDigit && !$0.isUppercase }
    }
}
