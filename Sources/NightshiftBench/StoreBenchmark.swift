import Foundation
import GRDBSQLite
import NightshiftCore
import NightshiftStore

/// `nightshift bench store`: pushes no-op tasks through create → claim → complete on an
/// on-disk database with the store, and the same cycle with plain SQL statements through the
/// SQLite C API on the same settings (WAL, synchronous=NORMAL), and reports both.
public enum StoreBenchmark {
    public struct Figures: Sendable, CustomStringConvertible {
        public var label: String
        public var tasks: Int
        public var seconds: Double
        /// Per-task cycle latency (a batch's time divided by its size when batched).
        public var p50Micros: Double
        public var p99Micros: Double
        public var perSecond: Double { Double(tasks) / seconds }
        public var description: String {
            label.padding(toLength: 36, withPad: " ", startingAt: 0)
                + String(
                    format: "%8.0f tasks/s   p50 %7.1f µs   p99 %7.1f µs   (%d tasks in %.2f s)", perSecond, p50Micros, p99Micros,
                    tasks, seconds)
        }
    }

    static func percentile(_ sorted: [Double], _ p: Double) -> Double {
        guard !sorted.isEmpty else { return 0 }
        return sorted[min(sorted.count - 1, max(0, Int((p / 100 * Double(sorted.count)).rounded(.up)) - 1))]
    }

    /// The store, creating, claiming and completing `batch` tasks per transaction.
    public static func runStore(directory: String, tasks: Int, batch: Int) async throws -> Figures {
        let path = (directory as NSString).appendingPathComponent("bench-store-\(batch)-\(UUID().uuidString).sqlite")
        defer { removeDatabase(path) }
        let store = try SQLiteTaskStore(path: path)
        var samples: [Double] = []
        let clock = ContinuousClock()
        let start = clock.now
        var done = 0
        while done < tasks {
            let n = min(batch, tasks - done)
            let t0 = clock.now
            let now = Date()
            let new = (0..<n).map { _ in AgentTask(taskType: .impl, direction: "no-op", now: now) }
            _ = try await store.create(new)
            let claimed = try await store.claimNext(owner: "bench", limit: n, now: now, lease: 60)
            let results = try await store.finish(
                claimed.map { FinishRequest(id: $0.id, owner: "bench", outcome: AttemptOutcome(.completed, exitCode: 0)) },
                now: now)
            guard claimed.count == n, results.value.allSatisfy({ (try? $0.get()) != nil }) else {
                throw StoreError(.unavailable, "benchmark cycle lost tasks")
            }
            let d = clock.now - t0
            let per = Double(d.components.seconds) * 1e6 + Double(d.components.attoseconds) / 1e12
            for _ in 0..<n { samples.append(per / Double(n)) }
            done += n
        }
        let elapsed = clock.now - start
        samples.sort()
        return Figures(
            label: batch == 1 ? "store (1 task per transaction)" : "store (batches of \(batch))", tasks: tasks,
            seconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18,
            p50Micros: percentile(samples, 50), p99Micros: percentile(samples, 99))
    }

