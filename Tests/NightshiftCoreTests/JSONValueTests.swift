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

@Suite("JSONValue.parse: the decoder's values without the decoder")
struct JSONValueParseTests {
    static func decoded(_ text: String) -> JSONValue? { try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)) }

    @Test(
        "valid documents parse to what JSONDecoder gives",
        arguments: [
            "{}", "[]", "null", "true", "false", "0", "-0", "1.5", "-2.5e-3", "1E21", "12345678901234567890", "0.1",
            #"{"a":1,"b":[true,false,null],"c":{"d":"e"}}"#, #" { "spaced" : [ 1 , 2 ] } "#,
            #""quote \" backslash \\ slash \/ controls \b\f\n\r\t""#, #""\u0000\u001f\u00e9\u2028""#,
            #""surrogates \ud83d\ude00 and raw 😀 é""#, #"{"dup":1,"dup":2}"#, #"[[[[[[[[[["deep"]]]]]]]]]]"#,
            #"{"repo":"/srv/project","n":3,"f":0.25,"list":["a","b"]}"#,
        ])
    func matchesDecoder(_ text: String) throws {
        let expected = try #require(Self.decoded(text), "the decoder reads \(text)")
        #expect(JSONValue.parse(text) == expected)
    }

    @Test(
        "text that is not JSON is refused, as the decoder refuses it",
        arguments: [
            "", " ", "{", "[1,]", "{\"a\":}", "{\"a\" 1}", "01", "1.", ".5", "-", "1e", "+1", "tru", "nul", "\"open",
            "\"bad \\x escape\"", "\"lone \\ud83d\"", "\"low first \\ude00\"", "\"raw\u{1}control\"", "[1] 2", "{\"a\":1,}",
            "NaN", "Infinity", "1e999",
        ])
    func refusesJunk(_ text: String) {
        #expect(JSONValue.parse(text) == nil, "\(text)")
        // The decoder is laxer on two: a trailing comma, and a number too large (infinity).
        let lax = ["[1,]", "{\"a\":1,}", "1e999"].contains(text)
        #expect(Self.decoded(text) == nil || lax, "the decoder refuses \(text) too")
    }

    @Test("random documents the encoder wrote parse back to the value")
    func roundTripsEncoderOutput() throws {
        var rng = SystemRandomNumberGenerator()
        func random(_ depth: Int) -> JSONValue {
            switch Int.random(in: 0..<(depth > 3 ? 4 : 6), using: &rng) {
            case 0: return .null
            case 1: return .bool(Bool.random(using: &rng))
            case 2: return .number(Double(Int.random(in: -1_000_000...1_000_000, using: &rng)) / 64)
            case 3:
                let scalars = (0..<Int.random(in: 0..<12, using: &rng)).compactMap { _ in
                    Unicode.Scalar(UInt32.random(in: 0..<0x1_F700, using: &rng))
                }.filter { !(0xD800...0xDFFF).contains($0.value) }
                return .string(String(String.UnicodeScalarView(scalars)))
            case 4: return .array((0..<Int.random(in: 0..<4, using: &rng)).map { _ in random(depth + 1) })
            default:
                return .object(
                    Dictionary(
                        (0..<Int.random(in: 0..<4, using: &rng)).map {
                            ("k\($0)\(Int.random(in: 0..<99, using: &rng))", random(depth + 1))
                        },
                        uniquingKeysWith: { a, _ in a }))
            }
        }
        for _ in 0..<500 {
            let v = random(0)
            let text = String(decoding: try JSONEncoder.nightshift().encode(v), as: UTF8.self)
            #expect(JSONValue.parse(text) == Self.decoded(text), "\(text)")
        }
    }
}
