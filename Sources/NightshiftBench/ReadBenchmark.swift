import Foundation
import GRDBSQLite
import NightshiftCore
import NightshiftStore

/// `nightshift bench store --read`: the read path at N tasks. Seeds a store on disk with plain
/// SQL (a night's mix of statuses, a kilobyte of output per finished task), then times the
/// reads the API, the monitor and `pipeline-status` make, next to what they cost before
/// (a full `COUNT(*)`, a deep `OFFSET`) in the same run.
public enum ReadBenchmark {
    public struct Figure: Sendable, CustomStringConvertible {
        public var label: String
        public var runs: Int
        public var p50Micros: Double
        public var p99Micros: Double
        public var description: String {
            label.padding(toLength: 52, withPad: " ", startingAt: 0)
                + String(format: "p50 %9.1f µs   p99 %9.1f µs   (%d runs)", p50Micros, p99Micros, runs)
        }
    }

    /// Seeds `tasks` tasks into the store database at `path` (created and migrated if needed)
    /// with plain SQL in transactions of 10,000: 94 % completed, 3 % failed, 1 % cancelled, the
    /// rest pending, with a few running and waiting for a decision. Returns the seconds taken.
    @discardableResult
    public static func seed(path: String, tasks: Int) throws -> Double {
        _ = try SQLiteTaskStore(path: path)
        let sqlite = try PlainSQLite(path: path)
        func exec(_ sql: String) throws { try sqlite.exec(sql) }
        try exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=10000")
        let insert = try sqlite.prepare(
            """
            INSERT INTO tasks (id, task_type, direction, status, priority, attempt, max_attempts, executor, command,
              claimed_by, lease_expires_at, decision_prompt, exit_code, output_tail, log_path, summary, backlog_item, phase,
              iteration, context, created_at, updated_at, started_at, finished_at)
            VALUES (?1, ?2, ?3, ?4, 0, 1, 3, 'default', ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, 1, ?15, ?16, ?16, ?17, ?18)
            """)
        defer { sqlite3_finalize(insert) }
        let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
        let types = ["spec", "impl", "test", "review"]
        let tail = String(repeating: "test output line with a path/to/file.swift:42 and a result\n", count: 16)
        let start = Date()
        let base = start.timeIntervalSince1970 - Double(tasks) * 2
        for chunk in stride(from: 0, to: tasks, by: 10_000) {
            try exec("BEGIN")
            for i in chunk..<min(tasks, chunk + 10_000) {
                let r = i % 100
                let status: String =
                    i >= tasks - 20
                    ? (i % 2 == 0 ? "running" : "needs_decision")
                    : r < 94 ? "completed" : r < 97 ? "failed" : r < 98 ? "cancelled" : "pending"
                let created = base + Double(i) * 2
                let ended = status == "completed" || status == "failed"
                func text(_ index: Int32, _ value: String?) {
                    if let value {
                        sqlite3_bind_text(insert, index, value, -1, transient)
                    } else {
                        sqlite3_bind_null(insert, index)
                    }
                }
                func real(_ index: Int32, _ value: Double?) {
                    if let value { sqlite3_bind_double(insert, index, value) } else { sqlite3_bind_null(insert, index) }
                }
                text(1, TaskID.generate())
                text(2, types[i % 4])
                text(3, "Item \(i / 4): make the importer report every malformed row with its line number and reason")
                text(4, status)
                text(5, status == "pending" ? nil : "bash scripts/demo_agent.sh 'item \(i / 4)'")
                text(6, status == "running" ? "bench" : nil)
                real(7, status == "running" ? created + 3600 : nil)
                text(8, status == "needs_decision" ? "Ship it?" : nil)
                if ended { sqlite3_bind_int(insert, 9, status == "completed" ? 0 : 1) } else { sqlite3_bind_null(insert, 9) }
                text(10, ended ? tail : nil)
                text(11, "logs/tasks/task.log")
                text(12, ended ? "done: \(types[i % 4]) of item \(i / 4)" : nil)
                // An item has one open task at most (a unique index): open tasks get their own.
                let open = status == "pending" || status == "running" || status == "needs_decision"
                text(13, open ? "item-open-\(i)" : "item-\(i / 4)")
                text(14, types[i % 4])
                text(15, "{\"repo\":\"/srv/project\"}")
                real(16, created)
                real(17, status == "pending" ? nil : created + 1)
                real(18, ended || status == "needs_decision" ? created + 2 : nil)
                guard sqlite3_step(insert) == SQLITE_DONE else { throw sqlite.lastError }
                sqlite3_reset(insert)
            }
            try exec("COMMIT")
        }
        try exec("PRAGMA wal_checkpoint(TRUNCATE)")
        return Date().timeIntervalSince(start)
    }

