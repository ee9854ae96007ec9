import ArgumentParser
import Foundation
import NightshiftCore
import NightshiftRuntime
import NightshiftStore
import NightshiftStorePostgres

/// `nightshift store`: the store itself (moving it from SQLite to PostgreSQL).
struct StoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store", abstract: "Work on the task store itself.", subcommands: [StoreCopyCommand.self])
}

/// `nightshift store copy --from sqlite:PATH --to postgres://...`: a stopped SQLite store into
/// an empty PostgreSQL one, in one transaction, verified by counts.
struct StoreCopyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "copy",
        abstract: "Copy a stopped SQLite store into an empty PostgreSQL store, verified by counts.",
        discussion: """
            Copies every table both stores have (tasks, their events, backlog items, monitor issues, \
            logs, spend, executor pauses) in one transaction: ids, times and history stay as they \
            were, kept counts are rebuilt, and the row counts of every table and the task counts by \
            status and type must agree before it commits; otherwise nothing is written. The daemon \
            that owns the SQLite store must be stopped; the PostgreSQL store must hold no task.
            """)

    @Option(name: .long, help: "The SQLite store: sqlite:PATH, a database file, or a state dir.")
    var from: String
    @Option(name: .long, help: "The PostgreSQL store: postgres://user@host:port/db[?schema=NAME].")
    var to: String

    func run() async throws {
        try await runReporting {
            let path = try Self.sqlitePath(from)
            let lock = ((path as NSString).deletingLastPathComponent as NSString).appendingPathComponent("nightshift.lock")
            if FileManager.default.fileExists(atPath: lock), let holder = StateDirLock.holder(of: lock) {
                throw CLIFailure(message: "--from: a daemon (\(holder)) is using \(path); stop it first", code: 2)
            }
            let location: PostgresLocation
            switch try? StoreURL.parse(to) {
            case .postgres(let l)?: location = l
            default: throw CLIFailure(message: "--to: \(to) is not a postgres:// store URL", code: 2)
            }
            let source: SQLiteTableSource
            let target: PostgresTaskStore
            do {
                source = try SQLiteTableSource(path: path)
                target = try await PostgresTaskStore.connect(location, maxConnections: 1)
            } catch let e as StoreError {
                throw CLIFailure(message: e.message, code: 2)
            }
            let report: StoreCopyReport
            do {
                report = try await target.copyIn(from: source)
            } catch let e as StoreError {
                await target.close()
                throw CLIFailure(message: e.message, code: e.code == .invalid ? 2 : 1)
            }
            await target.close()
            var table = TextTable(["TABLE", "SQLITE", "POSTGRESQL", "LEFT BEHIND"], flexible: ["LEFT BEHIND"])
            for t in report.tables {
                table.append([t.name, "\(t.source)", "\(t.target)", t.skippedColumns.joined(separator: " ")])
            }
            for line in table.lines(width: Terminal.width) { print(line) }
            if !report.skippedTables.isEmpty {
                print("tables the target has no place for: \(report.skippedTables.joined(separator: ", "))")
            }
            print(
                "copied \(report.tables.count) tables from \(path) to \(location); every count agrees (task counts by status and type too)"
            )
        }
    }

    /// `sqlite:PATH`, a file, or a state dir (its nightshift.sqlite).
    static func sqlitePath(_ text: String) throws -> String {
        var path = text
        if text.hasPrefix("sqlite:") {
            switch try? StoreURL.parse(text) {
            case .sqlite(let p?)?: path = p
            default: throw CLIFailure(message: "--from: \(text) is not a sqlite:PATH store URL", code: 2)
            }
        }
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw CLIFailure(message: "--from: no SQLite store at \(path)", code: 2)
        }
        return isDir.boolValue ? (path as NSString).appendingPathComponent(SQLiteTaskStore.fileName) : path
    }
}
