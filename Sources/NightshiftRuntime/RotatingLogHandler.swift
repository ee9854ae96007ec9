import Foundation
import Logging
import NightshiftCore

/// A swift-log handler that writes one redacted line per message to a rotating component log
/// (`agent_runner.log`, `monitor.log`, ...), and optionally echoes it to stderr.
public struct RotatingLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    let label: String
    let file: RotatingFile?
    let redactor: Redactor
    let echo: Bool

    public init(label: String, file: RotatingFile?, redactor: Redactor, echo: Bool, level: Logger.Level = .info) {
        self.label = label
        self.file = file
        self.redactor = redactor
        self.echo = echo
        self.logLevel = level
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        let meta = merged.isEmpty ? "" : " " + merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        let line = redactor.redact("\(Timestamp.format(Date())) \(event.level.rawValue.uppercased()) [\(label)] \(event.message)\(meta)") + "\n"
        file?.append(line)
        if echo { FileHandle.standardError.write(Data(line.utf8)) }
    }
}

/// Builds the loggers of one daemon: one rotating file per component under the state dir.
public final class ComponentLogs: Sendable {
    let paths: StatePaths
    let maxBytes: Int
    let backups: Int
    let redactor: Redactor
    let echo: Bool
    let level: Logger.Level
    private let files: Mutex<[String: RotatingFile]>

    public init(paths: StatePaths, maxBytes: Int, backups: Int, redactor: Redactor, echo: Bool, level: Logger.Level = .info) {
        self.paths = paths
        self.maxBytes = maxBytes
        self.backups = backups
        self.redactor = redactor
        self.echo = echo
        self.level = level
        self.files = Mutex([:])
    }

    /// A logger for `component` writing to `<state_dir>/<component>.log`.
    public func logger(_ component: String) -> Logger {
        let file: RotatingFile? = files.withLock { files in
            if let f = files[component] { return f }
            let f = try? RotatingFile(path: paths.componentLog(component), maxBytes: maxBytes, backups: backups)
            files[component] = f
            return f
        }
        var logger = Logger(label: component) { [redactor, echo, level] label in
            RotatingLogHandler(label: label, file: file, redactor: redactor, echo: echo, level: level)
        }
        logger[metadataKey: "service"] = .string(component)
        return logger
    }
}

import Synchronization
