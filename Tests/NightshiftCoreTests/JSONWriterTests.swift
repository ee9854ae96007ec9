import Foundation
import NightshiftCore
import NightshiftTesting
import Testing

@Suite("JSONWriter: the same bytes as the encoder")
struct JSONWriterTests {
    static func encoded<T: Encodable>(_ value: T) throws -> String {
        String(decoding: try JSONEncoder.nightshift().encode(value), as: UTF8.self)
    }

    static func written(_ task: AgentTask, fields: AgentTask.FieldSet = .all) throws -> String {
        var w = JSONWriter()
        try task.writeJSON(to: &w, fields: fields)
        return String(decoding: w.bytes, as: UTF8.self)
    }

    /// Strings that trip encoders: every control character, quotes, backslashes, slashes,
    /// emoji and combining marks, line and paragraph separators, a byte-order mark, 5,000
    /// characters.
    static let oddStrings: [String] = {
        var controls = ""
        for i in 0..<0x20 { controls.unicodeScalars.append(UnicodeScalar(UInt8(i))) }
        return [
            "", controls, "\"quoted\" \\ back\\slash / slash", "emoji 😀👩‍👩‍👧 é e\u{301} \u{7f}",
            "\u{2028}\u{2029}\u{FEFF}\u{FFFF}", String(repeating: "ab\"\n😀", count: 1000),
            String(repeating: "x", count: 5000), "</script><b>&amp;</b>",
        ]
    }()

    static let oddNumbers: [Double] = [
        0, -0.0, 0.1, 0.25, 1, 3, 1e-7, 1e21, 1e16, 12_345_678.9, 0.000123, 1.5e300, -2.5, 0.30000000000000004,
        9_007_199_254_740_992, 9_007_199_254_740_993.5, 1e15, 123_456_789_012_345_680_000, -1e-300, .leastNonzeroMagnitude,
        .greatestFiniteMagnitude,
    ]

    @Test("a task with every field set, and one with none, are written byte for byte as encoded")
    func fullAndEmpty() throws {
        let full = AgentTaskJSONTests.fullTask()
        #expect(try Self.written(full) == Self.encoded(full))
        let empty = AgentTask.make(now: MutableNow.defaultStart)
        #expect(try Self.written(empty) == Self.encoded(empty))
    }

    @Test("odd strings in every text field, odd numbers and odd context keys, byte for byte")
    func oddValues() throws {
        var rng = SystemRandomNumberGenerator()
        for (i, s) in Self.oddStrings.enumerated() {
            var t = AgentTaskJSONTests.fullTask()
            t.direction = s.isEmpty ? "x" : s
            (t.executor, t.command, t.claimedBy, t.decisionPrompt, t.decision) = (s, s, s, s, s)
            (t.error, t.errorClass, t.outputTail, t.logPath, t.summary, t.verdict, t.feedback) = (s, s, s, s, s, s, s)
            (t.backlogItem, t.phase, t.parentID) = (s, s, s)
            t.taskType = TaskType(s)
            t.dependsOn = [s, "b", s]
            t.costUSD = Self.oddNumbers[i % Self.oddNumbers.count]
            t.context = [
                s: .string(s), "Z": .number(-0.0), "_": .bool(true), "a10": .null, "a2": .array([.string(s), .number(1e-7)]),
                "é": .object(["e\u{301}x": .number(2), "ez": .number(Double(i)), "😀": .object([:]), "A": .array([])]),
                "\u{FF5E}": .number(1e21), "n\(i)": .number(Double.random(in: -1e6...1e6, using: &rng)),
            ]
            #expect(try Self.written(t) == Self.encoded(t), "string \(i)")
        }
        for n in Self.oddNumbers {
            var t = AgentTask.make(now: MutableNow.defaultStart)
            t.costUSD = n
            t.context = ["n": .number(n), "m": .number(-n)]
            t.priority = Int(n.magnitude.truncatingRemainder(dividingBy: 1000))
            t.pid = Int32.min
            t.pgid = Int32.max
            t.tokensIn = Int.max
            t.tokensOut = Int.min
            #expect(try Self.written(t) == Self.encoded(t), "number \(n)")
        }
    }

    @Test("random times, including ones before 1970 and past 9999, are written as the encoder writes them")
    func times() throws {
        var rng = SystemRandomNumberGenerator()
        var t = AgentTask.make(now: MutableNow.defaultStart)
        for _ in 0..<2000 {
            let seconds = Double.random(in: -70_000_000_000...300_000_000_000, using: &rng)
            t.createdAt = Date(timeIntervalSince1970: seconds)
            t.startedAt = Date(timeIntervalSince1970: seconds.rounded() + 0.9995)
            t.finishedAt = Date(timeIntervalSince1970: -0.0004)
            #expect(try Self.written(t) == Self.encoded(t), "\(seconds)")
        }
    }

    @Test("a field set writes those keys only, in the encoder's order, and names a field it does not know")
    func fieldSets() throws {
        let full = AgentTaskJSONTests.fullTask()
        let set = try AgentTask.FieldSet(names: ["status", "id", "context", "finished_at"])
        let object = try #require(
            try JSONSerialization.jsonObject(with: Data(Self.encoded(full).utf8)) as? [String: Any])
        let subset = object.filter { ["status", "id", "context", "finished_at"].contains($0.key) }
        let expected = String(
            decoding: try JSONSerialization.data(withJSONObject: subset, options: [.sortedKeys, .withoutEscapingSlashes]),
            as: UTF8.self)
        #expect(try Self.written(full, fields: set) == expected)
        #expect(AgentTask.fieldNames == AgentTask.fieldNames.sorted())
        #expect(Set(AgentTask.fieldNames) == AgentTaskJSONTests.allKeys)
        #expect(throws: AgentTask.UnknownField(name: "nope")) { try AgentTask.FieldSet(names: ["id", "nope"]) }
        #expect(try Self.written(full, fields: AgentTask.FieldSet(names: [])) == "{}")
    }

    @Test("a number that is not finite is refused, as the encoder refuses it")
    func nonFinite() {
        var t = AgentTask.make(now: MutableNow.defaultStart)
        t.costUSD = .infinity
        #expect(throws: (any Error).self) { try Self.encoded(t) }
        #expect(throws: JSONWriter.Unencodable.self) { try Self.written(t) }
    }
}
