import Foundation
import NightshiftCore
import NightshiftStore
import PostgresNIO

/// Ingested logs on PostgreSQL. An append takes a transaction-level advisory lock, so that
/// appends on several nodes fold into a run's fingerprints one after the other (SQLite has
/// one writer); lines go in with one statement per batch.
extension PostgresTaskStore: LogStore {
    static let logRunColumns = "id, created_at, callback_url, tokens_used"
    static let fingerprintColumns =
        "run_id, fingerprint, rule_id, severity, template, mask_version, count, first_seen, last_seen, sources::text, examples::text, notified_at"
    /// The advisory lock an append holds ("nslg").
    static let logLock: Int32 = 0x6E73_6C67

    static func logRuns(_ rows: PostgresRowSequence) async throws -> [LogRun] {
        var out: [LogRun] = []
        for try await (id, created, callback, tokens) in rows.decode((String, Double, String?, Int).self) {
            out.append(LogRun(id: id, createdAt: Date(timeIntervalSince1970: created), callbackURL: callback, tokensUsed: tokens))
        }
        return out
    }

    static func logIssues(_ rows: PostgresRowSequence) async throws -> [LogIssue] {
        func strings(_ text: String) -> [String] { (try? JSONDecoder().decode([String].self, from: Data(text.utf8))) ?? [] }
        var out: [LogIssue] = []
        for try await row in rows {
            let r = row.makeRandomAccess()
            out.append(
                LogIssue(
                    runID: try r[0].decode(String.self), fingerprint: try r[1].decode(String.self),
                    ruleID: try r[2].decode(String.self), severity: Severity(rawValue: try r[3].decode(String.self)) ?? .medium,
                    template: try r[4].decode(String.self), maskVersion: try r[5].decode(Int.self),
                    count: try r[6].decode(Int.self),
                    firstSeen: Date(timeIntervalSince1970: try r[7].decode(Double.self)),
                    lastSeen: Date(timeIntervalSince1970: try r[8].decode(Double.self)),
                    sources: strings(try r[9].decode(String.self)), examples: strings(try r[10].decode(String.self)),
                    notifiedAt: try r[11].decode(Double?.self).map { Date(timeIntervalSince1970: $0) }))
        }
        return out
    }

    static func json(_ strings: [String]) -> String {
        String(decoding: (try? JSONEncoder().encode(strings)) ?? Data("[]".utf8), as: UTF8.self)
    }

    public func startLogRun(callbackURL: String?, now: Date) async throws -> LogRun {
        try await transaction { conn in
            try await conn.query("SELECT pg_advisory_xact_lock(\(Self.logLock), hashtext(current_schema()))", logger: self.logger)
            // Strictly newer than the latest, so `latest` is always the run just started.
            var newest = 0.0
            for try await n in try await conn.query("SELECT MAX(created_at) FROM log_runs", logger: self.logger).decode(
                Double?.self)
            {
                newest = n ?? 0
            }
            let created = max(now.timeIntervalSince1970, newest + 0.001)
            var id = RunID.generate(now: now)
            while try await self.int(conn, "SELECT COUNT(*) FROM log_runs WHERE id = \(id)") > 0 { id = RunID.generate(now: now) }
            try await conn.query(
                "INSERT INTO log_runs (id, created_at, callback_url) VALUES (\(id), \(created), \(callbackURL))",
                logger: self.logger)
            return LogRun(id: id, createdAt: Date(timeIntervalSince1970: created), callbackURL: callbackURL)
        }
    }

    public func ensureLogRun(_ id: String, now: Date) async throws -> LogRun {
        guard RunID.isValid(id) else { throw StoreError(.invalid, RunID.problem(id) ?? "bad run id", field: "run") }
        return try await transaction { conn in
            try await self.insertRunsIfMissing(conn, [id], now)
            guard
                let run = try await Self.logRuns(
                    conn.query("SELECT \(unescaped: Self.logRunColumns) FROM log_runs WHERE id = \(id)", logger: self.logger)
                ).first
            else { throw StoreError(.invalid, "the log run \(id) could not be created", field: "run") }
            return run
        }
    }

    /// ON CONFLICT (not a silent skip of bad rows): a CHECK failure is an error.
    func insertRunsIfMissing(_ conn: PostgresConnection, _ ids: [String], _ now: Date) async throws {
        try await conn.query(
            """
            INSERT INTO log_runs (id, created_at) SELECT r, \(now.timeIntervalSince1970) FROM unnest(\(ids)::text[]) r
            ON CONFLICT (id) DO NOTHING
            """, logger: logger)
    }

    public func logRun(_ id: String) async throws -> LogRun? {
        try await read { conn in
            try await Self.logRuns(
                conn.query("SELECT \(unescaped: Self.logRunColumns) FROM log_runs WHERE id = \(id)", logger: self.logger)
            ).first
        }
    }

