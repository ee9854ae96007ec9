import Foundation
import NightshiftCore
import Testing

/// The start gate's judgement: checks built from snapshots, waivers parsed and applied.
@Suite("StartGate")
struct StartGateTests {
    static let now = Timestamp.parse("2030-01-15T12:00:00Z")!

    static func waivers(_ json: String) -> (waivers: [StartGate.Waiver], problems: [StartGate.WaiverProblem]) {
        StartGate.parseWaivers(Data(json.utf8))
    }

    // MARK: - Checks

    @Test("worktree_clean passes on empty porcelain and names each dirty file otherwise")
    func worktree() {
        #expect(StartGate.worktreeClean(repo: "/r", exitStatus: 0, porcelain: "").ok)
        let dirty = StartGate.worktreeClean(
            repo: "/r", exitStatus: 0, porcelain: " M Sources/a.swift\n?? notes.txt\nR  old.txt -> new.txt\n")
        #expect(!dirty.ok)
        #expect(dirty.detail.contains("3 uncommitted change(s)"))
        #expect(dirty.detail.contains("Sources/a.swift"))
        #expect(dirty.detail.contains("notes.txt"))
        #expect(dirty.detail.contains("old.txt -> new.txt"))
        #expect(!dirty.remedy.isEmpty)
        let many = StartGate.worktreeClean(
            repo: "/r", exitStatus: 0, porcelain: (1...14).map { "?? f\($0)" }.joined(separator: "\n"))
        #expect(many.detail.contains("and 4 more"))
        let notRepo = StartGate.worktreeClean(
            repo: "/tmp", exitStatus: 128, porcelain: "", error: "fatal: not a git repository\n")
        #expect(!notRepo.ok && notRepo.detail.contains("not a git repository"))
    }

    @Test("daemon_ready: no daemon passes before a start; a running one must be ready; a dead one's daemon.json fails")
    func daemon() {
        func check(_ f: StartGate.DaemonFacts, required: Bool = false) -> StartGate.Check {
            StartGate.daemonReady(f, required: required)
        }
        let alive = StartGate.Announced(path: "/s/daemon.json", pid: 4242, url: "http://h:1", alive: true)
        #expect(check(.init(announcement: alive, url: "http://h:1", status: 200, error: nil)).ok)
        #expect(!check(.init(announcement: alive, url: "http://h:1", status: 503, error: nil)).ok)
        let hung = check(.init(announcement: alive, url: "http://h:1", status: nil, error: "connection refused"))
        #expect(!hung.ok && hung.detail.contains("4242") && hung.detail.contains("connection refused"))

        let none = check(.init(url: "http://h:1", status: nil, error: "connection refused"))
        #expect(none.ok && !none.skipped && none.detail.contains("no daemon running"))
        let required = check(.init(url: "http://h:1", status: nil, error: "connection refused"), required: true)
        #expect(!required.ok && required.detail.contains("connection refused") && required.remedy.contains("make run"))

        var dead = alive
        dead.alive = false
        let leftover = check(.init(announcement: dead, url: "http://h:1", status: nil, error: "refused"))
        #expect(!leftover.ok && leftover.detail.contains("/s/daemon.json") && leftover.detail.contains("4242"))
        let damaged = check(
            .init(announcementError: "cannot read /s/daemon.json: bad", url: "http://h:1", status: nil, error: nil))
        #expect(!damaged.ok && damaged.detail.contains("/s/daemon.json"))
    }

    @Test("worktree_clean: the configured backlog file (or directory) does not count as a change")
    func backlogIgnored() {
        let porcelain = " M config/backlog.md\n"
        #expect(!StartGate.worktreeClean(repo: "/r", exitStatus: 0, porcelain: porcelain).ok)
        let clean = StartGate.worktreeClean(repo: "/r", exitStatus: 0, porcelain: porcelain, ignoring: ["config/backlog.md"])
        #expect(clean.ok && clean.detail.contains("backlog"))
        let other = StartGate.worktreeClean(
            repo: "/r", exitStatus: 0, porcelain: porcelain + "?? notes.txt\n", ignoring: ["config/backlog.md"])
        #expect(!other.ok && other.detail.contains("1 uncommitted") && other.detail.contains("notes.txt"))
        let dir = StartGate.worktreeClean(repo: "/r", exitStatus: 0, porcelain: "?? backlog/3-new.md\n", ignoring: ["backlog/"])
        #expect(dir.ok)
    }