    /// Plain SQL through the C API: prepared statements, one transaction per step of `batch` tasks.
    public static func runPlainSQL(directory: String, tasks: Int, batch: Int = 1) throws -> Figures {
        let path = (directory as NSString).appendingPathComponent("bench-plain-\(UUID().uuidString).sqlite")
        defer { removeDatabase(path) }
        // The same schema as the store (its migration), on the same settings.
        _ = try SQLiteTaskStore(path: path)
        var db: OpaquePointer?
        guard sqlite3_open(path, &db) == SQLITE_OK, let db else { throw StoreError(.unavailable, "cannot open \(path)") }
        defer { sqlite3_close(db) }
        func exec(_ sql: String) throws {
            guard sqlite3_exec(db, sql, nil, nil, nil) == SQLITE_OK else {
                throw StoreError(.unavailable, String(cString: sqlite3_errmsg(db)))
            }
        }
        try exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=10000; PRAGMA foreign_keys=ON")
        func prepare(_ sql: String) throws -> OpaquePointer {
            var s: OpaquePointer?
            guard sqlite3_prepare_v2(db, sql, -1, &s, nil) == SQLITE_OK, let s else {
                throw StoreError(.unavailable, String(cString: sqlite3_errmsg(db)))
            }
            return s
        }
        let insert = try prepare(
            "INSERT INTO tasks (id, task_type, direction, status, priority, attempt, max_attempts, created_at, updated_at) VALUES (?, 'impl', 'no-op', 'pending', 0, 0, 3, ?, ?)"
        )
        let claim = try prepare(
            """
            UPDATE tasks SET status = 'running', claimed_by = 'bench', attempt = attempt + 1, lease_expires_at = ?1 + 60,
              heartbeat_at = ?1, started_at = ?1, updated_at = ?1
            WHERE id = (SELECT id FROM tasks WHERE status = 'pending' AND (not_before IS NULL OR not_before <= ?1)
                        ORDER BY priority DESC, created_at, id LIMIT 1) RETURNING id
            """)
        let complete = try prepare(
            "UPDATE tasks SET status = 'completed', exit_code = 0, lease_expires_at = NULL, finished_at = ?1, updated_at = ?1 WHERE id = ?2 AND status = 'running' AND claimed_by = 'bench'"
        )
        defer {
            sqlite3_finalize(insert)
            sqlite3_finalize(claim)
            sqlite3_finalize(complete)
        }
        let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
        var samples: [Double] = []
        samples.reserveCapacity(tasks)
        let clock = ContinuousClock()
        let start = clock.now
        // Each step is one transaction over `batch` tasks (batch 1 = one task per transaction).
        var done = 0
        while done < tasks {
            let n = min(batch, tasks - done)
            let t0 = clock.now
            let now = Date().timeIntervalSince1970
            try exec("BEGIN IMMEDIATE")
            for _ in 0..<n {
                sqlite3_bind_text(insert, 1, TaskID.generate(), -1, transient)
                sqlite3_bind_double(insert, 2, now)
                sqlite3_bind_double(insert, 3, now)
                guard sqlite3_step(insert) == SQLITE_DONE else {
                    throw StoreError(.unavailable, String(cString: sqlite3_errmsg(db)))
                }
                sqlite3_reset(insert)
            }
            try exec("COMMIT")
            var claimed: [String] = []
            try exec("BEGIN IMMEDIATE")
            for _ in 0..<n {
                sqlite3_bind_double(claim, 1, now)
                guard sqlite3_step(claim) == SQLITE_ROW else { throw StoreError(.unavailable, "claim found nothing") }
                claimed.append(String(cString: sqlite3_column_text(claim, 0)))
                while sqlite3_step(claim) == SQLITE_ROW {}
                sqlite3_reset(claim)
            }
            try exec("COMMIT")
            try exec("BEGIN IMMEDIATE")
            for id in claimed {
                sqlite3_bind_double(complete, 1, now)
                sqlite3_bind_text(complete, 2, id, -1, transient)
                guard sqlite3_step(complete) == SQLITE_DONE else {
                    throw StoreError(.unavailable, String(cString: sqlite3_errmsg(db)))
                }
                sqlite3_reset(complete)
            }
            try exec("COMMIT")
            let d = clock.now - t0
            let per = (Double(d.components.seconds) * 1e6 + Double(d.components.attoseconds) / 1e12) / Double(n)
            for _ in 0..<n { samples.append(per) }
            done += n
        }
        let elapsed = clock.now - start
        samples.sort()
        return Figures(
            label: batch == 1 ? "plain SQL (1 task per transaction)" : "plain SQL (batches of \(batch))", tasks: tasks,
            seconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18,
            p50Micros: percentile(samples, 50), p99Micros: percentile(samples, 99))
    }

    static func removeDatabase(_ path: String) {
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
    }
}
