import ArgumentParser
import Foundation
import NightshiftCore
import NightshiftRuntime

/// Where the run files are: `--state-dir`, else `NIGHTSHIFT_STATE_DIR`, else the config's.
struct StateDirOptions: ParsableArguments {
    @Option(
        name: .long,
        help: "Config file (default: $NIGHTSHIFT_CONFIG, else config/nightshift.yaml when present, else built-in defaults).")
    var config: String?

    @Option(name: .long, help: "State dir whose runs to read (default: $NIGHTSHIFT_STATE_DIR, else the config's state_dir).")
    var stateDir: String?

    func paths() throws -> StatePaths {
        if let dir = stateDir ?? ClientOptions.environmentStateDir { return StatePaths(root: dir) }
        do { return StatePaths(root: try ConfigLoader.load(path: config).stateDir) } catch {
            throw CLIFailure(message: "\(error)", code: 2)
        }
    }

    func catalog() throws -> RunCatalog { RunCatalog(paths: try paths()) }
}

/// A catalog failure as the CLI reports it: a malformed id is bad usage (2), the rest 1.
func runFailure(_ error: any Error) -> CLIFailure {
    if case .malformed(let problem)? = error as? RunCatalog.Failure { return CLIFailure(message: problem, code: 2) }
    return CLIFailure(message: "\(error)", code: 1)
}

/// `nightshift runs`: the runs of a state dir, from their files (no daemon needed).
struct RunsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "runs",
        abstract: "List, show, archive and export runs (read from <state_dir>/runs/; no daemon needed).",
        subcommands: [List.self, Show.self, Archive.self, Export.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Every run, newest first.")
        @OptionGroup var where_: StateDirOptions
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            try await runReporting {
                let runs = try where_.catalog().list()
                if json {
                    print(String(decoding: try JSONEncoder.nightshift(pretty: true).encode(["runs": runs]), as: UTF8.self))
                    return
                }
                guard !runs.isEmpty else {
                    print("no runs yet")
                    return
                }
                let rows = runs.map { r -> [String] in
                    let duration =
                        r.endedAt.map { RunSummary.formatMS(Int($0.timeIntervalSince(r.startedAt) * 1000)) } ?? "running"
                    return [
                        r.id, r.mode.rawValue, r.state.rawValue, r.result?.rawValue ?? "-", Timestamp.format(r.startedAt),
                        duration, r.tasksRun.map(String.init) ?? "-", r.passed.map(String.init) ?? "-",
                        r.costUSD.map { String(format: "%.4f", $0) } ?? "-",
                    ]
                }
                print(
                    Table.render(
                        ["RUN", "MODE", "STATE", "RESULT", "STARTED", "DURATION", "TASKS", "PASSED", "COST_USD"], rows))
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "A run's summary (summary.txt), or its run.json and summary as JSON.")
        @OptionGroup var where_: StateDirOptions
        @Argument(help: "A run id, or latest.") var id: String
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            try await runReporting {
                let catalog = try where_.catalog()
                let detail: RunCatalog.Detail
                do { detail = try catalog.detail(id) } catch { throw runFailure(error) }
                if json {
                    print(String(decoding: try JSONEncoder.nightshift(pretty: true).encode(detail), as: UTF8.self))
                } else if let text = try? String(contentsOfFile: catalog.paths.run(detail.run.id).summaryText, encoding: .utf8) {
                    print(text, terminator: "")
                } else {
                    print(
                        "run \(detail.run.id): \(detail.run.state.rawValue) since \(Timestamp.format(detail.run.startedAt)); no summary yet"
                    )
                }
            }
        }
    }

    struct Archive: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write runs/<run_id>/run.tar.gz again (logs, run.json, summaries) and print its size and sha256.")
        @OptionGroup var where_: StateDirOptions
        @Argument(help: "A run id, or latest.") var id: String

        func run() async throws {
            try await runReporting {
                let catalog = try where_.catalog()
                let resolved: String
                do { resolved = try catalog.resolve(id) } catch { throw runFailure(error) }
                let files = try RunFiles(paths: catalog.paths.run(resolved))
                let a = try files.archive(stateRoot: catalog.paths.root)
                // The summaries name the archive's hash: keep them true.
                if var summary = catalog.summary(resolved) {
                    summary.archive = a
                    try RunReporter.writeSummary(summary, files: files, paths: catalog.paths)
                }
                print("\(catalog.paths.file(a.path))  \(a.bytes) bytes  sha256 \(a.sha256)")
            }
        }
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write the run's tasks to reports/export/<run_id>.csv|json (and latest.*), from its summary.")
        @OptionGroup var where_: StateDirOptions
        @Argument(help: "A run id, or latest.") var id: String
        @Option(help: "csv, json or csv,json.") var format = "csv,json"

        func run() async throws {
            try await runReporting {
                let formats: [RunArtifacts.Format]
                do { formats = try RunArtifacts.parseFormats(format) } catch { throw CLIFailure(message: "\(error)", code: 2) }
                let catalog = try where_.catalog()
                let resolved: String
                do { resolved = try catalog.resolve(id) } catch { throw runFailure(error) }
                guard let summary = catalog.summary(resolved) else {
                    throw CLIFailure(message: "run \(resolved) has no summary.json yet")
                }
                for path in try RunArtifacts(paths: catalog.paths).export(summary, formats: formats) { print(path) }
            }
        }
    }
}

/// `nightshift report`: the session report, without starting anything.
struct ReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Print the session report (reports/session_report.md, or a run's copy in reports/history/).",
        discussion: """
            --format summary prints the KEY: value lines (grep them: nightshift report | grep '^RESULT:'), \
            full the whole report, json the keys as one JSON object. Exit 1 when there is no report yet.
            """)

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case summary, full, json
    }

    @OptionGroup var where_: StateDirOptions
    @Option(help: "The run whose report to print (a run id or latest; default: the newest report).") var runID: String?
    @Option(help: "summary, full or json.") var format: Format = .summary

    func run() async throws {
        try await runReporting {
            let text: String
            do { text = try where_.catalog().sessionReport(runID: runID) } catch { throw runFailure(error) }
            switch format {
            case .full: print(text, terminator: "")
            case .summary:
                for line in text.split(separator: "\n") where SessionReport.parseKeys(String(line)).count == 1 { print(line) }
            case .json:
                let keys = SessionReport.parseKeys(text).mapValues { JSONValue.string($0) }
                print(String(decoding: try JSONEncoder.nightshift(pretty: true).encode(keys), as: UTF8.self))
            }
        }
    }
}
