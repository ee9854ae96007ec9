import Foundation
import GRDB
import NightshiftCore

extension SQLiteMigrations {
    /// Ended tasks by the time they ended, so pruning finds the old ones without a scan.
    static func registerRetention(_ m: inout DatabaseMigrator) {
        m.registerMigration("2026-12-01-retention") { db in
            try db.execute(
                sql: """
                    CREATE INDEX tasks_ended ON tasks (status, COALESCE(finished_at, updated_at))
                      WHERE status IN ('completed','failed','cancelled');
                    """)
        }
    }
}

extension SQLiteTaskStore {
    public func pruneEnded(status: TaskStatus, endedBefore cutoff: Date, limit: Int) async throws -> [PrunedTask] {
        guard status.isTerminal else { throw StoreError(.invalid, "only ended tasks are pruned, not \(status.rawValue)") }
        guard limit > 0 else { return [] }
        // The index's own condition is repeated, word for word, so that SQLite sees the partial
        // index `tasks_ended` applies (it does not infer `status IN (...)` from `status = ...`).
        let sql = """
            DELETE FROM tasks WHERE id IN (
              SELECT id FROM tasks INDEXED BY tasks_ended
              WHERE status IN ('completed','failed','cancelled') AND status = ? AND COALESCE(finished_at, updated_at) < ?
                AND id NOT IN (
                  SELECT j.value FROM tasks d, json_each(d.depends_on) j
                  WHERE d.status IN ('pending','running','needs_decision') AND d.depends_on <> '[]')
              ORDER BY COALESCE(finished_at, updated_at) LIMIT ?)
            RETURNING id, log_path
            """
        return try await write { db in
            // Events go with their task (ON DELETE CASCADE); references to it become NULL.
            try Row.fetchAll(db.cachedStatement(sql: sql), arguments: [status.rawValue, cutoff.timeIntervalSince1970, limit]).map
            {
                PrunedTask(id: $0[0], logPath: $0[1])
            }
        }
    }

    public func checkpointWAL() async throws -> WALCheckpoint {
        let wal = path + "-wal"
        func size() -> Int64 { ((try? FileManager.default.attributesOfItem(atPath: wal))?[.size] as? Int64) ?? 0 }
        let before = size()
        do {
            // TRUNCATE waits (busy timeout) for readers to finish, copies every frame back and
            // empties the file.
            _ = try await pool.writeWithoutTransaction { db in try db.checkpoint(.truncate) }
        } catch let error as DatabaseError {
            throw Self.map(error)
        }
        return WALCheckpoint(bytesBefore: before, bytesAfter: size())
    }
}
