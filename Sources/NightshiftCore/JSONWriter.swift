import Foundation

/// Writes JSON straight into bytes, the same bytes `JSONEncoder.nightshift()` writes for the
/// same values (keys sorted by their UTF-8 bytes, `/` unescaped, control characters as `\b`
/// `\t` `\n` `\f` `\r` or `\u00xx`, doubles as Swift prints them without a trailing `.0`), at
/// the speed of the bytes: no reflection, no intermediate tree. For the hot routes (the task
/// list and get); a test holds it against the encoder on every field and odd strings.
public struct JSONWriter: Sendable {
    public private(set) var bytes: [UInt8] = []

    public init(capacity: Int = 1024) { bytes.reserveCapacity(capacity) }

    /// A value the encoder refuses too (a non-finite number).
    public struct Unencodable: Error, CustomStringConvertible {
        public var description: String
    }

    @inline(__always) public mutating func raw(_ byte: UInt8) { bytes.append(byte) }
    @inline(__always) public mutating func raw(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    /// `"key":`. Keys are written as given: callers pass them in sorted order.
    @inline(__always) public mutating func key(_ name: String) {
        string(name)
        bytes.append(UInt8(ascii: ":"))
    }

    public mutating func null() { raw("null") }
    public mutating func bool(_ b: Bool) { b ? raw("true") : raw("false") }

    public mutating func string(_ s: String) {
        bytes.append(UInt8(ascii: "\""))
        var s = s
        s.withUTF8 { utf8 in
            var start = 0
            for i in 0..<utf8.count {
                let c = utf8[i]
                guard c < 0x20 || c == UInt8(ascii: "\"") || c == UInt8(ascii: "\\") else { continue }
                if start < i { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start..<i])) }
                start = i + 1
                bytes.append(UInt8(ascii: "\\"))
                switch c {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"): bytes.append(c)
                case 0x08: bytes.append(UInt8(ascii: "b"))
                case 0x09: bytes.append(UInt8(ascii: "t"))
                case 0x0A: bytes.append(UInt8(ascii: "n"))
                case 0x0C: bytes.append(UInt8(ascii: "f"))
                case 0x0D: bytes.append(UInt8(ascii: "r"))
                default:
                    bytes.append(contentsOf: [UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0")])
                    bytes.append(Self.hex[Int(c >> 4)])
                    bytes.append(Self.hex[Int(c & 0xF)])
                }
            }
            if start < utf8.count { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start...])) }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    private static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    public mutating func int<I: BinaryInteger>(_ n: I) {
        if n == 0 {
            bytes.append(UInt8(ascii: "0"))
            return
        }
        var magnitude = n.magnitude
        if n < 0 { bytes.append(UInt8(ascii: "-")) }
        let start = bytes.count
        while magnitude > 0 {
            bytes.append(UInt8(ascii: "0") + UInt8(magnitude % 10))
            magnitude /= 10
        }
        bytes[start...].reverse()
    }

    public mutating func double(_ d: Double) throws {
        guard d.isFinite else { throw Unencodable(description: "\(d) is not a JSON number") }
        var text = d.description
        if text.hasSuffix(".0") { text.removeLast(2) }
        bytes.append(contentsOf: text.utf8)
    }

    public mutating func date(_ date: Date) { string(Timestamp.format(date)) }

    public mutating func optional<T>(_ value: T?, _ write: (inout JSONWriter, T) throws -> Void) rethrows {
        if let value { try write(&self, value) } else { null() }
    }

    /// A `JSONValue` as `JSONValue.encode(to:)` writes it: whole numbers below 2^53 as integers.
    public mutating func value(_ v: JSONValue) throws {
        switch v {
        case .null: null()
        case .bool(let b): bool(b)
        case .number(let n):
            if n.rounded() == n, abs(n) < 9.007_199_254_740_992e15 { int(Int64(n)) } else { try double(n) }
        case .string(let s): string(s)
        case .array(let a):
            raw(UInt8(ascii: "["))
            for (i, e) in a.enumerated() {
                if i > 0 { raw(UInt8(ascii: ",")) }
                try value(e)
            }
            raw(UInt8(ascii: "]"))
        case .object(let o): try object(o)
        }
    }

    public mutating func object(_ o: [String: JSONValue]) throws {
        raw(UInt8(ascii: "{"))
        for (i, k) in Self.sortedKeys(o).enumerated() {
            if i > 0 { raw(UInt8(ascii: ",")) }
            key(k)
            try value(o[k]!)
        }
        raw(UInt8(ascii: "}"))
    }

    public mutating func strings(_ a: [String]) {
        raw(UInt8(ascii: "["))
        for (i, s) in a.enumerated() {
            if i > 0 { raw(UInt8(ascii: ",")) }
            string(s)
        }
        raw(UInt8(ascii: "]"))
    }

    /// The encoder's `.sortedKeys` order: by UTF-8 bytes, not Unicode-canonical `<`.
    static func sortedKeys<V>(_ o: [String: V]) -> [String] {
        o.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }
}

