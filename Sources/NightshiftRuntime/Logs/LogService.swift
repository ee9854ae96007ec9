import Foundation
import Logging
import NightshiftCore
import NightshiftStore
import ServiceLifecycle

/// The log room (issue 13): ingests lines (from the API and from agents' output through the
/// tap), classifies them, stores them with their fingerprints in one transaction, sends the
/// notifications that transaction marked due, feeds live tails, and prunes by TTL and size.
public final class LogService: Service, Sendable {
    public struct Configuration: Sendable {
        /// Time between prune passes, seconds.
        public var pruneInterval: Double = 60
        /// Lines are kept this long, seconds (`logs.ttl`).
        public var ttl: Double
        /// Bytes of messages kept at most (`logs.store_max_bytes`).
        public var maxBytes: Int
        /// When a fingerprint notifies (`logs.notify_count`, `logs.debounce`).
        public var policy: LogNotifyPolicy
        /// Raw lines are cut past this many characters (`logs.raw_width`).
        public var rawWidth: Int
        /// Lines scanned at most by one grep.
        public var grepScanLimit = 200_000

        public init(_ logs: NightshiftConfig.Logs) {
            ttl = logs.ttl
            maxBytes = logs.storeMaxBytes
            policy = LogNotifyPolicy(count: logs.notifyCount, debounce: logs.debounce)
            rawWidth = logs.rawWidth
        }
    }

    /// What one ingest stored.
    public struct IngestResult: Codable, Sendable, Equatable {
        public var accepted: Int
        public var rejected: Int
        public var runID: String
        public var rejections: [LogIngestParser.Rejection]
        enum CodingKeys: String, CodingKey {
            case accepted, rejected, rejections
            case runID = "run_id"
        }
    }

    public let store: any LogStore
    public let configuration: Configuration
    let rules: LogRuleSet
    let notifier: Notifier?
    let tap: TaskLineTap?
    public let tail = LogTailBus()
    /// The daemon's run: task output without a run goes here, and it exists from the start.
    let defaultRun: String?
    let now: @Sendable () -> Date
    let clock: any Clock<Duration>
    let logger: Logger

    public init(
        store: any LogStore, config: NightshiftConfig.Logs, notifier: Notifier?, tap: TaskLineTap?, defaultRun: String?,
        logger: Logger, now: @escaping @Sendable () -> Date = { Date() }, clock: any Clock<Duration> = ContinuousClock()
    ) {
        self.store = store
        self.configuration = Configuration(config)
        var configured: [LogRule] = []
        for r in config.rules {
            // Config validation already compiled each pattern.
            if case .success(let rule) = LogRule.regex(id: r.id, severity: r.severity, pattern: r.pattern) {
                configured.append(rule)
            }
        }
        self.rules = LogRuleSet(configured: configured)
        self.notifier = notifier
        self.tap = tap
        self.defaultRun = defaultRun
        self.logger = logger
        self.now = now
        self.clock = clock
    }

    /// The daemon's wiring: its store, notifier, tap and run.
    public convenience init(env: ServiceEnvironment, store: any LogStore, notifier: Notifier?) {
        self.init(
            store: store, config: env.config.logs, notifier: notifier, tap: env.logTap, defaultRun: env.run?.paths.id,
            logger: env.logs.logger("api"), now: env.now, clock: env.clock)
    }

    // MARK: - The service

    public func run() async throws {
        if let defaultRun { _ = try? await store.ensureLogRun(defaultRun, now: now()) }
        await withDiscardingTaskGroup { group in
            group.addTask { await self.drainTapUntilShutdown() }
            group.addTask {
                await runPeriodically(
                    every: self.configuration.pruneInterval, on: self.clock, logger: self.logger, what: "log prune"
                ) {
                    _ = try await self.prune()
                }
            }
        }
        // What agents printed during the drain is stored too.
        _ = try? await drainTap()
        tail.finishAll()
    }

