import Foundation

/// One log line as stored: who said it, when, how loud, and what.
public struct LogEntry: Codable, Sendable, Equatable {
    /// Row id (monotonic); 0 before it is stored.
    public var id: Int64
    public var runID: String
    public var at: Date
    /// `debug`, `info`, `warning`, `error`, `critical`, ... (lowercase).
    public var level: String
    public var source: String
    public var message: String
    /// Set when a rule (or the error level) classified the line.
    public var fingerprint: String?

    enum CodingKeys: String, CodingKey {
        case id, at, level, source, message, fingerprint
        case runID = "run_id"
    }

    public init(
        id: Int64 = 0, runID: String, at: Date, level: String, source: String, message: String, fingerprint: String? = nil
    ) {
        self.id = id
        self.runID = runID
        self.at = at
        self.level = level
        self.source = source
        self.message = message
        self.fingerprint = fingerprint
    }
}

/// A line as it arrived, before it has a run.
public struct IncomingLogLine: Sendable, Equatable {
    public var runID: String?
    public var at: Date?
    public var level: String
    public var source: String
    public var message: String
    public init(runID: String? = nil, at: Date? = nil, level: String, source: String, message: String) {
        self.runID = runID
        self.at = at
        self.level = level
        self.source = source
        self.message = message
    }
}

/// Parses an ingest body (issue 13, point 1): NDJSON, a JSON array (Fluent Bit's `json`
/// format), `{"logs": [...]}`, one object, or plain text (one message per line). Each line is
/// judged alone: a bad one is counted and named, never fails the batch.
public enum LogIngestParser {
    /// Messages are cut here.
    public static let maxMessageBytes = 16 * 1024
    /// Rejections named in the answer (the count covers all of them).
    public static let maxReported = 10

    public struct Rejection: Codable, Sendable, Equatable {
        /// 1-based position in the batch.
        public var line: Int
        public var reason: String
    }

    public struct Parsed: Sendable, Equatable {
        public var lines: [IncomingLogLine] = []
        public var rejected = 0
        public var rejections: [Rejection] = []
        public init() {}

        mutating func reject(_ line: Int, _ reason: String) {
            rejected += 1
            if rejections.count < LogIngestParser.maxReported { rejections.append(Rejection(line: line, reason: reason)) }
        }
    }

    /// The body could not be read as any of the formats at all.
    public struct Malformed: Error, Sendable, Equatable {
        public var reason: String
    }

    public static func parse(_ body: [UInt8], contentType: String?) throws(Malformed) -> Parsed {
        let type = (contentType ?? "").lowercased()
        let first = body.first { !LogMasking.isSpace($0) }
        if type.hasPrefix("text/plain") { return plainText(body) }
        if first == UInt8(ascii: "[") {
            guard let value = try? JSONDecoder().decode(JSONValue.self, from: Data(body)), case .array(let items) = value else {
                throw Malformed(reason: "the body starts with [ but is not a JSON array")
            }
            return entries(items)
        }
        if first == UInt8(ascii: "{") && !type.contains("ndjson"),
            let value = try? JSONDecoder().decode(JSONValue.self, from: Data(body)), case .object(let object) = value
        {
            if let logs = object["logs"] {
                guard case .array(let items) = logs else { throw Malformed(reason: "\"logs\" must be an array of objects") }
                return entries(items)
            }
            return entries([value])
        }
        if first == nil { return Parsed() }
        return ndjson(body)
    }

