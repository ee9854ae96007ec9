import ArgumentParser
import Foundation
import NightshiftCore

#if canImport(Glibc)
    import Glibc
#endif

/// The file selection `logs stats` and `logs extract` share.
struct LogFileOptions: ParsableArguments {
    @Option(name: .long, help: "Files to read (a shell glob, quoted).") var glob: String
    @Option(name: .long, help: "Order of the files: name or mtime.") var sortBy: String = "name"
    @Option(name: .long, help: "Only the last N files in that order (0 = all).") var lastFiles = 0

    func files() throws -> (LogFileAnalysis.SortBy, [LogFileAnalysis.File]) {
        guard let sort = LogFileAnalysis.SortBy(rawValue: sortBy) else {
            throw CLIFailure(message: "--sort-by must be name or mtime, got \"\(sortBy)\"", code: 2)
        }
        guard lastFiles >= 0 else { throw CLIFailure(message: "--last-files must be 0 or more", code: 2) }
        var g = glob_t()
        defer { globfree(&g) }
        var paths: [String] = []
        if Glibc.glob(glob, 0, nil, &g) == 0 {
            for i in 0..<Int(g.gl_pathc) { if let p = g.gl_pathv[i] { paths.append(String(cString: p)) } }
        }
        let files = paths.compactMap { p -> LogFileAnalysis.File? in
            guard let attrs = try? FileManager.default.attributesOfItem(atPath: p),
                attrs[.type] as? FileAttributeType == .typeRegular
            else { return nil }
            return LogFileAnalysis.File(path: p, modified: attrs[.modificationDate] as? Date ?? Date(timeIntervalSince1970: 0))
        }
        return (sort, LogFileAnalysis.select(files, sortBy: sort, lastFiles: lastFiles))
    }

    static func lines(_ f: LogFileAnalysis.File) -> [String] {
        guard let data = FileManager.default.contents(atPath: f.path) else { return [] }
        return String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).map {
            String($0)
        }.filter { !$0.isEmpty }
    }
}

struct LogsStats: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats",
        abstract: "Summarize numbers captured by a regex's named groups across log files (byte-for-byte stable).",
        discussion: """
            Prints `files=N sort_by=... events=M`, a `FILES ...` line, and one \
            `SUMMARY <group> count= min= p50= p90= max= mean= median=` line per named group. \
            The default pattern is (?<ms>\\d+(?:\\.\\d+)?)ms.
            """)
    @OptionGroup var files: LogFileOptions
    @Option(name: .long, help: "A regex with named groups whose values are numbers.") var pattern = LogFileAnalysis.defaultPattern
    @Option(name: .long, help: "Only lines that contain this id.") var rid: String?

    func run() async throws {
        try await runReporting {
            let (sort, selected) = try files.files()
            let box: NSRegularExpressionBox
            switch NSRegularExpressionBox.compile(pattern) {
            case .success(let b): box = b
            case .failure(let e): throw CLIFailure(message: "--pattern \(e.description)", code: 2)
            }
            guard !box.groupNames.isEmpty else {
                throw CLIFailure(message: "--pattern needs at least one named group, e.g. (?<ms>\\d+)ms", code: 2)
            }
            for line in LogFileAnalysis.stats(files: selected, lines: LogFileOptions.lines, sortBy: sort, pattern: box, rid: rid)
            {
                print(line)
            }
        }
    }
}

struct LogsExtract: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "extract", abstract: "Write the lines that mention an id, from log files in order, to a private file.")
    @OptionGroup var files: LogFileOptions
    @Option(name: .long, help: "The id the lines must contain.") var rid: String
    @Option(name: .long, help: "The file to write (created 0600, replaced).") var out: String

    func run() async throws {
        try await runReporting {
            let (sort, selected) = try files.files()
            let lines = LogFileAnalysis.extract(files: selected, lines: LogFileOptions.lines, rid: rid)
            let text = lines.isEmpty ? "" : lines.joined(separator: "\n") + "\n"
            let fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
            guard fd >= 0 else { throw CLIFailure(message: "cannot write \(out): \(String(cString: strerror(errno)))") }
            fchmod(fd, 0o600)
            let ok = Array(text.utf8).withUnsafeBytes { raw -> Bool in
                var off = 0
                while off < raw.count {
                    let n = write(fd, raw.baseAddress! + off, raw.count - off)
                    if n < 0 { if errno == EINTR { continue } else { return false } }
                    off += n
                }
                return true
            }
            close(fd)
            guard ok else { throw CLIFailure(message: "cannot write \(out)") }
            print(
                "Wrote \(lines.count) lines to \(out) (files=\(selected.count) sort_by=\(sort.rawValue) last_files=\(files.lastFiles))"
            )
        }
    }
}
