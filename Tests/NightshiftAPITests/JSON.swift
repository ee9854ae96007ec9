import Foundation
import NightshiftCore

/// Read-only access to a decoded JSON body: `body["tasks"][0]["id"].string`. A missing key or
/// index gives an absent value instead of crashing, so a test states what it expects in one line.
struct JSON: Equatable, Sendable, CustomStringConvertible {
    /// The value, or nil when a key or index was absent.
    let value: JSONValue?

    init(_ value: JSONValue?) { self.value = value }

    subscript(key: String) -> JSON { JSON(value?.objectValue?[key]) }
    subscript(index: Int) -> JSON {
        guard let a = value?.arrayValue, a.indices.contains(index) else { return JSON(nil) }
        return JSON(a[index])
    }

    var exists: Bool { value != nil }
    var isNull: Bool { value == .null }
    var string: String? { value?.stringValue }
    var double: Double? { value?.doubleValue }
    var int: Int? {
        guard let d = value?.doubleValue, d.rounded() == d, abs(d) < 1e15 else { return nil }
        return Int(d)
    }
    var bool: Bool? { if case .bool(let b)? = value { return b } else { return nil } }
    var array: [JSON]? { value?.arrayValue?.map(JSON.init) }
    var keys: Set<String>? { value?.objectValue.map { Set($0.keys) } }
    var count: Int? { value?.arrayValue?.count ?? value?.objectValue?.count }

    var description: String {
        guard let value else { return "<absent>" }
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        return (try? String(decoding: enc.encode(value), as: UTF8.self)) ?? "\(value)"
    }
}