    static func plainText(_ body: [UInt8]) -> Parsed {
        var out = Parsed()
        for raw in body.split(separator: 0x0A, omittingEmptySubsequences: true) {
            let text = String(decoding: raw, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            if text.isEmpty { continue }
            out.lines.append(
                IncomingLogLine(level: inferLevel(text), source: "ingest", message: cut(text)))
        }
        return out
    }

    static func ndjson(_ body: [UInt8]) -> Parsed {
        var out = Parsed()
        var n = 0
        for raw in body.split(separator: 0x0A, omittingEmptySubsequences: false) {
            let trimmed = raw.drop { LogMasking.isSpace($0) }
            if trimmed.isEmpty { continue }
            n += 1
            guard let value = try? JSONDecoder().decode(JSONValue.self, from: Data(trimmed)) else {
                out.reject(n, "not a JSON object")
                continue
            }
            line(value, n, &out)
        }
        return out
    }

    static func entries(_ items: [JSONValue]) -> Parsed {
        var out = Parsed()
        for (i, item) in items.enumerated() { line(item, i + 1, &out) }
        return out
    }

    static func line(_ value: JSONValue, _ n: Int, _ out: inout Parsed) {
        switch entry(value) {
        case .success(let l): out.lines.append(l)
        case .failure(let why): out.reject(n, why.reason)
        }
    }

    /// One object: `message`|`log`|`msg`, `level`, `source`, `run_id`, `timestamp`|`date`|`time`.
    public static func entry(_ value: JSONValue) -> Result<IncomingLogLine, Malformed> {
        guard case .object(let o) = value else { return .failure(Malformed(reason: "not a JSON object")) }
        guard let message = (o["message"] ?? o["log"] ?? o["msg"])?.stringValue else {
            return .failure(Malformed(reason: "no message (a string in message, log or msg)"))
        }
        let text = message.trimmingCharacters(in: .newlines)
        guard !text.trimmingCharacters(in: .whitespaces).isEmpty else {
            return .failure(Malformed(reason: "the message is empty"))
        }
        var runID: String?
        if let r = o["run_id"] {
            guard let s = r.stringValue, RunID.isValid(s) || s == "latest" else {
                return .failure(Malformed(reason: "run_id is not a run id (run_YYYYMMDD_HHMMSS_xxxx)"))
            }
            runID = s == "latest" ? nil : s
        }
        var at: Date?
        if let t = o["timestamp"] ?? o["date"] ?? o["time"] {
            guard let d = time(t) else {
                return .failure(Malformed(reason: "the time is neither epoch seconds nor RFC 3339"))
            }
            at = d
        }
        var level = inferLevel(text)
        if let l = o["level"] ?? o["severity"] {
            guard let s = l.stringValue, let norm = normalizeLevel(s) else {
                return .failure(Malformed(reason: "level must be a word such as info, warning or error"))
            }
            level = norm
        }
        var source = "ingest"
        if let s = o["source"] {
            guard let str = s.stringValue, !str.isEmpty, str.utf8.count <= 128 else {
                return .failure(Malformed(reason: "source must be a string of 1 to 128 bytes"))
            }
            source = str
        }
        return .success(IncomingLogLine(runID: runID, at: at, level: level, source: source, message: cut(text)))
    }

    /// Epoch seconds (a number, fractions allowed; values past year 5000 are taken as
    /// milliseconds) or an RFC 3339 string.
    public static func time(_ v: JSONValue) -> Date? {
        switch v {
        case .number(let n) where n.isFinite && n >= 0:
            return Date(timeIntervalSince1970: n > 95_617_584_000 ? n / 1000 : n)
        case .string(let s):
            if let n = Double(s), n.isFinite, n >= 0 { return Date(timeIntervalSince1970: n > 95_617_584_000 ? n / 1000 : n) }
            return Timestamp.parse(s)
        default:
            return nil
        }
    }

    /// Lowercase, with the usual aliases folded: `warn`→`warning`, `err`→`error`, ...
    public static func normalizeLevel(_ s: String) -> String? {
        let l = s.trimmingCharacters(in: .whitespaces).lowercased()
        guard !l.isEmpty, l.count <= 16, l.allSatisfy({ $0.isLetter }) else { return nil }
        switch l {
        case "warn": return "warning"
        case "err", "severe": return "error"
        case "crit": return "critical"
        case "emerg": return "emergency"
        case "information", "notice": return "info"
        case "dbg": return "debug"
        default: return l
        }
    }

    /// The level a line without one says of itself (`ERROR ...`, `[warn] ...`, `level=error`).
    public static func inferLevel(_ text: String) -> String {
        let head = text.utf8.prefix(80)
        let lower = String(decoding: head, as: UTF8.self).lowercased()
        for (word, level) in [
            ("panic", "critical"), ("fatal", "fatal"), ("critical", "critical"), ("error", "error"), ("exception", "error"),
            ("traceback", "error"), ("warn", "warning"), ("debug", "debug"),
        ] where lower.contains(word) {
            return level
        }
        return "info"
    }

    static func cut(_ text: String) -> String {
        guard text.utf8.count > maxMessageBytes else { return text }
        return String(decoding: text.utf8.prefix(maxMessageBytes), as: UTF8.self)
    }
}

/// Log levels in order, for "this level and above" filters.
public enum LogLevels {
    public static let ordered = [
        "trace", "debug", "info", "warning", "error", "critical", "fatal", "alert", "panic", "emergency",
    ]

    /// The levels at or above `level`; nil when `level` is not one of `ordered`.
    public static func atLeast(_ level: String) -> [String]? {
        guard let norm = LogIngestParser.normalizeLevel(level), let i = ordered.firstIndex(of: norm) else { return nil }
        return Array(ordered[i...])
    }
}
