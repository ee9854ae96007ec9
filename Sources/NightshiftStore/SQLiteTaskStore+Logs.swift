import Foundation
import GRDB
import NightshiftCore

extension SQLiteMigrations {
    /// Ingested logs (issue 13): runs, lines, and each run's fingerprints.
    static func registerLogs(_ m: inout DatabaseMigrator) {
        m.registerMigration("2026-12-02-logs") { db in
            try db.execute(
                sql: """
                    CREATE TABLE log_runs (
                      id TEXT PRIMARY KEY NOT NULL CHECK (length(id) = 24 AND id GLOB 'run_*'),
                      created_at REAL NOT NULL,
                      callback_url TEXT,
                      tokens_used INTEGER NOT NULL DEFAULT 0 CHECK (tokens_used >= 0)
                    );
                    CREATE INDEX log_runs_created ON log_runs (created_at, id);
                    CREATE TABLE log_lines (
                      id INTEGER PRIMARY KEY AUTOINCREMENT,
                      run_id TEXT NOT NULL REFERENCES log_runs (id) ON DELETE CASCADE,
                      at REAL NOT NULL,
                      received_at REAL NOT NULL,
                      level TEXT NOT NULL CHECK (length(level) BETWEEN 1 AND 16),
                      source TEXT NOT NULL CHECK (length(source) BETWEEN 1 AND 128),
                      message TEXT NOT NULL,
                      fingerprint TEXT,
                      bytes INTEGER NOT NULL
                    );
                    CREATE INDEX log_lines_run ON log_lines (run_id, id);
                    CREATE INDEX log_lines_received ON log_lines (received_at);
                    CREATE TABLE log_fingerprints (
                      run_id TEXT NOT NULL REFERENCES log_runs (id) ON DELETE CASCADE,
                      fingerprint TEXT NOT NULL CHECK (length(fingerprint) = 19 AND fingerprint GLOB 'fp_*'),
                      rule_id TEXT NOT NULL,
                      severity TEXT NOT NULL CHECK (severity IN ('low', 'medium', 'high', 'critical')),
                      template TEXT NOT NULL,
                      mask_version INTEGER NOT NULL,
                      count INTEGER NOT NULL CHECK (count >= 1),
                      first_seen REAL NOT NULL,
                      last_seen REAL NOT NULL,
                      sources TEXT NOT NULL,
                      examples TEXT NOT NULL,
                      notified_at REAL,
                      PRIMARY KEY (run_id, fingerprint)
                    );
                    CREATE INDEX log_fingerprints_last_seen ON log_fingerprints (last_seen);
                    """)
        }
        // The monitor's question (which fingerprints recur across tasks of a run) reads only
        // the classified lines of one run.
        m.registerMigration("2026-12-02-log-lines-fingerprint") { db in
            try db.execute(
                sql: """
                    CREATE INDEX log_lines_fingerprint ON log_lines (run_id, fingerprint, source)
                      WHERE fingerprint IS NOT NULL
                    """)
        }
    }
}

extension SQLiteTaskStore: LogStore {
    static func decodeLogRun(_ row: Row) -> LogRun {
        LogRun(
            id: row["id"], createdAt: Date(timeIntervalSince1970: row["created_at"]), callbackURL: row["callback_url"],
            tokensUsed: row["tokens_used"])
    }

    static func decodeLogIssue(_ row: Row) -> LogIssue {
        func strings(_ c: String) -> [String] {
            let text: String = row[c]
            return (try? JSONDecoder().decode([String].self, from: Data(text.utf8))) ?? []
        }
        return LogIssue(
            runID: row["run_id"], fingerprint: row["fingerprint"], ruleID: row["rule_id"],
            severity: Severity(rawValue: row["severity"]) ?? .medium, template: row["template"],
            maskVersion: row["mask_version"], count: row["count"],
            firstSeen: Date(timeIntervalSince1970: row["first_seen"]), lastSeen: Date(timeIntervalSince1970: row["last_seen"]),
            sources: strings("sources"), examples: strings("examples"),
            notifiedAt: (row["notified_at"] as Double?).map { Date(timeIntervalSince1970: $0) })
    }

    static func json(_ strings: [String]) -> String {
        String(decoding: (try? JSONEncoder().encode(strings)) ?? Data("[]".utf8), as: UTF8.self)
    }

