import Foundation
import GRDBSQLite
import NightshiftCore
import NightshiftStore

/// `nightshift bench store`: pushes no-op tasks through create → claim → complete on an
/// on-disk database with the store, and the same cycle with plain SQL statements through the
/// SQLite C API on the same settings (WAL, synchronous=NORMAL), and reports both.
public enum StoreBenchmark {
    /// What each side does per task, printed above the figures.
    public static let sides = """
        per task, both sides: insert the task + its created event; claim it (one UPDATE ... RETURNING per step)
          + a claimed event; complete it + a finished event; one transaction per step (create, claim, complete)
        store:     SQLiteTaskStore (validation, RETURNING * decoded to tasks, the events returned as ledger entries)
        plain SQL: prepared statements through the SQLite C API, returning only the claimed ids
        """
    public struct Figures: Sendable, CustomStringConvertible {
        public var label: String
        public var tasks: Int
        public var seconds: Double
        /// Per-task cycle latency (a batch's time divided by its size when batched).
        public var p50Micros: Double
        public var p99Micros: Double
        /// Process CPU time (user + system, all threads) per task: steadier than the wall clock
        /// on a machine shared with other work.
        public var cpuMicros: Double
        public var perSecond: Double { Double(tasks) / seconds }
        public var description: String {
            label.padding(toLength: 36, withPad: " ", startingAt: 0)
                + String(
                    format: "%8.0f tasks/s   p50 %7.1f µs   p99 %7.1f µs   cpu %6.1f µs/task   (%d tasks in %.2f s)", perSecond,
                    p50Micros, p99Micros, cpuMicros, tasks, seconds)
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
        return try await runStore(
            store, label: batch == 1 ? "store (1 task per transaction)" : "store (batches of \(batch))", tasks: tasks,
            batch: batch)
    }

    /// Any store (PostgreSQL's, say) through the same cycle, `batch` tasks per transaction.
    public static func runStore(_ store: any TaskStore, label: String, tasks: Int, batch: Int) async throws -> Figures {
        var samples: [Double] = []
        let clock = ContinuousClock()
        let cpu0 = Measure.processCPUSeconds()
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
            let per = d.inMicroseconds
            for _ in 0..<n { samples.append(per / Double(n)) }
            done += n
        }
        let elapsed = clock.now - start
        let cpu = (Measure.processCPUSeconds() - cpu0) / Double(tasks) * 1e6
        samples.sort()
        return Figures(
            label: label, tasks: tasks, seconds: elapsed.inSeconds,
            p50Micros: percentile(samples, 50), p99Micros: percentile(samples, 99), cpuMicros: cpu)
    }

