import GRDBSQLite
import NightshiftStore

/// One connection through the SQLite C API, for the benchmarks' plain-SQL sides: open, run,
/// prepare, and close when released.
final class PlainSQLite {
    let db: OpaquePointer

    init(path: String, flags: Int32 = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) throws {
        var db: OpaquePointer?
        guard sqlite3_open_v2(path, &db, flags, nil) == SQLITE_OK, let db else {
            throw StoreError(.unavailable, "cannot open \(path)")
        }
        self.db = db
    }

    deinit { sqlite3_close(db) }

    var lastError: StoreError { StoreError(.unavailable, String(cString: sqlite3_errmsg(db))) }

    func exec(_ sql: String) throws {
        guard sqlite3_exec(db, sql, nil, nil, nil) == SQLITE_OK else { throw lastError }
    }

    /// A prepared statement; the caller finalizes it.
    func prepare(_ sql: String) throws -> OpaquePointer {
        var s: OpaquePointer?
        guard sqlite3_prepare_v2(db, sql, -1, &s, nil) == SQLITE_OK, let s else { throw lastError }
        return s
    }
}
