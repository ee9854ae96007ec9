import Foundation
import NightshiftCore
import Testing

/// `config/nightshift.yaml` documents the defaults; it must say exactly what the code does.
@Suite("config/nightshift.yaml")
struct DefaultConfigFileTests {
    /// The package root: this file is `<root>/Tests/NightshiftCoreTests/DefaultConfigFileTests.swift`.
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test("the shipped config file parses to exactly the embedded defaults")
    func shippedFileIsDefaults() throws {
        let file = Self.packageRoot.appendingPathComponent(ConfigLoader.defaultPath)
        let data = try #require(FileManager.default.contents(atPath: file.path), "missing \(file.path)")
        let text = try #require(String(data: data, encoding: .utf8))
        let parsed = try ConfigLoader.parse(yaml: text, file: file.path)
        #expect(parsed == NightshiftConfig())
        try ConfigLoader.validate(parsed)
        let loaded = try ConfigLoader.load(path: file.path, environment: [:])
        #expect(loaded == NightshiftConfig())
    }
}
