import Foundation

/// The start gate (`nightshift gate`): is it safe to start work? Each check is built from a
/// snapshot (git's porcelain output, an HTTP status, a list of issues, an exit status) by a pure
/// function here; `evaluate` applies the time-bounded waivers of `config/start_gate_waivers.json`.
/// The command gathers the snapshots; nothing here does I/O.
public enum StartGate {
    /// The checks the gate knows, in the order it runs them.
    public static let checkNames = [
        "worktree_clean", "daemon_ready", "no_fatal_issues", "no_critical_monitor_issues", "ci_status",
    ]

    /// One check's result before waivers.
    public struct Check: Sendable, Equatable {
        public var name: String
        public var ok: Bool
        public var detail: String
        /// What to do about a failure.
        public var remedy: String
        /// Not run (e.g. no CI command configured); counts as passing.
        public var skipped: Bool

        public init(name: String, ok: Bool, detail: String, remedy: String = "", skipped: Bool = false) {
            self.name = name
            self.ok = ok
            self.detail = detail
            self.remedy = remedy
            self.skipped = skipped
        }
    }

    /// A time-bounded waiver: turns the named failing check into a warning until `expiresAt`.
    public struct Waiver: Codable, Sendable, Equatable {
        public var check: String
        public var owner: String
        public var reason: String
        public var expiresAt: Date
        /// When set, only a failure whose detail contains this text is waived.
        public var match: String?

        enum CodingKeys: String, CodingKey {
            case check, owner, reason, match
            case expiresAt = "expires_at"
        }

        public init(check: String, owner: String, reason: String, expiresAt: Date, match: String? = nil) {
            self.check = check
            self.owner = owner
            self.reason = reason
            self.expiresAt = expiresAt
            self.match = match
        }
    }

    /// A waiver that is ignored, and why (unreadable file, missing field, expired, unknown check).
    public struct WaiverProblem: Codable, Sendable, Equatable {
        /// Position in the `waivers` list; nil for a problem with the whole file.
        public var index: Int?
        public var check: String?
        public var owner: String?
        public var problem: String

        public init(index: Int?, check: String? = nil, owner: String? = nil, problem: String) {
            self.index = index
            self.check = check
            self.owner = owner
            self.problem = problem
        }
    }

    public enum Status: String, Codable, Sendable {
        case pass, fail, waived, skipped
    }

    /// A check after waivers.
    public struct Outcome: Codable, Sendable, Equatable {
        public var name: String
        public var ok: Bool
        public var status: Status
        public var detail: String
        public var remedy: String
        public var waiver: Waiver?
    }

    public struct Report: Codable, Sendable, Equatable {
        public var passed: Bool
        public var checkedAt: Date
        public var checks: [Outcome]
        public var waiverProblems: [WaiverProblem]

        enum CodingKeys: String, CodingKey {
            case passed, checks
            case checkedAt = "checked_at"
            case waiverProblems = "waiver_problems"
        }

        public var failing: [Outcome] { checks.filter { $0.status == .fail } }
        public var waived: [Outcome] { checks.filter { $0.status == .waived } }
    }

    // MARK: - Waivers

