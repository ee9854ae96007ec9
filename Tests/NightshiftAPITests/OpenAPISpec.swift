import Foundation
import Testing
import Yams

/// `api/openapi.yaml`, parsed, with the questions the conformance tests ask of it.
struct OpenAPISpec {
    static let methods = ["get", "put", "post", "patch", "delete", "head", "options", "trace"]

    let root: [String: Any]

    /// The package root: this file is `<root>/Tests/NightshiftAPITests/OpenAPISpec.swift`.
    static var packageRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    static func load() throws -> OpenAPISpec {
        let url = packageRoot.appendingPathComponent("api/openapi.yaml")
        let text = try String(contentsOf: url, encoding: .utf8)
        return try OpenAPISpec(yaml: text)
    }

    init(yaml: String) throws {
        root = try #require(Self.normalized(try Yams.load(yaml: yaml)) as? [String: Any], "openapi.yaml is a mapping")
    }

    /// Yams gives mappings as `[AnyHashable: Any]` (a key may be an Int, like `200:`); this turns
    /// every mapping into `[String: Any]`.
    static func normalized(_ value: Any?) -> Any? {
        switch value {
        case let m as [AnyHashable: Any]:
            var out: [String: Any] = [:]
            for (k, v) in m { out["\(k.base)"] = normalized(v) }
            return out
        case let a as [Any]:
            return a.map { normalized($0) as Any }
        default:
            return value
        }
    }

    var paths: [String: Any] { root["paths"] as? [String: Any] ?? [:] }

    /// Every operation as `METHOD path`, with its definition.
    var operations: [(key: String, operation: [String: Any])] {
        var out: [(String, [String: Any])] = []
        for (path, item) in paths {
            guard let item = item as? [String: Any] else { continue }
            for m in Self.methods {
                if let op = item[m] as? [String: Any] { out.append(("\(m.uppercased()) \(path)", op)) }
            }
        }
        return out.sorted { $0.0 < $1.0 }
    }

    /// The `required` keys of `components.schemas.<name>`.
    func required(ofSchema name: String) throws -> Set<String> {
        let components = try #require(root["components"] as? [String: Any])
        let schemas = try #require(components["schemas"] as? [String: Any])
        let schema = try #require(schemas[name] as? [String: Any], "schema \(name) exists")
        return Set((schema["required"] as? [Any] ?? []).compactMap { $0 as? String })
    }

    /// Routes only the server has, and operations only the spec has.
    static func diff(spec: Set<String>, server: Set<String>) -> (notInSpec: [String], notServed: [String]) {
        (server.subtracting(spec).sorted(), spec.subtracting(server).sorted())
    }
}
