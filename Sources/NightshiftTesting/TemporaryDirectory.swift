import Foundation

/// A fresh, uniquely named directory under the system temporary directory. It is removed by
/// `remove()` or, at the latest, when the last reference goes away.
public final class TemporaryDirectory: Sendable {
    /// The directory's URL.
    public let url: URL

    /// Creates the directory; `prefix` makes leftovers easy to attribute.
    public init(prefix: String = "nightshift-test") throws {
        let name = "\(prefix)-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString.lowercased())"
        url = FileManager.default.temporaryDirectory.appendingPathComponent(name, isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    /// The directory's path.
    public var path: String { url.path }

    /// The path of `name` inside the directory (nothing is created).
    public func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    /// Writes `text` to `name` inside the directory and returns its path.
    @discardableResult
    public func write(_ text: String, to name: String) throws -> String {
        let file = url.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: file)
        return file.path
    }

    /// Writes an executable `/bin/sh` script with `body` to `name` and returns its path.
    public func script(_ name: String, _ body: String) throws -> String {
        let path = try write("#!/bin/sh\n\(body)\n", to: name)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path)
        return path
    }

    /// Deletes the directory and everything in it; safe to call more than once.
    public func remove() {
        try? FileManager.default.removeItem(at: url)
    }

    deinit { remove() }
}
