import Foundation
import Logging
import NightshiftCore
import Synchronization

/// A swift-log handler that writes one redacted line per message to a rotating component log
/// (`agent_runner.log`, `monitor.log`, ...), and optionally echoes it to stderr.
public struct RotatingLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    let label: String
    let file: RotatingFile?
    /// The run's copies: its `<component>.log` and its `run.log`.
    let runFiles: [RotatingFile]
    let redactor: Redactor
    let echo: Bool
    let repeats: RepeatFilter?

    public init(
        label: String, file: RotatingFile?, runFiles: [RotatingFile] = [], redactor: Redactor, echo: Bool,
        level: Logger.Level = .info, repeats: RepeatFilter? = nil
    ) {
        self.label = label
        self.file = file
        self.runFiles = runFiles
        self.redactor = redactor
        self.echo = echo
        self.logLevel = level
        self.repeats = repeats
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        // A failure that repeats every pass (a full disk, a broken backlog) is one line a minute.
        var message = "\(event.message)"
        if event.level >= .warning, let repeats {
            guard let text = repeats.admit(message, now: Date()) else { return }
            message = text
        }
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        let meta =
            merged.isEmpty ? "" : " " + merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        let line =
            redactor.redact("\(Timestamp.format(Date())) \(event.level.rawValue.uppercased()) [\(label)] \(message)\(meta)")
            + "\n"
        file?.append(line)
        for f in runFiles { f.append(line) }
        if echo { StandardStreams.writeError(line) }
    }
}

/// Builds the loggers of one daemon: one rotating file per component under the state dir and,
/// for a run, a copy of each under `runs/<run_id>/logs/` plus the run's merged `run.log`; every
/// line of a run carries `run_id`.
public final class ComponentLogs: Sendable {
    let paths: StatePaths
    let run: RunPaths?
    let maxBytes: Int
    let backups: Int
    let redactor: Redactor
    let echo: Bool
    /// Components echoed to stderr even when `echo` is off (the watchdog shows the project
    /// manager's progress in the foreground this way).
    let echoComponents: Set<String>
    let level: Logger.Level
    private let files: Mutex<[String: RotatingFile]>
    private let repeats: Mutex<[String: RepeatFilter]>

    public init(
        paths: StatePaths, maxBytes: Int, backups: Int, redactor: Redactor, echo: Bool, echoComponents: Set<String> = [],
        level: Logger.Level = .info, run: RunPaths? = nil
    ) {
        self.paths = paths
        self.run = run
        self.maxBytes = maxBytes
        self.backups = backups
        self.redactor = redactor
        self.echo = echo
        self.echoComponents = echoComponents
        self.level = level
        self.files = Mutex([:])
        self.repeats = Mutex([:])
    }

    /// The stderr echo from `NIGHTSHIFT_LOG_STDERR`: unset or `1` = every component, `0` = none,
    /// else a comma-separated list of components echoed in full.
    public static func echoSetting(_ value: String?) -> (all: Bool, components: Set<String>) {
        guard let value, value != "1" else { return (true, []) }
        if value == "0" || value.isEmpty { return (false, []) }
        return (false, Set(value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }))
    }

    /// A logger for `component` writing to `<state_dir>/<component>.log`.
    public func logger(_ component: String) -> Logger {
        func open(_ key: String, _ path: String) -> RotatingFile? {
            files.withLock { files in
                if let f = files[key] { return f }
                let f = try? RotatingFile(path: path, maxBytes: maxBytes, backups: backups)
                files[key] = f
                return f
            }
        }
        let file = open(component, paths.componentLog(component))
        var runFiles: [RotatingFile] = []
        if let run {
            try? AtomicFile.ensureDirectory(run.logsDir)
            runFiles = [open("run:" + component, run.componentLog(component)), open("run:", run.runLog)].compactMap { $0 }
        }
        let filter = repeats.withLock { r in
            if let f = r[component] { return f }
            let f = RepeatFilter()
            r[component] = f
            return f
        }
        let echoThis = echo || echoComponents.contains(component)
        var logger = Logger(label: component) { [redactor, level] label in
            RotatingLogHandler(
                label: label, file: file, runFiles: runFiles, redactor: redactor, echo: echoThis, level: level, repeats: filter)
        }
        logger[metadataKey: "service"] = .string(component)
        if let run { logger[metadataKey: "run_id"] = .string(run.id) }
        return logger
    }
}

/// Lets a repeated warning or error through once per `window`, then with how often it repeated.
public final class RepeatFilter: Sendable {
    let window: TimeInterval
    private let seen = Mutex<[String: (first: Date, suppressed: Int)]>([:])

    public init(window: TimeInterval = 60) { self.window = window }

    /// The text to log, or nil to drop this repetition.
    public func admit(_ message: String, now: Date) -> String? {
        seen.withLock { seen in
            if let s = seen[message], now.timeIntervalSince(s.first) < window {
                seen[message]?.suppressed += 1
                return nil
            }
            let suppressed = seen[message]?.suppressed ?? 0
            if seen.count > 256 { seen.removeAll() }
            seen[message] = (now, 0)
            return suppressed > 0 ? "\(message) (repeated \(suppressed) more time(s) in the last \(Int(window))s)" : message
        }
    }
}