    func drainTapUntilShutdown() async {
        guard let tap else { return }
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            await cancelWhenGracefulShutdown { await tap.wake.wait() }
            do { _ = try await drainTap() } catch { logger.error("storing agent output as logs failed: \(error)") }
        }
    }

    /// Stores what the tap holds; returns the lines stored. Tests call it directly.
    @discardableResult
    public func drainTap() async throws -> Int {
        guard let tap else { return 0 }
        let (batches, dropped) = tap.drain()
        if dropped > 0 { logger.warning("dropped \(dropped) agent output line(s): the log store fell behind") }
        var stored = 0
        let at = now()
        var incoming: [IncomingLogLine] = []
        var byRun: [String?: [IncomingLogLine]] = [:]
        for b in batches {
            let lines = b.lines.map {
                IncomingLogLine(
                    runID: b.runID, at: at, level: LogIngestParser.inferLevel($0), source: "task:\(b.taskID)", message: $0)
            }
            byRun[b.runID, default: []].append(contentsOf: lines)
        }
        for (run, lines) in byRun {
            incoming = lines
            let runID = try await resolveForWriting(run ?? defaultRun)
            stored += try await store(incoming, runID: runID).lines.count
        }
        return stored
    }

    /// One prune pass: TTL, then the size cap.
    @discardableResult
    public func prune() async throws -> LogPruneResult {
        let r = try await store.pruneLogs(before: now().addingTimeInterval(-configuration.ttl), maxBytes: configuration.maxBytes)
        if r.lines > 0 { logger.info("pruned \(r.lines) log line(s), \(r.fingerprints) fingerprint(s), \(r.runs) run(s)") }
        return r
    }

    // MARK: - Runs

    /// The run a read names: `latest` (or nothing) is the newest run; an unknown id is 404.
    public func resolveForReading(_ given: String?) async throws -> LogRun {
        let text = given ?? LogRun.latest
        if text == LogRun.latest {
            guard let run = try await store.latestLogRun() else {
                throw LogError(.notFound, "no log run yet: POST /api/logs/clear starts one, and ingesting starts one too")
            }
            return run
        }
        guard RunID.isValid(text) else { throw LogError(.invalid, field: "run", RunID.problem(text) ?? "bad run id") }
        guard let run = try await store.logRun(text) else { throw LogError(.notFound, "no log run \(text)") }
        return run
    }

    /// The run a write names: `latest` (or nothing) is the newest run, else the daemon's, else
    /// a new one; a well-formed unknown id is created.
    public func resolveForWriting(_ given: String?) async throws -> String {
        let text = given ?? LogRun.latest
        if text == LogRun.latest {
            if let run = try await store.latestLogRun() { return run.id }
            if let defaultRun { return try await store.ensureLogRun(defaultRun, now: now()).id }
            return try await store.startLogRun(callbackURL: nil, now: now()).id
        }
        guard RunID.isValid(text) else { throw LogError(.invalid, field: "run", RunID.problem(text) ?? "bad run id") }
        return text
    }

    /// `POST /api/logs/clear`: a fresh run, the new `latest`.
    public func clear(callbackURL: String?) async throws -> LogRun {
        if let url = callbackURL {
            guard url.hasPrefix("http://") || url.hasPrefix("https://"), !url.contains(where: \.isWhitespace),
                let u = URL(string: url), let scheme = u.scheme, ["http", "https"].contains(scheme), u.host?.isEmpty == false
            else {
                throw LogError(.invalid, field: "callback_url", "must be an http:// or https:// URL")
            }
        }
        return try await store.startLogRun(callbackURL: callbackURL, now: now())
    }

    // MARK: - Ingest

    /// Stores parsed lines; those without a run go to `run` (resolved as for writing).
    public func ingest(_ parsed: LogIngestParser.Parsed, run: String?) async throws -> IngestResult {
        let fallback = try await resolveForWriting(run)
        var byRun: [String: [IncomingLogLine]] = [:]
        for l in parsed.lines { byRun[l.runID ?? fallback, default: []].append(l) }
        var accepted = 0
        for (runID, lines) in byRun.sorted(by: { $0.key < $1.key }) {
            accepted += try await store(lines, runID: runID).lines.count
        }
        return IngestResult(accepted: accepted, rejected: parsed.rejected, runID: fallback, rejections: parsed.rejections)
    }

    /// Classifies, stores, notifies, publishes.
    func store(_ lines: [IncomingLogLine], runID: String) async throws -> LogAppendResult {
        let at = now()
        let classified = lines.map { l in
            ClassifiedLogLine(
                entry: LogEntry(runID: runID, at: l.at ?? at, level: l.level, source: l.source, message: l.message),
                classification: rules.classify(message: l.message, level: l.level))
        }
        let result = try await store.appendLogs(classified, policy: configuration.policy, now: at)
        tail.publish(result.lines)
        if !result.notify.isEmpty { await notify(result.notify) }
        return result
    }

    func notify(_ issues: [LogIssue]) async {
        guard let notifier else { return }
        var callbacks: [String: String?] = [:]
        for issue in issues {
            if callbacks[issue.runID] == nil {
                callbacks[issue.runID] = .some((try? await store.logRun(issue.runID))?.callbackURL)
            }
            let callback = callbacks[issue.runID] ?? nil
            let text =
                "log issue \(issue.fingerprint) [\(issue.ruleID), \(issue.severity.rawValue)] seen \(issue.count)× in \(issue.runID): \(issue.template)"
            notifier.send(
                Alert(event: "log_issue", at: issue.notifiedAt ?? now(), text: text, logIssue: issue),
                alsoTo: callback.map { [$0] } ?? [])
        }
    }

    // MARK: - Reading

    public func issues(run: String?, limit: Int = 200) async throws -> (LogRun, [LogIssue]) {
        let r = try await resolveForReading(run)
        return (r, try await store.logIssues(runID: r.id, limit: limit))
    }

    /// A compiled `grep`, or a 422 naming the pattern.
    public static func grep(_ pattern: String?) throws -> NSRegularExpressionBox? {
        guard let pattern, !pattern.isEmpty else { return nil }
        switch NSRegularExpressionBox.compile(pattern) {
        case .success(let box): return box
        case .failure(let e): throw LogError(.invalid, field: "grep", e.description)
        }
    }

    /// The filters of `raw` and `tail`.
    public struct Filter: Sendable {
        public var source: String?
        public var levels: [String]?
        public var grep: NSRegularExpressionBox?
        public var since: Date?
        public init(source: String? = nil, levels: [String]? = nil, grep: NSRegularExpressionBox? = nil, since: Date? = nil) {
            self.source = source
            self.levels = levels
            self.grep = grep
            self.since = since
        }

        public func matches(_ e: LogEntry) -> Bool {
            if let source, e.source != source { return false }
            if let levels, !levels.contains(e.level) { return false }
            if let since, e.at < since { return false }
            if let grep, grep.firstMatch(in: e.message) == nil { return false }
            return true
        }
    }

    /// The newest `limit` lines of a run that match, oldest first.
    public func raw(runID: String, filter: Filter, limit: Int) async throws -> [LogEntry] {
        var out: [LogEntry] = []
        var before: Int64? = nil
        var scanned = 0
        let page = filter.grep == nil ? limit : 1000
        while out.count < limit && scanned < configuration.grepScanLimit {
            let batch = try await store.logLines(
                LogLineQuery(
                    runID: runID, source: filter.source, levels: filter.levels, since: filter.since, beforeID: before,
                    limit: page))
            scanned += batch.count
            for e in batch where filter.grep.map({ $0.firstMatch(in: e.message) != nil }) ?? true {
                out.append(e)
                if out.count == limit { break }
            }
            guard batch.count == page, let last = batch.last else { break }
            before = last.id
        }
        return out.reversed()
    }

    /// One line as `raw` and the tail print it, cut at `width` characters with a marker.
    public static func format(_ e: LogEntry, width: Int) -> String {
        let text = "\(Timestamp.format(e.at)) \(e.level) \(e.source) \(e.message)"
            .replacingOccurrences(of: "\n", with: "\\n")
        guard text.count > width else { return text }
        return String(text.prefix(width)) + " …[cut \(text.count - width)]"
    }
}