    @Test("no_fatal_issues fails on any fatal issue, naming its condition")
    func fatal() {
        #expect(StartGate.noFatalIssues([], source: "f").ok)
        let issue = JSONValue.object(["condition": .string("crash_loop"), "detail": .string("started 5 times")])
        let c = StartGate.noFatalIssues([issue], source: "f")
        #expect(!c.ok && c.detail.contains("crash_loop: started 5 times"))
        #expect(!StartGate.noFatalIssues(nil, source: "f").ok)
    }

    @Test("no_critical_monitor_issues fails only on open critical or high issues")
    func monitor() {
        func issue(_ sev: String, resolved: Bool = false) -> JSONValue {
            .object([
                "id": .string("mi_\(sev)"), "condition": .string("c"), "subject": .string("s"), "severity": .string(sev),
                "message": .string("m"), "resolved_at": resolved ? .string("2030-01-01T00:00:00Z") : .null,
            ])
        }
        #expect(
            StartGate.noCriticalMonitorIssues([issue("low"), issue("medium"), issue("critical", resolved: true)], source: "x").ok)
        let c = StartGate.noCriticalMonitorIssues([issue("low"), issue("critical"), issue("HIGH")], source: "x")
        #expect(!c.ok)
        #expect(c.detail.contains("2 open critical/high"))
        #expect(c.detail.contains("mi_critical [critical] c/s: m"))
        #expect(!StartGate.noCriticalMonitorIssues(nil, source: "x").ok)
    }

    @Test("ci_status: skipped without a command, passes on 0, fails with the output's end")
    func ci() {
        #expect(StartGate.ciStatus(command: "", exitStatus: nil, outputTail: "").skipped)
        #expect(StartGate.ciStatus(command: "make test", exitStatus: 0, outputTail: "ok").ok)
        let failed = StartGate.ciStatus(command: "make test", exitStatus: 2, outputTail: "3 tests failed\n")
        #expect(!failed.ok && failed.detail.contains("status 2") && failed.detail.contains("3 tests failed"))
        #expect(!StartGate.ciStatus(command: "x", exitStatus: nil, outputTail: "", error: "no shell").ok)
    }

    // MARK: - Waivers

    @Test("the seed's waiver format parses; missing file means no waivers")
    func parse() {
        let (w, problems) = Self.waivers(
            """
            {"waivers": [{"check": "ci_status", "owner": "alice", "reason": "flaky runner, fix in #12",
                          "expires_at": "2030-01-20T00:00:00Z", "match": "status 2"}]}
            """)
        #expect(problems.isEmpty)
        #expect(
            w == [
                StartGate.Waiver(
                    check: "ci_status", owner: "alice", reason: "flaky runner, fix in #12",
                    expiresAt: Timestamp.parse("2030-01-20T00:00:00Z")!, match: "status 2")
            ])
        #expect(StartGate.parseWaivers(nil).waivers.isEmpty)
        #expect(Self.waivers(#"{"waivers": []}"#) == ([], []))
    }

    @Test("incomplete, malformed and unreadable waivers are reported and ignored")
    func badWaivers() {
        let (w, problems) = Self.waivers(
            """
            {"waivers": [
              {"check": "ci_status", "owner": "alice", "expires_at": "2030-01-20T00:00:00Z"},
              {"check": "ci_status", "owner": "bob", "reason": "r", "expires_at": "next tuesday"},
              {"check": "ci_status", "owner": "carol", "reason": "r", "expires_at": "2030-01-20T00:00:00Z", "match": 5},
              "nonsense",
              {"check": "ci_status", "owner": "dave", "reason": "r", "expires_at": "2030-01-20T00:00:00Z"}
            ]}
            """)
        #expect(w.map(\.owner) == ["dave"])
        #expect(problems.map(\.index) == [0, 1, 2, 3])
        #expect(problems[0].problem.contains("missing reason"))
        #expect(problems[1].problem.contains("next tuesday"))
        #expect(problems[2].problem.contains("match"))
        let broken = Self.waivers("{not json")
        #expect(broken.waivers.isEmpty && broken.problems.count == 1 && broken.problems[0].index == nil)
        #expect(Self.waivers(#"{"waivers": {}}"#).problems.count == 1)
    }

    static let failingCI = StartGate.Check(
        name: "ci_status", ok: false, detail: "`make test` exited with status 2", remedy: "fix it")
    static let clean = StartGate.Check(name: "worktree_clean", ok: true, detail: "clean")

    @Test("the gate passes only when no check fails; skipped checks count as passing")
    func evaluatePassFail() {
        let skipped = StartGate.Check(name: "daemon_ready", ok: true, detail: "not required", skipped: true)
        let pass = StartGate.evaluate([Self.clean, skipped], waivers: [], now: Self.now)
        #expect(pass.passed)
        #expect(pass.checks.map(\.status) == [.pass, .skipped])
        let fail = StartGate.evaluate([Self.clean, Self.failingCI], waivers: [], now: Self.now)
        #expect(!fail.passed)
        #expect(fail.failing.map(\.name) == ["ci_status"])
        #expect(fail.failing[0].remedy == "fix it")
    }

    @Test("a live waiver turns the named failure into a warning; it does not touch other checks")
    func waived() {
        let w = StartGate.Waiver(
            check: "ci_status", owner: "alice", reason: "flaky", expiresAt: Self.now.addingTimeInterval(3600))
        let dirty = StartGate.Check(name: "worktree_clean", ok: false, detail: "1 uncommitted change(s): x")
        let r = StartGate.evaluate([Self.failingCI], waivers: [w], now: Self.now)
        #expect(r.passed)
        #expect(r.checks[0].status == .waived && r.checks[0].waiver == w && !r.checks[0].ok)
        let both = StartGate.evaluate([Self.failingCI, dirty], waivers: [w], now: Self.now)
        #expect(!both.passed && both.failing.map(\.name) == ["worktree_clean"])
    }

    @Test("a waiver expires: at and after expires_at it is reported and ignored")
    func expired() {
        let w = StartGate.Waiver(check: "ci_status", owner: "alice", reason: "flaky", expiresAt: Self.now)
        let r = StartGate.evaluate([Self.failingCI], waivers: [w], now: Self.now)
        #expect(!r.passed)
        #expect(r.waiverProblems.count == 1 && r.waiverProblems[0].problem.contains("expired"))
        let before = StartGate.evaluate([Self.failingCI], waivers: [w], now: Self.now.addingTimeInterval(-1))
        #expect(before.passed && before.waiverProblems.isEmpty)
    }

    @Test("match scopes a waiver to failures whose detail contains it")
    func match() {
        let scoped = StartGate.Waiver(
            check: "ci_status", owner: "a", reason: "r", expiresAt: Self.now.addingTimeInterval(60), match: "status 2")
        #expect(StartGate.evaluate([Self.failingCI], waivers: [scoped], now: Self.now).passed)
        var other = scoped
        other.match = "status 3"
        #expect(!StartGate.evaluate([Self.failingCI], waivers: [other], now: Self.now).passed)
    }

    @Test("a waiver naming no known check is reported and ignored")
    func unknownCheck() {
        let w = StartGate.Waiver(check: "ci_stauts", owner: "a", reason: "r", expiresAt: Self.now.addingTimeInterval(60))
        let r = StartGate.evaluate([Self.failingCI], waivers: [w], now: Self.now)
        #expect(!r.passed)
        #expect(r.waiverProblems.first?.problem.contains("names no check") == true)
    }

    @Test("the report encodes as the gate's JSON")
    func json() throws {
        let r = StartGate.evaluate([Self.clean, Self.failingCI], waivers: [], now: Self.now)
        let data = try JSONEncoder.nightshift().encode(r)
        let o = try #require(try JSONDecoder().decode(JSONValue.self, from: data).objectValue)
        #expect(o["passed"] == .bool(false))
        #expect(o["checked_at"] == .string("2030-01-15T12:00:00.000Z"))
        #expect(o["checks"]?.arrayValue?.count == 2)
        #expect(o["waiver_problems"]?.arrayValue?.isEmpty == true)
        let decoded = try JSONDecoder.nightshift().decode(StartGate.Report.self, from: data)
        #expect(decoded == r)
    }
}