    public func latestLogRun() async throws -> LogRun? {
        try await read { conn in
            try await Self.logRuns(
                conn.query(
                    "SELECT \(unescaped: Self.logRunColumns) FROM log_runs ORDER BY created_at DESC, id DESC LIMIT 1",
                    logger: self.logger)
            ).first
        }
    }

    public func appendLogs(_ lines: [ClassifiedLogLine], policy: LogNotifyPolicy, now: Date) async throws -> LogAppendResult {
        guard !lines.isEmpty else { return LogAppendResult() }
        let received = now.timeIntervalSince1970
        return try await transaction { conn in
            try await conn.query("SELECT pg_advisory_xact_lock(\(Self.logLock), hashtext(current_schema()))", logger: self.logger)
            var runs: [String] = []
            var seenRuns = Set<String>()
            for line in lines where seenRuns.insert(line.entry.runID).inserted { runs.append(line.entry.runID) }
            try await self.insertRunsIfMissing(conn, runs, now)
            let entries = lines.map { line -> LogEntry in
                var e = line.entry
                e.fingerprint = line.classification?.fingerprint
                return e
            }
            let rows = try await conn.query(
                """
                INSERT INTO log_lines (run_id, at, received_at, level, source, message, fingerprint, bytes)
                SELECT l.run_id, l.at, \(received), l.level, l.source, l.message, NULLIF(l.fingerprint, ''), l.bytes
                FROM unnest(\(entries.map(\.runID))::text[], \(entries.map { $0.at.timeIntervalSince1970 })::float8[],
                            \(entries.map(\.level))::text[], \(entries.map(\.source))::text[], \(entries.map(\.message))::text[],
                            \(entries.map { $0.fingerprint ?? "" })::text[], \(entries.map { $0.message.utf8.count })::bigint[])
                  WITH ORDINALITY AS l(run_id, at, level, source, message, fingerprint, bytes, n)
                ORDER BY l.n
                RETURNING id
                """, logger: self.logger)
            var ids: [Int64] = []
            for try await id in rows.decode(Int64.self) { ids.append(id) }
            guard ids.count == entries.count else {
                throw StoreError(.unavailable, "stored \(ids.count) log lines, expected \(entries.count)")
            }
            ids.sort()
            var result = LogAppendResult()
            result.lines = zip(ids, entries).map { id, e in
                var e = e
                e.id = id
                return e
            }
            let touched = LogFingerprintFold.touched(lines)
            guard !touched.isEmpty else { return result }
            var existing: [String: LogIssue] = [:]
            for issue in try await Self.logIssues(
                conn.query(
                    """
                    SELECT \(unescaped: Self.fingerprintColumns) FROM log_fingerprints f
                    JOIN unnest(\(touched.map(\.run))::text[], \(touched.map(\.fingerprint))::text[]) k(run_id, fingerprint)
                      USING (run_id, fingerprint)
                    """, logger: self.logger))
            {
                existing[LogFingerprintFold.key(run: issue.runID, fingerprint: issue.fingerprint)] = issue
            }
            let fold = LogFingerprintFold(lines, existing: existing, policy: policy, now: now)
            for issue in fold.issues {
                let sources = Self.json(issue.sources)
                let examples = Self.json(issue.examples)
                let notified = issue.notifiedAt?.timeIntervalSince1970
                if fold.new.contains(LogFingerprintFold.key(run: issue.runID, fingerprint: issue.fingerprint)) {
                    try await conn.query(
                        """
                        INSERT INTO log_fingerprints (run_id, fingerprint, rule_id, severity, template, mask_version, count,
                          first_seen, last_seen, sources, examples, notified_at)
                        VALUES (\(issue.runID), \(issue.fingerprint), \(issue.ruleID), \(issue.severity.rawValue), \(issue.template),
                          \(issue.maskVersion), \(issue.count), \(issue.firstSeen.timeIntervalSince1970),
                          \(issue.lastSeen.timeIntervalSince1970), \(sources)::jsonb, \(examples)::jsonb, \(notified))
                        """, logger: self.logger)
                } else {
                    try await conn.query(
                        """
                        UPDATE log_fingerprints SET rule_id = \(issue.ruleID), severity = \(issue.severity.rawValue),
                          template = \(issue.template), mask_version = \(issue.maskVersion), count = \(issue.count),
                          first_seen = \(issue.firstSeen.timeIntervalSince1970), last_seen = \(issue.lastSeen.timeIntervalSince1970),
                          sources = \(sources)::jsonb, examples = \(examples)::jsonb, notified_at = \(notified)
                        WHERE run_id = \(issue.runID) AND fingerprint = \(issue.fingerprint)
                        """, logger: self.logger)
                }
            }
            result.notify = fold.notify
            return result
        }
    }