    /// Reads a waiver file (`{"waivers": [...]}`). A missing file has no waivers; an unreadable
    /// one and every incomplete entry are problems, and those waivers are ignored.
    public static func parseWaivers(
        _ data: Data?, file: String = "config/start_gate_waivers.json"
    ) -> (waivers: [Waiver], problems: [WaiverProblem]) {
        guard let data else { return ([], []) }
        guard let root = try? JSONDecoder().decode(JSONValue.self, from: data), let object = root.objectValue else {
            return (
                [],
                [
                    WaiverProblem(
                        index: nil,
                        problem: "\(file) is not a JSON object like {\"waivers\": [...]}; every waiver in it is ignored")
                ]
            )
        }
        guard let list = object["waivers"]?.arrayValue else {
            if object["waivers"] == nil { return ([], []) }
            return (
                [], [WaiverProblem(index: nil, problem: "\(file): \"waivers\" must be a list; every waiver in it is ignored")]
            )
        }
        var waivers: [Waiver] = []
        var problems: [WaiverProblem] = []
        for (i, entry) in list.enumerated() {
            guard let w = entry.objectValue else {
                problems.append(WaiverProblem(index: i, problem: "not an object; ignored"))
                continue
            }
            func text(_ key: String) -> String? {
                guard let s = w[key]?.stringValue?.trimmingCharacters(in: .whitespacesAndNewlines), !s.isEmpty else { return nil }
                return s
            }
            let check = text("check")
            let owner = text("owner")
            let missing = ["check", "owner", "reason", "expires_at"].filter { text($0) == nil }
            if !missing.isEmpty {
                problems.append(
                    WaiverProblem(
                        index: i, check: check, owner: owner,
                        problem: "incomplete: missing \(missing.joined(separator: ", ")); ignored"))
                continue
            }
            guard let expires = Timestamp.parse(text("expires_at")!) else {
                problems.append(
                    WaiverProblem(
                        index: i, check: check, owner: owner,
                        problem:
                            "expires_at \"\(text("expires_at")!)\" is not an RFC 3339 UTC time like 2030-01-31T18:00:00Z; ignored"
                    ))
                continue
            }
            if let m = w["match"], m != .null, m.stringValue == nil {
                problems.append(WaiverProblem(index: i, check: check, owner: owner, problem: "match must be text; ignored"))
                continue
            }
            let match = w["match"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }
            waivers.append(Waiver(check: check!, owner: owner!, reason: text("reason")!, expiresAt: expires, match: match))
        }
        return (waivers, problems)
    }

    // MARK: - Evaluation

    /// Applies the waivers to the checks. Expired waivers and those naming no check are
    /// reported and ignored; a failing check with a live waiver (whose `match`, if any, is in
    /// its detail) becomes `waived`. The gate passes when nothing is left failing.
    public static func evaluate(
        _ checks: [Check], waivers: [Waiver], problems: [WaiverProblem] = [], now: Date,
        knownChecks: [String] = checkNames
    ) -> Report {
        var problems = problems
        var live: [Waiver] = []
        for (i, w) in waivers.enumerated() {
            if !knownChecks.contains(w.check) {
                problems.append(
                    WaiverProblem(
                        index: i, check: w.check, owner: w.owner,
                        problem: "names no check (known: \(knownChecks.joined(separator: ", "))); ignored"))
            } else if w.expiresAt <= now {
                problems.append(
                    WaiverProblem(
                        index: i, check: w.check, owner: w.owner, problem: "expired at \(Timestamp.format(w.expiresAt)); ignored")
                )
            } else {
                live.append(w)
            }
        }
        let outcomes = checks.map { c -> Outcome in
            if c.skipped { return Outcome(name: c.name, ok: true, status: .skipped, detail: c.detail, remedy: c.remedy) }
            if c.ok { return Outcome(name: c.name, ok: true, status: .pass, detail: c.detail, remedy: "") }
            if let w = live.first(where: { $0.check == c.name && ($0.match.map { c.detail.contains($0) } ?? true) }) {
                return Outcome(name: c.name, ok: false, status: .waived, detail: c.detail, remedy: c.remedy, waiver: w)
            }
            return Outcome(name: c.name, ok: false, status: .fail, detail: c.detail, remedy: c.remedy)
        }
        return Report(
            passed: !outcomes.contains { $0.status == .fail }, checkedAt: now, checks: outcomes, waiverProblems: problems)
    }

    // MARK: - Checks from snapshots

