import Foundation
import NightshiftCore
import Testing

@Suite("JSONValue")
struct JSONValueTests {
    let sample: JSONValue = .object([
        "null": .null, "yes": .bool(true), "no": .bool(false), "int": .number(42), "zero": .number(0), "one": .number(1),
        "negative": .number(-7), "fraction": .number(0.125), "big": .number(1e20), "text": .string("héllo \"quoted\" / ✓"),
        "empty": .string(""), "list": .array([.number(1), .string("two"), .null, .array([])]),
        "nested": .object(["deeper": .object(["k": .bool(false)])]),
    ])

    @Test("encode then decode gives the same value")
    func roundTrip() throws {
        let data = try JSONEncoder.nightshift().encode(sample)
        #expect(try JSONDecoder.nightshift().decode(JSONValue.self, from: data) == sample)
    }

    @Test("integers are written without a fraction; 0 and 1 stay numbers, not booleans")
    func integerShape() throws {
        let text = String(
            decoding: try JSONEncoder.nightshift().encode(JSONValue.object(["a": .number(3), "b": .number(2.5)])), as: UTF8.self)
        #expect(text == #"{"a":3,"b":2.5}"#)
        let decoded = try JSONDecoder().decode(JSONValue.self, from: Data(#"[0, 1, true, false, 1.0]"#.utf8))
        #expect(decoded == .array([.number(0), .number(1), .bool(true), .bool(false), .number(1)]))
    }

    @Test("decodes a document written by someone else")
    func decodesForeign() throws {
        let text = #"{"a": {"b": [1, "x", null, {"c": true}]}, "s": "t"}"#
        let v = try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
        #expect(
            v
                == .object([
                    "a": .object(["b": .array([.number(1), .string("x"), .null, .object(["c": .bool(true)])])]),
                    "s": .string("t"),
                ]))
        #expect(v.objectValue?["s"]?.stringValue == "t")
        #expect(v.objectValue?["a"]?.objectValue?["b"] != nil)
        #expect(JSONValue.number(2).doubleValue == 2)
        #expect(JSONValue.string("2").doubleValue == nil)
        #expect(JSONValue.null.stringValue == nil)
    }
}

@Suite("JSON text without Foundation's encoder")
struct JSONTextTests {
    @Test("the same text JSONEncoder writes with sorted keys, for odd strings and numbers too")
    func matchesFoundation() throws {
        let samples: [JSONValue] = [
            .object([
                "by": .string("api"), "exit_code": .number(1), "cost": .number(0.125), "ok": .bool(true), "none": .null,
                "error": .string("quote \" backslash \\ newline \n tab \t nul \u{0} bell \u{7} emoji 🌙 slash /"),
                "list": .array([.number(-3), .string("x"), .object(["b": .number(2), "a": .number(1)])]),
            ]),
            .object([:]), .string(""), .number(1e20),
        ]
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        for v in samples {
            let ours = v.jsonText
            let back = try JSONDecoder().decode(JSONValue.self, from: Data(ours.utf8))
            #expect(back == v, "\(ours)")
            if case .object = v { #expect(ours == String(decoding: try encoder.encode(v), as: UTF8.self)) }
        }
    }
}