    public func logIssues(runID: String, limit: Int) async throws -> [LogIssue] {
        try await read { conn in
            try await Self.logIssues(
                conn.query(
                    """
                    SELECT \(unescaped: Self.fingerprintColumns) FROM log_fingerprints WHERE run_id = \(runID)
                    ORDER BY count DESC, CASE severity WHEN 'critical' THEN 0 WHEN 'high' THEN 1 WHEN 'medium' THEN 2 ELSE 3 END,
                      first_seen, fingerprint
                    LIMIT \(limit)
                    """, logger: self.logger))
        }
    }

    public func logLines(_ q: LogLineQuery) async throws -> [LogEntry] {
        var sql = PostgresSQL("SELECT id, run_id, at, level, source, message, fingerprint FROM log_lines WHERE run_id = ")
        sql.append(sql.bind(q.runID))
        if let s = q.source { sql.append(" AND source = \(sql.bind(s))") }
        if let levels = q.levels, !levels.isEmpty { sql.append(" AND level = ANY(\(sql.bind(levels)))") }
        if let since = q.since { sql.append(" AND at >= \(sql.bind(since.timeIntervalSince1970))") }
        if let after = q.afterID {
            sql.append(" AND id > \(sql.bind(after)) ORDER BY id LIMIT \(sql.bind(q.limit))")
        } else {
            if let before = q.beforeID { sql.append(" AND id < \(sql.bind(before))") }
            sql.append(" ORDER BY id DESC LIMIT \(sql.bind(q.limit))")
        }
        let statement = sql
        return try await read { conn in
            var out: [LogEntry] = []
            for try await (id, run, at, level, source, message, fingerprint) in try await conn.query(
                statement.query, logger: self.logger
            ).decode((Int64, String, Double, String, String, String, String?).self) {
                out.append(
                    LogEntry(
                        id: id, runID: run, at: Date(timeIntervalSince1970: at), level: level, source: source, message: message,
                        fingerprint: fingerprint))
            }
            return out
        }
    }

    public func addLogTokens(runID: String, tokens: Int) async throws -> Int {
        try await read { conn in
            try await self.int(
                conn,
                """
                WITH u AS (UPDATE log_runs SET tokens_used = tokens_used + \(max(0, tokens)) WHERE id = \(runID) RETURNING tokens_used)
                SELECT tokens_used FROM u
                """)
        }
    }

    /// Lines deleted per transaction, so pruning never holds writers up for long.
    static let logPruneBatch = 5000

    public func pruneLogs(before cutoff: Date, maxBytes: Int) async throws -> LogPruneResult {
        var result = LogPruneResult()
        let c = cutoff.timeIntervalSince1970
        while true {
            let n = try await read { conn in
                try await self.int(
                    conn,
                    """
                    WITH d AS (DELETE FROM log_lines WHERE id IN (
                      SELECT id FROM log_lines WHERE received_at < \(c) ORDER BY id LIMIT \(Self.logPruneBatch)) RETURNING 1)
                    SELECT COUNT(*) FROM d
                    """)
            }
            result.lines += n
            if n < Self.logPruneBatch { break }
        }
        var total = try await read { conn in
            try await self.int(conn, "SELECT COALESCE(SUM(bytes), 0)::bigint FROM log_lines")
        }
        while total > maxBytes {
            let excess = total - maxBytes
            let (n, freed) = try await transaction { conn -> (Int, Int) in
                // The oldest lines, only as many as free the excess (at most a batch at a time).
                var freed = 0
                var last: Int64?
                for try await (id, bytes) in try await conn.query(
                    "SELECT id, bytes FROM log_lines ORDER BY id LIMIT \(Self.logPruneBatch)", logger: self.logger
                ).decode((Int64, Int).self) {
                    // Every row is read (the sequence must be drained); those past the excess are left.
                    guard freed < excess else { continue }
                    freed += bytes
                    last = id
                }
                guard let last else { return (0, 0) }
                let n = try await self.int(
                    conn, "WITH d AS (DELETE FROM log_lines WHERE id <= \(last) RETURNING 1) SELECT COUNT(*) FROM d")
                return (n, freed)
            }
            if n == 0 { break }
            result.lines += n
            total -= freed
        }
        let (fps, runs) = try await transaction { conn -> (Int, Int) in
            let fps = try await self.int(
                conn, "WITH d AS (DELETE FROM log_fingerprints WHERE last_seen < \(c) RETURNING 1) SELECT COUNT(*) FROM d")
            let runs = try await self.int(
                conn,
                """
                WITH d AS (
                  DELETE FROM log_runs WHERE created_at < \(c)
                    AND id NOT IN (SELECT id FROM log_runs ORDER BY created_at DESC, id DESC LIMIT 1)
                    AND NOT EXISTS (SELECT 1 FROM log_lines WHERE log_lines.run_id = log_runs.id)
                    AND NOT EXISTS (SELECT 1 FROM log_fingerprints f WHERE f.run_id = log_runs.id)
                  RETURNING 1)
                SELECT COUNT(*) FROM d
                """)
            return (fps, runs)
        }
        result.fingerprints = fps
        result.runs = runs
        return result
    }
}