    /// `worktree_clean` from `git status --porcelain` (its exit status and output). Paths in
    /// `ignoring` (repository-relative files, or directories ending in `/`) do not count: the
    /// configured backlog is meant to be edited before a start.
    public static func worktreeClean(
        repo: String, exitStatus: Int32, porcelain: String, error: String = "", ignoring: [String] = []
    ) -> Check {
        let name = "worktree_clean"
        guard exitStatus == 0 else {
            let why = error.trimmingCharacters(in: .whitespacesAndNewlines)
            return Check(
                name: name, ok: false, detail: "git status failed in \(repo): \(why.isEmpty ? "exit status \(exitStatus)" : why)",
                remedy: "run the gate inside a git work tree, or point --repo at one")
        }
        func ignored(_ path: String) -> Bool {
            let unquoted =
                path.hasPrefix("\"") && path.hasSuffix("\"") && path.count >= 2 ? String(path.dropFirst().dropLast()) : path
            return ignoring.contains { $0.hasSuffix("/") ? unquoted.hasPrefix($0) || unquoted + "/" == $0 : unquoted == $0 }
        }
        var skipped = 0
        let files = porcelain.split(separator: "\n").map { line -> String in
            // "XY path" or "XY old -> new"
            let s = String(line)
            return s.count > 3 ? String(s.dropFirst(3)) : s.trimmingCharacters(in: .whitespaces)
        }.filter { !$0.isEmpty }.filter { path in
            let target = path.components(separatedBy: " -> ").last ?? path
            if ignored(target) {
                skipped += 1
                return false
            }
            return true
        }
        let note = skipped > 0 ? " (the backlog's own changes do not count)" : ""
        guard !files.isEmpty else { return Check(name: name, ok: true, detail: "no uncommitted changes in \(repo)\(note)") }
        let shown = files.prefix(10).joined(separator: ", ") + (files.count > 10 ? " and \(files.count - 10) more" : "")
        return Check(
            name: name, ok: false, detail: "\(files.count) uncommitted change(s) in \(repo): \(shown)\(note)",
            remedy: "commit or stash them (git -C \(repo) status shows them), or remove stray files")
    }

    /// The state dir's `daemon.json`: its path, the pid and URL it names, and whether that pid runs.
    public struct Announced: Sendable, Equatable {
        public var path: String
        public var pid: Int32
        public var url: String
        public var alive: Bool
        public init(path: String, pid: Int32, url: String, alive: Bool) {
            self.path = path
            self.pid = pid
            self.url = url
            self.alive = alive
        }
    }

    /// What the gate knows about a daemon before judging `daemon_ready`.
    public struct DaemonFacts: Sendable, Equatable {
        public var announcement: Announced?
        /// Why `daemon.json` could not be read, when it exists but is damaged.
        public var announcementError: String?
        /// The URL that was probed (the announced one, or the one given), and what `/api/ready` answered.
        public var url: String
        public var status: Int?
        public var error: String?
        /// The URL was named explicitly (`--url`, `NIGHTSHIFT_URL`).
        public var explicitURL: Bool

        public init(
            announcement: Announced? = nil, announcementError: String? = nil, url: String, status: Int?, error: String?,
            explicitURL: Bool = false
        ) {
            self.announcement = announcement
            self.announcementError = announcementError
            self.url = url
            self.status = status
            self.error = error
            self.explicitURL = explicitURL
        }
    }

    /// `daemon_ready`. The gate runs before a start, so no daemon at all passes (unless
    /// `gate.require_daemon`); a daemon that runs must answer `/api/ready` with 200; a
    /// `daemon.json` left by a daemon that died fails and names the file and the pid.
    public static func daemonReady(_ f: DaemonFacts, required: Bool) -> Check {
        let name = "daemon_ready"
        let start = "start it (make run, or scripts/run_overnight_pipeline.sh) and check its log, e.g. tail logs/nightshift.log"
        if let why = f.announcementError {
            return Check(
                name: name, ok: false, detail: why, remedy: "remove the damaged file once no daemon runs on this state dir")
        }
        if let a = f.announcement, !a.alive {
            return Check(
                name: name, ok: false,
                detail:
                    "\(a.path) names pid \(a.pid) (\(a.url)) but no such process runs: a daemon died without stopping cleanly",
                remedy: "start it again (its rescuer requeues what it was running), or delete \(a.path) once you know it is gone")
        }
        let running = f.announcement != nil
        guard let status = f.status else {
            if running {
                return Check(
                    name: name, ok: false,
                    detail:
                        "the daemon (pid \(f.announcement!.pid)) runs but \(f.url) does not answer: \(f.error ?? "no answer")",
                    remedy: "it may still be starting; if it stays so, read logs/nightshift.log and restart it")
            }
            if required {
                return Check(
                    name: name, ok: false,
                    detail: "cannot reach the daemon at \(f.url): \(f.error ?? "no answer") (gate.require_daemon is true)",
                    remedy: start)
            }
            return Check(
                name: name, ok: true,
                detail: "no daemon running\(f.explicitURL ? " at \(f.url)" : "") (none is needed before a start)")
        }
        guard status == 200 else {
            return Check(
                name: name, ok: false, detail: "\(f.url)/api/ready answered \(status) (not ready)",
                remedy: "wait for it to finish starting; if it stays unready, read logs/nightshift.log and restart it")
        }
        return Check(name: name, ok: true, detail: "\(f.url) is ready")
    }