    /// Plain SQL through the C API: prepared statements, one transaction per step of `batch` tasks
    /// (insert the tasks, claim them with one statement, complete them), each appending the same
    /// `task_events` rows the store does, so only the store's own overhead separates the two.
    public static func runPlainSQL(directory: String, tasks: Int, batch: Int = 1) throws -> Figures {
        let path = (directory as NSString).appendingPathComponent("bench-plain-\(UUID().uuidString).sqlite")
        defer { removeDatabase(path) }
        // The same schema as the store (its migration), on the same settings.
        _ = try SQLiteTaskStore(path: path)
        let sqlite = try PlainSQLite(path: path)
        let db = sqlite.db
        func exec(_ sql: String) throws { try sqlite.exec(sql) }
        func prepare(_ sql: String) throws -> OpaquePointer { try sqlite.prepare(sql) }
        try exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=10000; PRAGMA foreign_keys=ON")
        // The rows and events the store writes for one task, with nothing else: no validation,
        // no decoding, only the ids the next step needs.
        let insert = try prepare(
            "INSERT INTO tasks (id, task_type, direction, status, priority, attempt, max_attempts, created_at, updated_at) VALUES (?, 'impl', 'no-op', 'pending', 0, 0, 3, ?, ?)"
        )
        let event = try prepare(
            "INSERT INTO task_events (task_id, kind, from_status, to_status, attempt, detail, at) VALUES (?, ?, ?, ?, ?, ?, ?)")
        let claim = try prepare(
            """
            UPDATE tasks SET status = 'running', claimed_by = 'bench', attempt = attempt + 1, lease_expires_at = ?1 + 60,
              heartbeat_at = ?1, started_at = ?1, updated_at = ?1, finished_at = NULL,
              pid = NULL, pgid = NULL, exit_code = NULL, not_before = NULL
            WHERE id IN (
              SELECT p.id FROM tasks p INDEXED BY tasks_runnable
              WHERE p.status = 'pending' AND (p.not_before IS NULL OR p.not_before <= ?1)
                AND (p.depends_on = '[]' OR NOT EXISTS (
                  SELECT 1 FROM json_each(p.depends_on) d LEFT JOIN tasks x ON x.id = d.value
                  WHERE x.status IS NOT 'completed'))
              ORDER BY p.priority DESC, p.created_at, p.id LIMIT ?2)
            RETURNING id
            """)
        let complete = try prepare(
            "UPDATE tasks SET status = 'completed', exit_code = 0, lease_expires_at = NULL, finished_at = ?1, updated_at = ?1 WHERE id = ?2 AND status = 'running' AND claimed_by = 'bench'"
        )
        defer {
            sqlite3_finalize(insert)
            sqlite3_finalize(event)
            sqlite3_finalize(claim)
            sqlite3_finalize(complete)
        }
        let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
        func record(
            _ id: String, _ kind: String, _ from: String?, _ to: String, _ attempt: Int32, _ detail: String, _ at: Double
        )
            throws
        {
            sqlite3_bind_text(event, 1, id, -1, transient)
            sqlite3_bind_text(event, 2, kind, -1, transient)
            if let from { sqlite3_bind_text(event, 3, from, -1, transient) } else { sqlite3_bind_null(event, 3) }
            sqlite3_bind_text(event, 4, to, -1, transient)
            sqlite3_bind_int(event, 5, attempt)
            sqlite3_bind_text(event, 6, detail, -1, transient)
            sqlite3_bind_double(event, 7, at)
            guard sqlite3_step(event) == SQLITE_DONE else { throw sqlite.lastError }
            sqlite3_reset(event)
        }
        var samples: [Double] = []
        samples.reserveCapacity(tasks)
        let clock = ContinuousClock()
        let cpu0 = Measure.processCPUSeconds()
        let start = clock.now
        // Each step is one transaction over `batch` tasks (batch 1 = one task per transaction).
        var done = 0
        while done < tasks {
            let n = min(batch, tasks - done)
            let t0 = clock.now
            let now = Date().timeIntervalSince1970
            try exec("BEGIN IMMEDIATE")
            for _ in 0..<n {
                let id = TaskID.generate()
                sqlite3_bind_text(insert, 1, id, -1, transient)
                sqlite3_bind_double(insert, 2, now)
                sqlite3_bind_double(insert, 3, now)
                guard sqlite3_step(insert) == SQLITE_DONE else {
                    throw sqlite.lastError
                }
                sqlite3_reset(insert)
                try record(id, "created", nil, "pending", 0, #"{"by":"api"}"#, now)
            }
            try exec("COMMIT")
            var claimed: [String] = []
            try exec("BEGIN IMMEDIATE")
            sqlite3_bind_double(claim, 1, now)
            sqlite3_bind_int(claim, 2, Int32(n))
            while sqlite3_step(claim) == SQLITE_ROW { claimed.append(String(cString: sqlite3_column_text(claim, 0))) }
            sqlite3_reset(claim)
            guard claimed.count == n else { throw StoreError(.unavailable, "claim found \(claimed.count) of \(n)") }
            for id in claimed { try record(id, "claimed", "pending", "running", 1, #"{"by":"bench"}"#, now) }
            try exec("COMMIT")
            try exec("BEGIN IMMEDIATE")
            for id in claimed {
                sqlite3_bind_double(complete, 1, now)
                sqlite3_bind_text(complete, 2, id, -1, transient)
                guard sqlite3_step(complete) == SQLITE_DONE, sqlite3_changes(db) == 1 else {
                    throw sqlite.lastError
                }
                sqlite3_reset(complete)
                try record(id, "finished", "running", "completed", 1, #"{"by":"bench","exit_code":0,"outcome":"succeed"}"#, now)
            }
            try exec("COMMIT")
            let d = clock.now - t0
            let per = d.inMicroseconds / Double(n)
            for _ in 0..<n { samples.append(per) }
            done += n
        }
        let elapsed = clock.now - start
        let cpu = (Measure.processCPUSeconds() - cpu0) / Double(tasks) * 1e6
        samples.sort()
        return Figures(
            label: batch == 1 ? "plain SQL (1 task per transaction)" : "plain SQL (batches of \(batch))", tasks: tasks,
            seconds: elapsed.inSeconds,
            p50Micros: percentile(samples, 50), p99Micros: percentile(samples, 99), cpuMicros: cpu)
    }

    /// Deletes a database file with its write-ahead log and shared-memory files.
    public static func removeDatabase(_ path: String) {
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
    }
}