    static func insertRunIfMissing(_ db: Database, _ id: String, _ now: Date) throws {
        // ON CONFLICT (not OR IGNORE), so a CHECK failure is an error rather than a silent skip.
        try db.cachedStatement(sql: "INSERT INTO log_runs (id, created_at) VALUES (?, ?) ON CONFLICT (id) DO NOTHING")
            .execute(arguments: [id, now.timeIntervalSince1970])
    }

    public func startLogRun(callbackURL: String?, now: Date) async throws -> LogRun {
        try await write { db in
            // Strictly newer than the latest, so `latest` is always the run just started.
            let newest = try Double.fetchOne(db, sql: "SELECT MAX(created_at) FROM log_runs") ?? 0
            let created = max(now.timeIntervalSince1970, newest + 0.001)
            var id = RunID.generate(now: now)
            while try Bool.fetchOne(db, sql: "SELECT 1 FROM log_runs WHERE id = ?", arguments: [id]) == true {
                id = RunID.generate(now: now)
            }
            try db.execute(
                sql: "INSERT INTO log_runs (id, created_at, callback_url) VALUES (?, ?, ?)",
                arguments: [id, created, callbackURL])
            return LogRun(id: id, createdAt: Date(timeIntervalSince1970: created), callbackURL: callbackURL)
        }
    }