    /// `no_fatal_issues` from the fatal issues list (`source` says where it came from); nil
    /// means the list could not be read.
    public static func noFatalIssues(_ issues: [JSONValue]?, source: String) -> Check {
        let name = "no_fatal_issues"
        guard let issues else {
            return Check(
                name: name, ok: false, detail: "cannot read fatal issues from \(source)",
                remedy: "start the daemon, or fix the file's permissions")
        }
        guard !issues.isEmpty else { return Check(name: name, ok: true, detail: "none (\(source))") }
        let shown = issues.prefix(5).map { i -> String in
            let o = i.objectValue ?? [:]
            let condition = o["condition"]?.stringValue ?? o["reason"]?.stringValue ?? "?"
            let detail = o["detail"]?.stringValue ?? o["reason"]?.stringValue ?? ""
            return detail.isEmpty ? condition : "\(condition): \(detail)"
        }
        return Check(
            name: name, ok: false, detail: "\(issues.count) fatal issue(s) (\(source)): \(shown.joined(separator: "; "))",
            remedy:
                "fix the cause (docs/RUNBOOK.md, \"Recovering from a fatal issue\"), then clear them: nightshift fatal --clear")
    }

    /// Severities that block the gate.
    public static let blockingSeverities: Set<String> = ["critical", "high"]

    /// `no_critical_monitor_issues`: no open monitor issue with severity critical or high.
    public static func noCriticalMonitorIssues(_ issues: [JSONValue]?, source: String) -> Check {
        let name = "no_critical_monitor_issues"
        guard let issues else {
            return Check(
                name: name, ok: false, detail: "cannot read monitor issues from \(source)",
                remedy: "start the daemon, or fix the file's permissions")
        }
        let blocking = issues.compactMap(\.objectValue).filter { o in
            (o["resolved_at"] ?? .null) == .null && blockingSeverities.contains(o["severity"]?.stringValue?.lowercased() ?? "")
        }
        guard !blocking.isEmpty else {
            return Check(
                name: name, ok: true, detail: "no open critical or high issue (\(issues.count) other issue(s), \(source))")
        }
        let shown = blocking.prefix(5).map { o -> String in
            let id = o["id"]?.stringValue ?? "?"
            let sev = o["severity"]?.stringValue ?? "?"
            let what = [o["condition"]?.stringValue, o["subject"]?.stringValue].compactMap { $0 }.joined(separator: "/")
            let message = o["message"]?.stringValue ?? ""
            return "\(id) [\(sev)] \(what)\(message.isEmpty ? "" : ": \(message)")"
        }
        return Check(
            name: name, ok: false,
            detail: "\(blocking.count) open critical/high monitor issue(s) (\(source)): \(shown.joined(separator: "; "))",
            remedy:
                "fix what each issue's suggested_action says (GET /api/agent/monitor-issues); the monitor resolves an issue once its condition clears"
        )
    }

    /// `ci_status` from the configured command's exit status and output tail; `command` empty = skipped.
    public static func ciStatus(command: String, exitStatus: Int32?, outputTail: String, error: String? = nil) -> Check {
        let name = "ci_status"
        guard !command.isEmpty else { return Check(name: name, ok: true, detail: "no gate.ci_command configured", skipped: true) }
        guard let exitStatus else {
            return Check(
                name: name, ok: false, detail: "cannot run `\(command)`: \(error ?? "unknown error")",
                remedy: "fix gate.ci_command in the config")
        }
        guard exitStatus == 0 else {
            let tail = outputTail.trimmingCharacters(in: .whitespacesAndNewlines)
            return Check(
                name: name, ok: false,
                detail: "`\(command)` exited with status \(exitStatus)\(tail.isEmpty ? "" : "; output ends: \(tail)")",
                remedy: "run `\(command)` locally and fix what fails")
        }
        return Check(name: name, ok: true, detail: "`\(command)` passed")
    }
}
