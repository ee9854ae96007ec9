import Foundation

/// A run is one night of work (DESIGN.md "Runs"): `nightshift run` creates one, the watchdog
/// one per start that every `serve` it restarts joins, a plain `serve` one per start. Tasks
/// record the run that created them, events the run they happened in.
public enum RunID {
    /// `run_YYYYMMDD_HHMMSS_xxxx` in UTC, `xxxx` four random lowercase letters and digits.
    public static func generate(now: Date = Date()) -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789")
        let suffix = String((0..<4).map { _ in alphabet.randomElement()! })
        return "run_\(stamp(now))_\(suffix)"
    }

    /// `YYYYMMDD_HHMMSS` in UTC.
    public static func stamp(_ date: Date) -> String {
        let c = Calendar.utc.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        func two(_ v: Int?) -> String { String(format: "%02d", v ?? 0) }
        return String(format: "%04d", c.year ?? 0) + two(c.month) + two(c.day) + "_" + two(c.hour) + two(c.minute)
            + two(c.second)
    }

    /// Whether `text` has the form of a run id (safe as a directory name).
    public static func isValid(_ text: String) -> Bool {
        let parts = text.split(separator: "_", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == "run", parts[1].count == 8, parts[2].count == 6, parts[3].count == 4 else {
            return false
        }
        let digits = parts[1].allSatisfy(\.isASCIIDigit) && parts[2].allSatisfy(\.isASCIIDigit)
        return digits && parts[3].allSatisfy { $0.isASCIIDigit || ("a"..."z").contains($0) }
    }

    /// Why `text` is not a run id, for a one-line error.
    public static func problem(_ text: String) -> String? {
        isValid(text) ? nil : "a run id looks like run_20261201_220000_a1b2 (run_YYYYMMDD_HHMMSS_xxxx), got \"\(text)\""
    }
}

extension Character {
    var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}

extension Calendar {
    static let utc: Calendar = {
        var c = Calendar(identifier: .gregorian)
        c.timeZone = TimeZone(identifier: "UTC")!
        return c
    }()
}

/// How a run was started.
public enum RunMode: String, Codable, Sendable, CaseIterable {
    /// `nightshift run --smoke`: every task a dry run (or its executor's smoke command).
    case smoke
    /// `nightshift run --full`: the real agents, with a budget.
    case full
    /// `serve` or the watchdog: runs until stopped.
    case daemon
}

/// Where a run stands (`RUN_STATE` of the session report).
public enum RunState: String, Codable, Sendable, CaseIterable {
    case queued = "QUEUED"
    case running = "RUNNING"
    case success = "SUCCESS"
    case fail = "FAIL"
    /// Stopped by SIGINT/SIGTERM before it ended by itself.
    case interrupted = "INTERRUPTED"
}

/// `runs/<run_id>/run.json`: what a run is, written at its start and again at its end.
public struct RunInfo: Codable, Sendable, Equatable {
    public var id: String
    public var mode: RunMode
    /// `dev`, `stage` or `prod`.
    public var profile: String
    public var budgetUSD: Double?
    public var dryRun: Bool
    public var offline: Bool
    /// The workspace the agents work on (or the daemon's directory).
    public var target: String
    public var backlog: String
    public var gitSHA: String
    /// sha256 of the config file (or of `defaults` when none).
    public var configDigest: String
    public var host: String
    public var startedAt: Date
    public var endedAt: Date?
    public var state: RunState
    /// Daemon starts that joined the run (a watchdog restart adds one).
    public var starts: Int

    enum CodingKeys: String, CodingKey {
        case id, mode, profile, offline, target, backlog, host, state, starts
        case budgetUSD = "budget_usd"
        case dryRun = "dry_run"
        case gitSHA = "git_sha"
        case configDigest = "config_digest"
        case startedAt = "started_at"
        case endedAt = "ended_at"
    }

    public init(
        id: String, mode: RunMode, profile: String = "dev", budgetUSD: Double? = nil, dryRun: Bool = false,
        offline: Bool = false, target: String, backlog: String, gitSHA: String, configDigest: String, host: String,
        startedAt: Date, state: RunState = .running, starts: Int = 0
    ) {
        self.id = id
        self.mode = mode
        self.profile = profile
        self.budgetUSD = budgetUSD
        self.dryRun = dryRun
        self.offline = offline
        self.target = target
        self.backlog = backlog
        self.gitSHA = gitSHA
        self.configDigest = configDigest
        self.host = host
        self.startedAt = startedAt
        self.state = state
        self.starts = starts
    }

    /// Encode every key, nulls included (`ended_at` while it runs).
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(mode, forKey: .mode)
        try c.encode(profile, forKey: .profile)
        try c.encode(budgetUSD, forKey: .budgetUSD)
        try c.encode(dryRun, forKey: .dryRun)
        try c.encode(offline, forKey: .offline)
        try c.encode(target, forKey: .target)
        try c.encode(backlog, forKey: .backlog)
        try c.encode(gitSHA, forKey: .gitSHA)
        try c.encode(configDigest, forKey: .configDigest)
        try c.encode(host, forKey: .host)
        try c.encode(startedAt, forKey: .startedAt)
        try c.encode(endedAt, forKey: .endedAt)
        try c.encode(state, forKey: .state)
        try c.encode(starts, forKey: .starts)
    }
}
