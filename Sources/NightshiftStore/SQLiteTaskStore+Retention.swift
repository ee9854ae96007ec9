import Foundation
import GRDB
import NightshiftCore

extension SQLiteMigrations {
    /// Indexes that keep the read path flat as the store grows: ended tasks by status and the
    /// time they ended (pruning finds the old ones, the monitor counts the recent ones, without
    /// a scan), and pending tasks by the time they became runnable (the monitor's oldest).
    /// Queries that use them repeat each index's condition word for word: SQLite does not infer
    /// `status IN (...)` from `status = ?`.
    static func registerReadPath(_ m: inout DatabaseMigrator) {
        m.registerMigration("2026-12-01-read-path-indexes") { db in
            try db.execute(
                sql: """
                    CREATE INDEX tasks_ended ON tasks (status, COALESCE(finished_at, updated_at))
                      WHERE status IN ('completed','failed','cancelled');
                    CREATE INDEX tasks_pending_since ON tasks (\(runnableSince))
                      WHERE status = 'pending';
                    """)
        }
    }

    /// When a pending task became runnable: the latest of its creation, its backoff, its last
    /// end and the decision that sent it back.
    static let runnableSince =
        "MAX(created_at, COALESCE(not_before, 0), COALESCE(finished_at, 0), COALESCE(decided_at, 0))"
}

extension SQLiteTaskStore {
    public func pruneEnded(status: TaskStatus, endedBefore cutoff: Date, limit: Int) async throws -> [PrunedTask] {
        guard status.isTerminal else { throw StoreError(.invalid, "only ended tasks are pruned, not \(status.rawValue)") }
        guard limit > 0 else { return [] }
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
        // Through the write gate like every write, so the writer queue is free when asked.
        await gate.enter()
        defer { gate.leave() }
        do {
            // TRUNCATE waits (busy timeout) for readers to finish, copies every frame back and
            // empties the file.
            try Self.checkpointNow(pool)
        } catch let error as DatabaseError {
            throw Self.map(error)
        }
        return WALCheckpoint(bytesBefore: before, bytesAfter: size())
    }

    /// The synchronous checkpoint (outside async code, so GRDB's blocking API is the one called).
    private static func checkpointNow(_ pool: DatabasePool) throws {
        _ = try pool.writeWithoutTransaction { db in try db.checkpoint(.truncate) }
    }
}