    /// Times `body` `runs` times (after one warm-up run).
    static func time(_ label: String, runs: Int, _ body: () async throws -> Void) async throws -> Figure {
        try await body()
        var samples: [Double] = []
        let clock = ContinuousClock()
        for _ in 0..<runs {
            let t0 = clock.now
            try await body()
            let d = clock.now - t0
            samples.append(d.inMicroseconds)
        }
        samples.sort()
        return Figure(
            label: label, runs: runs, p50Micros: StoreBenchmark.percentile(samples, 50),
            p99Micros: StoreBenchmark.percentile(samples, 99))
    }

    /// The reads at the store database `path`, each `runs` times; prints each figure as it comes.
    public static func run(path: String, runs: Int, print report: (Figure) -> Void) async throws {
        let store = try SQLiteTaskStore(path: path)
        let counts = try await store.countByStatus()
        let total = counts.values.reduce(0, +)
        let now = Date()
        // The cursor half-way down, found once by walking pages as a client would.
        var deep = TaskQuery(limit: 100)
        deep.offset = total / 2
        let middle = try await store.list(deep).tasks.first.map(TaskCursor.init(after:))

        report(try await time("count by status (kept counts)", runs: runs) { _ = try await store.countByStatus() })
        report(try await time("list, limit 20", runs: runs) { _ = try await store.list(TaskQuery(limit: 20)) })
        report(
            try await time("list, limit 20, status=failed", runs: runs) {
                _ = try await store.list(TaskQuery(statuses: [.failed]))
            })
        report(
            try await time("list, limit 20, after a cursor half-way", runs: runs) {
                var q = TaskQuery(limit: 20)
                q.after = middle
                _ = try await store.list(q)
            })
        let firstID = try await store.list(TaskQuery(limit: 1)).tasks.first?.id ?? ""
        report(try await time("get one task", runs: runs) { _ = try await store.get(firstID) })
        report(
            try await time("pipeline-status reads", runs: runs) {
                _ = try await store.countByStatus()
                _ = try await store.list(TaskQuery(statuses: [.running], limit: 100))
                _ = try await store.list(TaskQuery(statuses: [.needsDecision], limit: 100))
                var next = TaskQuery(statuses: [.pending], limit: 20)
                next.order = .claim
                _ = try await store.list(next)
            })
        report(
            try await time("monitor check reads (task health, completed counts)", runs: runs) {
                _ = try await store.taskHealth(now: now, recent: 20)
                _ = try await store.completedCounts(since: [now.addingTimeInterval(-3600), now.addingTimeInterval(-86400)])
                _ = try await store.recentFinished(limit: 100)
            })
        // What the same answers cost before, in the same run: a scan and a walk.
        let slowRuns = max(3, runs / 10)
        let readOnly = try PlainSQLite(path: path, flags: SQLITE_OPEN_READONLY)
        report(
            try await time("  before: COUNT(*) GROUP BY status (a scan)", runs: slowRuns) {
                try readOnly.exec("SELECT status, COUNT(*) FROM tasks GROUP BY status")
            })
        report(
            try await time("  before: list, limit 20, offset half-way", runs: slowRuns) {
                _ = try await store.list(deep)
            })
        print("\(total) tasks in \(path)")
    }
}