    public func ensureLogRun(_ id: String, now: Date) async throws -> LogRun {
        guard RunID.isValid(id) else { throw StoreError(.invalid, RunID.problem(id) ?? "bad run id", field: "run") }
        return try await write { db in
            try Self.insertRunIfMissing(db, id, now)
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM log_runs WHERE id = ?", arguments: [id]) else {
                throw StoreError(.invalid, "the log run \(id) could not be created", field: "run")
            }
            return Self.decodeLogRun(row)
        }
    }

    public func logRun(_ id: String) async throws -> LogRun? {
        try await read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM log_runs WHERE id = ?", arguments: [id]).map(Self.decodeLogRun)
        }
    }

    public func latestLogRun() async throws -> LogRun? {
        try await read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM log_runs ORDER BY created_at DESC, id DESC LIMIT 1").map(
                Self.decodeLogRun)
        }
    }

    public func appendLogs(_ lines: [ClassifiedLogLine], policy: LogNotifyPolicy, now: Date) async throws -> LogAppendResult {
        guard !lines.isEmpty else { return LogAppendResult() }
        let received = now.timeIntervalSince1970
        return try await write { db in
            var result = LogAppendResult()
            result.lines.reserveCapacity(lines.count)
            var runs = Set<String>()
            let insert = try db.cachedStatement(
                sql: """
                    INSERT INTO log_lines (run_id, at, received_at, level, source, message, fingerprint, bytes)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """)
            let load = try db.cachedStatement(sql: "SELECT * FROM log_fingerprints WHERE run_id = ? AND fingerprint = ?")
            // Fingerprints touched, loaded once per batch.
            var existing: [String: LogIssue] = [:]
            for (run, fingerprint) in LogFingerprintFold.touched(lines) {
                if let row = try Row.fetchOne(load, arguments: [run, fingerprint]) {
                    existing[LogFingerprintFold.key(run: run, fingerprint: fingerprint)] = Self.decodeLogIssue(row)
                }
            }
            for line in lines {
                var e = line.entry
                if runs.insert(e.runID).inserted { try Self.insertRunIfMissing(db, e.runID, now) }
                e.fingerprint = line.classification?.fingerprint
                try insert.execute(arguments: [
                    e.runID, e.at.timeIntervalSince1970, received, e.level, e.source, e.message, e.fingerprint,
                    e.message.utf8.count,
                ])
                e.id = db.lastInsertedRowID
                result.lines.append(e)
            }
            let fold = LogFingerprintFold(lines, existing: existing, policy: policy, now: now)
            for issue in fold.issues {
                let args: StatementArguments = [
                    issue.ruleID, issue.severity.rawValue, issue.template, issue.maskVersion, issue.count,
                    issue.firstSeen.timeIntervalSince1970, issue.lastSeen.timeIntervalSince1970, Self.json(issue.sources),
                    Self.json(issue.examples), issue.notifiedAt?.timeIntervalSince1970, issue.runID, issue.fingerprint,
                ]
                if fold.new.contains(LogFingerprintFold.key(run: issue.runID, fingerprint: issue.fingerprint)) {
                    try db.cachedStatement(
                        sql: """
                            INSERT INTO log_fingerprints (rule_id, severity, template, mask_version, count, first_seen,
                              last_seen, sources, examples, notified_at, run_id, fingerprint)
                            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                            """
                    ).execute(arguments: args)
                } else {
                    try db.cachedStatement(
                        sql: """
                            UPDATE log_fingerprints SET rule_id = ?, severity = ?, template = ?, mask_version = ?, count = ?,
                              first_seen = ?, last_seen = ?, sources = ?, examples = ?, notified_at = ?
                            WHERE run_id = ? AND fingerprint = ?
                            """
                    ).execute(arguments: args)
                }
            }
            result.notify = fold.notify
            return result
        }
    }

    public func logIssues(runID: String, limit: Int) async throws -> [LogIssue] {
        try await read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT * FROM log_fingerprints WHERE run_id = ?
                    ORDER BY count DESC, CASE severity WHEN 'critical' THEN 0 WHEN 'high' THEN 1 WHEN 'medium' THEN 2 ELSE 3 END,
                      first_seen, fingerprint
                    LIMIT ?
                    """, arguments: [runID, limit]
            ).map(Self.decodeLogIssue)
        }
    }

    public func logLines(_ q: LogLineQuery) async throws -> [LogEntry] {
        var sql = "SELECT id, run_id, at, level, source, message, fingerprint FROM log_lines WHERE run_id = ?"
        var args: StatementArguments = [q.runID]
        if let s = q.source {
            sql += " AND source = ?"
            _ = args.append(contentsOf: [s])
        }
        if let levels = q.levels, !levels.isEmpty {
            sql += " AND level IN (\(levels.map { _ in "?" }.joined(separator: ",")))"
            _ = args.append(contentsOf: StatementArguments(levels))
        }
        if let since = q.since {
            sql += " AND at >= ?"
            _ = args.append(contentsOf: [since.timeIntervalSince1970])
        }
        if let after = q.afterID {
            sql += " AND id > ? ORDER BY id LIMIT ?"
            _ = args.append(contentsOf: [after, q.limit])
        } else {
            if let before = q.beforeID {
                sql += " AND id < ?"
                _ = args.append(contentsOf: [before])
            }
            sql += " ORDER BY id DESC LIMIT ?"
            _ = args.append(contentsOf: [q.limit])
        }
        let query = sql
        let arguments = args
        return try await read { db in
            try Row.fetchAll(db, sql: query, arguments: arguments).map { row in
                LogEntry(
                    id: row[0], runID: row[1], at: Date(timeIntervalSince1970: row[2]), level: row[3], source: row[4],
                    message: row[5], fingerprint: row[6])
            }
        }
    }

    public func addLogTokens(runID: String, tokens: Int) async throws -> Int {
        try await write { db in
            try db.execute(
                sql: "UPDATE log_runs SET tokens_used = tokens_used + ? WHERE id = ?", arguments: [max(0, tokens), runID])
            return try Int.fetchOne(db, sql: "SELECT tokens_used FROM log_runs WHERE id = ?", arguments: [runID]) ?? 0
        }
    }

    public func reserveLogTokens(runID: String, tokens: Int, budget: Int) async throws -> Int? {
        try await write { db in
            let t = max(0, tokens)
            try db.execute(
                sql: "UPDATE log_runs SET tokens_used = tokens_used + ? WHERE id = ? AND tokens_used + ? <= ?",
                arguments: [t, runID, t, budget])
            guard db.changesCount == 1 else { return nil }
            return try Int.fetchOne(db, sql: "SELECT tokens_used FROM log_runs WHERE id = ?", arguments: [runID]) ?? 0
        }
    }

    public func settleLogTokens(runID: String, reserved: Int, used: Int) async throws -> Int {
        try await write { db in
            try db.execute(
                sql: "UPDATE log_runs SET tokens_used = MAX(0, tokens_used - ? + ?) WHERE id = ?",
                arguments: [max(0, reserved), max(0, used), runID])
            return try Int.fetchOne(db, sql: "SELECT tokens_used FROM log_runs WHERE id = ?", arguments: [runID]) ?? 0
        }
    }

    public func logRecurrences(runID: String, minTasks: Int, limit: Int) async throws -> [LogRecurrence] {
        try await read { db in
            // Per fingerprint and task: its lines; folded here into tasks per fingerprint.
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT fingerprint, substr(source, 6) AS task, COUNT(*) AS n FROM log_lines
                    WHERE run_id = ? AND fingerprint IS NOT NULL AND substr(source, 1, 5) = 'task:'
                    GROUP BY fingerprint, source
                    """, arguments: [runID])
            var tasks: [String: [String]] = [:]
            var counts: [String: Int] = [:]
            for row in rows {
                let fp: String = row[0]
                tasks[fp, default: []].append(row[1])
                counts[fp, default: 0] += row[2] as Int
            }
            let due = tasks.filter { $0.value.count >= max(1, minTasks) }
                .sorted { $0.value.count != $1.value.count ? $0.value.count > $1.value.count : $0.key < $1.key }
                .prefix(max(0, limit))
            let load = try db.cachedStatement(
                sql: "SELECT rule_id, severity, template FROM log_fingerprints WHERE run_id = ? AND fingerprint = ?")
            return try due.map { fp, ids in
                let row = try Row.fetchOne(load, arguments: [runID, fp])
                return LogRecurrence(
                    runID: runID, fingerprint: fp, ruleID: row?["rule_id"] ?? LogRule.unmatchedID,
                    severity: (row?["severity"] as String?).flatMap(Severity.init(rawValue:)) ?? .medium,
                    template: row?["template"] ?? "", taskIDs: ids.sorted(), count: counts[fp] ?? 0)
            }
        }
    }

    /// Lines deleted per transaction, so pruning never holds writers up for long.
    static let logPruneBatch = 5000

    public func pruneLogs(before cutoff: Date, maxBytes: Int) async throws -> LogPruneResult {
        var result = LogPruneResult()
        let c = cutoff.timeIntervalSince1970
        while true {
            let n = try await write { db in
                try db.execute(
                    sql: """
                        DELETE FROM log_lines WHERE id IN (
                          SELECT id FROM log_lines WHERE received_at < ? ORDER BY id LIMIT ?)
                        """, arguments: [c, Self.logPruneBatch])
                return db.changesCount
            }
            result.lines += n
            if n < Self.logPruneBatch { break }
        }
        var total = try await read { db in try Int.fetchOne(db, sql: "SELECT COALESCE(SUM(bytes), 0) FROM log_lines") ?? 0 }
        while total > maxBytes {
            let excess = total - maxBytes
            let (n, freed) = try await write { db -> (Int, Int) in
                // The oldest lines, only as many as free the excess (at most a batch at a time).
                let rows = try Row.fetchAll(
                    db, sql: "SELECT id, bytes FROM log_lines ORDER BY id LIMIT ?", arguments: [Self.logPruneBatch])
                var freed = 0
                var last: Int64?
                for row in rows {
                    freed += row[1] as Int
                    last = row[0] as Int64
                    if freed >= excess { break }
                }
                guard let last else { return (0, 0) }
                try db.execute(sql: "DELETE FROM log_lines WHERE id <= ?", arguments: [last])
                return (db.changesCount, freed)
            }
            if n == 0 { break }
            result.lines += n
            total -= freed
        }
        let (fps, runs) = try await write { db -> (Int, Int) in
            try db.execute(sql: "DELETE FROM log_fingerprints WHERE last_seen < ?", arguments: [c])
            let fps = db.changesCount
            try db.execute(
                sql: """
                    DELETE FROM log_runs WHERE created_at < ?
                      AND id NOT IN (SELECT id FROM log_runs ORDER BY created_at DESC, id DESC LIMIT 1)
                      AND NOT EXISTS (SELECT 1 FROM log_lines WHERE log_lines.run_id = log_runs.id)
                      AND NOT EXISTS (SELECT 1 FROM log_fingerprints f WHERE f.run_id = log_runs.id)
                    """, arguments: [c])
            return (fps, db.changesCount)
        }
        result.fingerprints = fps
        result.runs = runs
        return result
    }
}