extension AgentTask {
    /// The task's JSON field names (the API's keys), in the order the encoder writes them.
    public static let fieldNames: [String] = fields.map(\.name)

    /// One field of the JSON: its key and how to write its value.
    struct Field: Sendable {
        var name: String
        var write: @Sendable (inout JSONWriter, AgentTask) throws -> Void
    }

    /// Every field, sorted by key as the encoder sorts them.
    static let fields: [Field] = {
        func s(_ k: CodingKeys, _ v: @escaping @Sendable (AgentTask) -> String?) -> Field {
            Field(name: k.rawValue) { w, t in w.optional(v(t)) { $0.string($1) } }
        }
        func i(_ k: CodingKeys, _ v: @escaping @Sendable (AgentTask) -> Int?) -> Field {
            Field(name: k.rawValue) { w, t in w.optional(v(t)) { $0.int($1) } }
        }
        func d(_ k: CodingKeys, _ v: @escaping @Sendable (AgentTask) -> Date?) -> Field {
            Field(name: k.rawValue) { w, t in w.optional(v(t)) { $0.date($1) } }
        }
        let all: [Field] = [
            s(.id) { $0.id }, s(.taskType) { $0.taskType.rawValue }, s(.direction) { $0.direction },
            s(.status) { $0.status.rawValue }, i(.priority) { $0.priority }, d(.notBefore) { $0.notBefore },
            i(.attempt) { $0.attempt }, i(.maxAttempts) { $0.maxAttempts }, s(.executor) { $0.executor },
            s(.command) { $0.command }, s(.claimedBy) { $0.claimedBy }, d(.leaseExpiresAt) { $0.leaseExpiresAt },
            d(.heartbeatAt) { $0.heartbeatAt }, i(.pid) { $0.pid.map(Int.init) }, i(.pgid) { $0.pgid.map(Int.init) },
            s(.decisionPrompt) { $0.decisionPrompt }, s(.decision) { $0.decision }, d(.decidedAt) { $0.decidedAt },
            i(.exitCode) { $0.exitCode.map(Int.init) }, s(.error) { $0.error }, s(.errorClass) { $0.errorClass },
            s(.outputTail) { $0.outputTail }, s(.logPath) { $0.logPath }, s(.summary) { $0.summary },
            s(.verdict) { $0.verdict }, s(.feedback) { $0.feedback },
            Field(name: CodingKeys.costUSD.rawValue) { w, t in try w.optional(t.costUSD) { try $0.double($1) } },
            i(.tokensIn) { $0.tokensIn }, i(.tokensOut) { $0.tokensOut }, s(.backlogItem) { $0.backlogItem },
            s(.phase) { $0.phase }, i(.iteration) { $0.iteration }, s(.parentID) { $0.parentID },
            Field(name: CodingKeys.dependsOn.rawValue) { w, t in w.strings(t.dependsOn) },
            Field(name: CodingKeys.context.rawValue) { w, t in try w.object(t.context) },
            d(.createdAt) { $0.createdAt }, d(.updatedAt) { $0.updatedAt }, d(.startedAt) { $0.startedAt },
            d(.finishedAt) { $0.finishedAt }, s(.runID) { $0.runID }, i(.turns) { $0.turns },
            i(.tokensCacheRead) { $0.tokensCacheRead }, i(.tokensCacheWrite) { $0.tokensCacheWrite },
            s(.lastTool) { $0.lastTool }, d(.lastEventAt) { $0.lastEventAt }, s(.costSource) { $0.costSource },
            s(.sessionID) { $0.sessionID }, s(.model) { $0.model },
            Field(name: CodingKeys.budgetUSD.rawValue) { w, t in try w.optional(t.budgetUSD) { try $0.double($1) } },
        ]
        return all.sorted { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }
    }()

    /// A subset of the task's fields (`?fields=` of the list), or all of them.
    public struct FieldSet: Sendable, Equatable {
        var bits: UInt64
        public static let all = FieldSet(bits: UInt64.max)

        /// The set of `names`; throws naming the first that is not a field of a task.
        public init(names: [String]) throws(UnknownField) {
            bits = 0
            for name in names {
                guard let i = AgentTask.fieldNames.firstIndex(of: name) else { throw UnknownField(name: name) }
                bits |= 1 << UInt64(i)
            }
        }
        init(bits: UInt64) { self.bits = bits }
        func contains(_ index: Int) -> Bool { bits & (1 << UInt64(index)) != 0 }
    }

    public struct UnknownField: Error, Equatable {
        public var name: String
        public init(name: String) { self.name = name }
    }

    /// Writes the task as the encoder would, with only the fields in `fields`.
    public func writeJSON(to w: inout JSONWriter, fields: FieldSet = .all) throws {
        w.raw(UInt8(ascii: "{"))
        var first = true
        for (i, field) in Self.fields.enumerated() where fields.contains(i) {
            if !first { w.raw(UInt8(ascii: ",")) }
            first = false
            w.key(field.name)
            try field.write(&w, self)
        }
        w.raw(UInt8(ascii: "}"))
    }
}
