import Foundation
import Logging
import NightshiftCore
import NightshiftStore
import PostgresNIO

/// What `nightshift store copy` moved, table by table, and whether the counts agree.
public struct StoreCopyReport: Sendable {
    public struct Table: Sendable {
        public var name: String
        public var source: Int
        public var target: Int
        /// Source columns the target has no column for (left behind).
        public var skippedColumns: [String]
    }

    public var tables: [Table]
    /// Source tables the target has no table for (left behind).
    public var skippedTables: [String]
    /// The target's kept counts by (status, type) equal the source's tasks grouped.
    public var keptCountsMatch: Bool

    public var matches: Bool { keptCountsMatch && tables.allSatisfy { $0.source == $0.target } }
}

extension PostgresTaskStore {
    /// Tables the target fills by trigger when tasks are inserted and that are then replaced by
    /// the source's rows (the spend ledger keeps when each dollar was spent).
    static let refilledByCopy: Set<String> = ["spend"]

    /// Copies every table of `source` that this store also has into it, in one transaction:
    /// rows in their insertion order, foreign keys in dependency order (a parent task before
    /// its children), identity ids kept and their sequences moved past them, kept counts rebuilt
    /// by the triggers. The store must be empty. The counts are checked before the commit: a
    /// mismatch rolls everything back.
    public func copyIn(from source: any TableSource, batch: Int = 500) async throws -> StoreCopyReport {
        let sourceTables = try source.tables()
        return try await transaction { conn in
            let existing = try await int(conn, "SELECT (SELECT count(*) FROM tasks) + (SELECT count(*) FROM backlog_items)")
            if existing > 0 {
                throw StoreError(
                    .invalid, "the target store already holds \(existing) task(s) and backlog item(s): copy into an empty store")
            }
            try await conn.query("SET CONSTRAINTS ALL DEFERRED", logger: logger)
            let columns = try await targetColumns(conn)
            let order = try await dependencyOrder(conn, tables: sourceTables.filter { columns[$0] != nil })
            var report = StoreCopyReport(
                tables: [], skippedTables: sourceTables.filter { columns[$0] == nil }, keptCountsMatch: false)
            for table in order {
                let target = columns[table] ?? [:]
                let sourceColumns = try source.columns(of: table)
                let shared = sourceColumns.filter { target[$0] != nil }
                if Self.refilledByCopy.contains(table) {
                    try await conn.query(PostgresQuery(unsafeSQL: "DELETE FROM \(table)"), logger: logger)
                }
                let identity = shared.contains { target[$0]?.identity == true }
                let rowsPerStatement = max(1, min(batch, 60_000 / max(1, shared.count)))
                try await source.rows(of: table, columns: shared, batch: rowsPerStatement) { rows in
                    var sql = PostgresSQL(
                        "INSERT INTO \(table) (\(shared.joined(separator: ", ")))\(identity ? " OVERRIDING SYSTEM VALUE" : "") VALUES "
                    )
                    for (r, row) in rows.enumerated() {
                        sql.append(r == 0 ? "(" : ", (")
                        for (i, value) in row.enumerated() {
                            let type = target[shared[i]]?.type ?? "text"
                            sql.append((i == 0 ? "" : ", ") + "CAST(\(sql.bind(value)) AS \(type))")
                        }
                        sql.append(")")
                    }
                    try await conn.query(sql.query, logger: logger)
                }
                for column in shared where target[column]?.identity == true {
                    try await conn.query(
                        PostgresQuery(
                            unsafeSQL:
                                "SELECT setval(pg_get_serial_sequence('\(table)', '\(column)'), GREATEST((SELECT max(\(column)) FROM \(table)), 1))"
                        ), logger: logger)
                }
                report.tables.append(
                    StoreCopyReport.Table(
                        name: table, source: try source.count(of: table),
                        target: try await int(conn, PostgresQuery(unsafeSQL: "SELECT count(*) FROM \(table)")),
                        skippedColumns: sourceColumns.filter { target[$0] == nil }))
            }
            var kept: Set<TaskGroupCount> = []
            let rows = try await conn.query("SELECT status, task_type, n FROM task_counts WHERE n > 0", logger: logger)
            for try await (status, type, n) in rows.decode((String, String, Int).self) {
                kept.insert(TaskGroupCount(status: status, taskType: type, n: n))
            }
            report.keptCountsMatch = kept == Set(try source.taskGroups())
            guard report.matches else {
                let off = report.tables.filter { $0.source != $0.target }.map { "\($0.name) \($0.source) → \($0.target)" }
                throw StoreError(
                    .invalid,
                    "the copy does not add up (\((off + (report.keptCountsMatch ? [] : ["kept task counts differ"])).joined(separator: "; "))): nothing was written"
                )
            }
            return report
        }
    }

    /// Column name → (type to cast to, identity) for every table of the store's schema.
    private func targetColumns(_ conn: PostgresConnection) async throws -> [String: [String: (type: String, identity: Bool)]] {
        var out: [String: [String: (type: String, identity: Bool)]] = [:]
        let rows = try await conn.query(
            """
            SELECT table_name::text, column_name::text, data_type::text, udt_name::text, is_identity::text
            FROM information_schema.columns WHERE table_schema = current_schema()
            """, logger: logger)
        for try await (table, column, type, udt, identity) in rows.decode((String, String, String, String, String).self) {
            let cast = type == "USER-DEFINED" || type == "ARRAY" ? udt : type
            out[table, default: [:]][column] = (cast, identity == "YES")
        }
        return out
    }

    /// `tables` with every table after the tables its foreign keys reference, and the tables a
    /// copy refills last.
    private func dependencyOrder(_ conn: PostgresConnection, tables: [String]) async throws -> [String] {
        var refs: [String: Set<String>] = [:]
        let rows = try await conn.query(
            """
            SELECT conrelid::regclass::text, confrelid::regclass::text FROM pg_constraint
            WHERE contype = 'f' AND connamespace = current_schema()::regnamespace
            """, logger: logger)
        for try await (from, to) in rows.decode((String, String).self) where from != to {
            refs[Self.bare(from), default: []].insert(Self.bare(to))
        }
        var ordered: [String] = []
        var left = tables.sorted().filter { !Self.refilledByCopy.contains($0) }
        while !left.isEmpty {
            let ready = left.filter { t in (refs[t] ?? []).allSatisfy { !left.contains($0) || $0 == t } }
            let next = ready.isEmpty ? left : ready  // a cycle: keep the rest in name order (constraints are deferred)
            ordered += next
            left.removeAll { next.contains($0) }
        }
        return ordered + tables.filter { Self.refilledByCopy.contains($0) }.sorted()
    }

    /// A regclass name without its schema or quotes.
    static func bare(_ name: String) -> String {
        String(name.split(separator: ".").last ?? Substring(name)).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
    }
}
