import Foundation
import NightshiftCore

/// What a run hands on besides its reports: the task exports (`reports/export/<run_id>.csv|json`
/// and `latest.*`) and the handoff index (`reports/handoff/INDEX.md`). Neither changes the run's
/// result: a failure comes back as a warning.
public struct RunArtifacts: Sendable {
    public enum Format: String, CaseIterable, Sendable {
        case csv, json
    }

    public let paths: StatePaths

    public init(paths: StatePaths) { self.paths = paths }

    public var exportDir: String { (paths.reportsDir as NSString).appendingPathComponent("export") }
    public var handoffIndex: String { (paths.reportsDir as NSString).appendingPathComponent("handoff/INDEX.md") }

    /// `csv,json` → the formats; throws naming an unknown one.
    public static func parseFormats(_ text: String) throws -> [Format] {
        var out: [Format] = []
        for part in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !part.isEmpty {
            guard let f = Format(rawValue: part) else {
                throw StateFileError(path: "--export", reason: "unknown format \"\(part)\" (csv, json)")
            }
            if !out.contains(f) { out.append(f) }
        }
        guard !out.isEmpty else { throw StateFileError(path: "--export", reason: "names no format (csv, json)") }
        return out
    }

    /// Writes the run's exports, each atomically, and the `latest` copies; returns the paths.
    @discardableResult
    public func export(_ summary: RunSummary, formats: [Format]) throws -> [String] {
        try AtomicFile.ensureDirectory(exportDir)
        let export = TaskExport(summary: summary)
        var written: [String] = []
        for format in formats {
            let data: Data
            switch format {
            case .csv: data = Data(export.csv().utf8)
            case .json: data = try JSONEncoder.nightshift(pretty: true).encode(export)
            }
            for name in [summary.run.id, "latest"] {
                let path = (exportDir as NSString).appendingPathComponent("\(name).\(format.rawValue)")
                try AtomicFile.write(data, to: path)
                written.append(path)
            }
        }
        return written
    }

    /// `reports/handoff/INDEX.md`: every artifact of the run, one link a line, relative to it.
    @discardableResult
    public func handoff(_ summary: RunSummary, run: RunPaths, exports: [String]) throws -> String {
        let dir = (handoffIndex as NSString).deletingLastPathComponent
        try AtomicFile.ensureDirectory(dir)
        func link(_ label: String, _ path: String) -> String {
            "- [\(label)](\(Self.relative(path, from: dir)))"
        }
        var lines = [
            "# Handoff: \(summary.run.id)", "",
            "Mode \(summary.run.mode.rawValue), profile \(summary.run.profile), state \(summary.run.state.rawValue); "
                + "\(summary.totals.tasksRun) task(s) run, \(summary.totals.passed) passed, "
                + String(format: "%.4f USD", summary.totals.costUSD) + ".", "",
            "## Reports", "",
            link("session report", (paths.reportsDir as NSString).appendingPathComponent("session_report.md")),
            link("summary", run.summaryText), link("summary (JSON)", run.summaryJSON), link("run", run.info),
        ]
        if let a = summary.archive {
            lines.append(link("archive", run.archive) + " — \(a.bytes) bytes, sha256 `\(a.sha256)`")
        }
        if !exports.isEmpty {
            lines += ["", "## Exports", ""] + exports.map { link(($0 as NSString).lastPathComponent, $0) }
        }
        lines += ["", "## Logs", "", link("run.log (every component)", run.runLog)]
        let fm = FileManager.default
        let groups = ((try? fm.contentsOfDirectory(atPath: run.logsDir)) ?? []).sorted()
        for name in groups {
            let path = (run.logsDir as NSString).appendingPathComponent(name)
            var isDir: ObjCBool = false
            guard fm.fileExists(atPath: path, isDirectory: &isDir) else { continue }
            if isDir.boolValue {
                lines.append("- \(name == "adhoc" ? "ad-hoc tasks" : "item \(name)"):")
                for file in ((try? fm.contentsOfDirectory(atPath: path)) ?? []).sorted() {
                    lines.append("  " + link(file, (path as NSString).appendingPathComponent(file)))
                }
            } else if name != "run.log" {
                lines.append(link(name, path))
            }
        }
        try AtomicFile.write(Data((lines.joined(separator: "\n") + "\n").utf8), to: handoffIndex)
        return handoffIndex
    }

    /// `path` relative to the directory `from` (both under the state dir).
    static func relative(_ path: String, from dir: String) -> String {
        let a = (path as NSString).standardizingPath.split(separator: "/")
        let b = (dir as NSString).standardizingPath.split(separator: "/")
        var i = 0
        while i < a.count, i < b.count, a[i] == b[i] { i += 1 }
        return (Array(repeating: "..", count: b.count - i) + a[i...].map(String.init)).joined(separator: "/")
    }
}
