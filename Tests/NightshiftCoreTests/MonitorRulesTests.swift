import Foundation
import NightshiftCore
import Testing

/// The monitor's rules are pure functions of one snapshot: each is driven here to just past its
/// threshold (fires) and exactly to it (does not), with its condition, subject and severity.
@Suite("MonitorRules")
struct MonitorRulesTests {
    static let now = Date(timeIntervalSince1970: 1_795_255_200)
    static let t = MonitorThresholds()

    static func snapshot(_ change: (inout MonitorSnapshot) -> Void = { _ in }) -> MonitorSnapshot {
        var s = MonitorSnapshot(now: now)
        change(&s)
        return s
    }

    static func ago(_ seconds: Double) -> Date { now.addingTimeInterval(-seconds) }

    // MARK: Heartbeats

    @Test("runner_stale / pm_stale fire past heartbeat_stale, not at it, with the service as subject")
    func stale() {
        let fresh = Self.snapshot {
            $0.expectedServices = ["agent_runner", "project_manager"]
            $0.heartbeats = ["agent_runner": Self.ago(Self.t.heartbeatStale), "project_manager": Self.ago(1)]
        }
        #expect(MonitorRules.stale(fresh, Self.t).isEmpty)

        let old = Self.snapshot {
            $0.expectedServices = ["agent_runner", "project_manager", "maintenance"]
            $0.heartbeats = [
                "agent_runner": Self.ago(Self.t.heartbeatStale + 1), "project_manager": Self.ago(Self.t.heartbeatStale + 60),
                "maintenance": Self.ago(Self.t.heartbeatStale + 1),
            ]
        }
        let found = MonitorRules.stale(old, Self.t)
        #expect(found.map(\.condition) == ["runner_stale", "pm_stale", "maintenance_stale"])
        #expect(found.map(\.subject) == ["agent_runner", "project_manager", "maintenance"])
        #expect(found.allSatisfy { $0.severity == .high })
        #expect(found[0].message.contains("3m1s") || found[0].message.contains("181"), "\(found[0].message)")
    }

    @Test("a heartbeat of a service nobody expects is ignored")
    func unexpectedService() {
        let s = Self.snapshot { $0.heartbeats = ["agent_runner": Self.ago(10_000)] }
        #expect(MonitorRules.stale(s, Self.t).isEmpty)
    }

    @Test("a service that never beat is stale only once the monitor has watched it longer than heartbeat_stale")
    func neverBeat() {
        let justStarted = Self.snapshot {
            $0.expectedServices = ["agent_runner"]
            $0.watchingSince = Self.ago(Self.t.heartbeatStale)
        }
        #expect(MonitorRules.stale(justStarted, Self.t).isEmpty)

        let long = Self.snapshot {
            $0.expectedServices = ["agent_runner"]
            $0.watchingSince = Self.ago(Self.t.heartbeatStale + 1)
        }
        let found = MonitorRules.stale(long, Self.t)
        #expect(found.map(\.condition) == ["runner_stale"])
        #expect(found.first?.message.contains("never beat") == true)

        let unknownStart = Self.snapshot { $0.expectedServices = ["agent_runner"] }
        #expect(MonitorRules.stale(unknownStart, Self.t).map(\.condition) == ["runner_stale"])
    }

    // MARK: Tasks

    @Test("no_progress: runnable work waited past no_progress with nothing running")
    func noProgress() {
        let waited = Self.snapshot {
            $0.oldestRunnableSince = Self.ago(Self.t.noProgress + 1)
            $0.counts = [.pending: 4]
        }
        let found = MonitorRules.noProgress(waited, Self.t)
        #expect(found.count == 1)
        #expect(found.first?.condition == "no_progress")
        #expect(found.first?.subject == "pipeline")
        #expect(found.first?.severity == .high)
        #expect(found.first?.message.hasPrefix("4 runnable task(s)") == true)

        #expect(MonitorRules.noProgress(Self.snapshot { $0.oldestRunnableSince = Self.ago(Self.t.noProgress) }, Self.t).isEmpty)
        #expect(MonitorRules.noProgress(Self.snapshot { _ in }, Self.t).isEmpty, "nothing runnable")
        let busy = Self.snapshot {
            $0.oldestRunnableSince = Self.ago(Self.t.noProgress * 10)
            $0.running = [
                .init(id: "task_0000000000000001", startedAt: Self.ago(5), leaseExpiresAt: Self.now.addingTimeInterval(30))
            ]
        }
        #expect(MonitorRules.noProgress(busy, Self.t).isEmpty, "something runs: the queue is just long")
    }

    @Test("stuck_running: a lapsed lease, or a run past 1.5 × task_timeout; one finding per task")
    func stuckRunning() {
        let s = Self.snapshot {
            $0.taskTimeout = 100
            $0.running = [
                .init(id: "task_00000000000000a1", startedAt: Self.ago(10), leaseExpiresAt: Self.ago(1)),
                .init(id: "task_00000000000000a2", startedAt: Self.ago(151), leaseExpiresAt: Self.now.addingTimeInterval(30)),
                .init(id: "task_00000000000000a3", startedAt: Self.ago(150), leaseExpiresAt: Self.now),
                .init(id: "task_00000000000000a4", startedAt: nil, leaseExpiresAt: nil),
                .init(id: "task_00000000000000a5", startedAt: Self.ago(1000), leaseExpiresAt: Self.ago(5)),
            ]
        }
        let found = MonitorRules.stuckRunning(s, Self.t)
        #expect(found.map(\.subject) == ["task_00000000000000a1", "task_00000000000000a2", "task_00000000000000a5"])
        #expect(found.allSatisfy { $0.condition == "stuck_running" && $0.severity == .medium })
        #expect(found[0].message.contains("lease"))
        #expect(found[1].message.contains("past its timeout"))
        #expect(found[1].suggestedAction == "nightshift tasks cancel task_00000000000000a2")
        #expect(found[2].message.contains("lease"), "a lapsed lease is reported before the timeout")
    }

    @Test("repeated_failures: the last K finished tasks all failed (newest first)")
    func repeatedFailures() {
        func run(_ outcomes: [TaskStatus], k: Int = 3) -> [Finding] {
            var t = Self.t
            t.repeatedFailures = k
            return MonitorRules.repeatedFailures(Self.snapshot { $0.recentOutcomes = outcomes }, t)
        }
        let found = run([.failed, .failed, .failed, .completed])
        #expect(found.count == 1)
        #expect(found.first?.condition == "repeated_failures")
        #expect(found.first?.subject == "pipeline")
        #expect(found.first?.severity == .high)
        #expect(found.first?.message == "the last 3 finished tasks failed")
        #expect(run([.failed, .failed]).isEmpty, "fewer than K finished")
        #expect(run([.failed, .failed, .completed, .failed]).isEmpty, "a success among the last K")
        #expect(run([.completed, .failed, .failed, .failed]).isEmpty, "the newest succeeded")
        #expect(run([.failed], k: 1).count == 1)
        #expect(run([.failed, .failed, .failed], k: 0).isEmpty, "0 turns the rule off")
    }

    @Test("low_success_rate: only over a full window, and only below the minimum")
    func lowSuccessRate() {
        var t = Self.t
        t.successWindow = 4
        t.minSuccessRate = 0.5
        func run(_ outcomes: [TaskStatus]) -> [Finding] {
            MonitorRules.lowSuccessRate(Self.snapshot { $0.recentOutcomes = outcomes }, t)
        }
        let found = run([.failed, .completed, .failed, .failed, .completed, .completed])
        #expect(found.map(\.condition) == ["low_success_rate"])
        #expect(found.first?.severity == .medium)
        #expect(found.first?.subject == "pipeline")
        #expect(found.first?.message.hasPrefix("25% of the last 4") == true, "only the window counts: \(found)")
        #expect(run([.failed, .completed, .failed, .completed]).isEmpty, "exactly the minimum is fine")
        #expect(run([.failed, .failed, .failed]).isEmpty, "window not full yet")
    }

    @Test("needs_decision_waiting: one finding per task waiting longer than decision_waiting")
    func decisionWaiting() {
        let s = Self.snapshot {
            $0.waiting = [
                .init(id: "task_00000000000000b1", since: Self.ago(Self.t.decisionWaiting + 1), prompt: "ship it?"),
                .init(id: "task_00000000000000b2", since: Self.ago(Self.t.decisionWaiting), prompt: "not yet"),
            ]
        }
        let found = MonitorRules.needsDecisionWaiting(s, Self.t)
        #expect(found.map(\.subject) == ["task_00000000000000b1"])
        #expect(found.first?.condition == "needs_decision_waiting")
        #expect(found.first?.severity == .medium)
        #expect(found.first?.message.hasSuffix("ship it?") == true)
        #expect(found.first?.suggestedAction == "nightshift tasks decide task_00000000000000b1 <decision>")
    }

    @Test("item_blocked: one per blocked item, subject item:<key>")
    func itemBlocked() {
        let s = Self.snapshot {
            $0.blockedItems = [.init(key: "3", title: "Retry webhooks", reason: "review failed 5 times")]
        }
        let found = MonitorRules.itemBlocked(s)
        #expect(found.map(\.subject) == ["item:3"])
        #expect(found.first?.condition == "item_blocked")
        #expect(found.first?.severity == .medium)
        #expect(found.first?.message.contains("review failed 5 times") == true)
        #expect(MonitorRules.itemBlocked(Self.snapshot()).isEmpty)
    }

    // MARK: Machine

    @Test("disk: disk_low (high) under the minimum, disk_full (critical) under 64 MiB, neither when unknown")
    func disk() {
        var t = Self.t
        t.diskMinFreeBytes = 1 << 30
        func run(_ free: Int64?) -> [Finding] { MonitorRules.disk(Self.snapshot { $0.diskFreeBytes = free }, t) }
        #expect(run(1 << 30).isEmpty, "exactly the minimum")
        #expect(run(nil).isEmpty)
        let low = run((1 << 30) - 1)
        #expect(low.map(\.condition) == ["disk_low"])
        #expect(low.first?.severity == .high)
        #expect(low.first?.subject == "state_dir")
        #expect(run(64 << 20).map(\.condition) == ["disk_low"])
        let full = run((64 << 20) - 1)
        #expect(full.map(\.condition) == ["disk_full"], "disk_full replaces disk_low")
        #expect(full.first?.severity == .critical)
        #expect(MonitorRules.fatal.contains("disk_full"))
    }

    @Test("log_errors: components at or above the threshold, sorted by name")
    func logErrors() {
        let s = Self.snapshot {
            $0.logErrors = [
                "project_manager": Self.t.logErrors, "agent_runner": Self.t.logErrors + 5, "api": Self.t.logErrors - 1,
            ]
        }
        let found = MonitorRules.logErrors(s, Self.t)
        #expect(found.map(\.subject) == ["agent_runner", "project_manager"])
        #expect(found.allSatisfy { $0.condition == "log_errors" && $0.severity == .medium })
        #expect(found.first?.message.hasPrefix("\(Self.t.logErrors + 5) ERROR lines in agent_runner.log") == true)
    }

    @Test("stale_version: only when both versions are known and differ")
    func staleVersion() {
        func run(_ recorded: String?, _ current: String?) -> [Finding] {
            MonitorRules.staleVersion(
                Self.snapshot {
                    $0.recordedVersion = recorded
                    $0.currentVersion = current
                })
        }
        let found = run("abc/0.1.0", "def/0.1.0")
        #expect(found.map(\.condition) == ["stale_version"])
        #expect(found.first?.subject == "pipeline")
        #expect(found.first?.message.contains("abc/0.1.0") == true && found.first?.message.contains("def/0.1.0") == true)
        #expect(run("abc/0.1.0", "abc/0.1.0").isEmpty)
        #expect(run(nil, "def").isEmpty)
        #expect(run("abc", nil).isEmpty)
        #expect(MonitorRules.restartable.contains("stale_version"))
    }

    @Test("stale_version says what changed, not the same version twice")
    func staleVersionChanges() {
        let found = MonitorRules.staleVersion(
            Self.snapshot {
                $0.recordedVersion = "abc/0.1.0"
                $0.currentVersion = "abc/0.1.0 (binary rebuilt 2030-01-01T00:00:00.000Z)"
                $0.versionChanges = [
                    "binary /x/nightshift rebuilt: modified 2030-01-01T00:00:00.000Z, was 2029-12-31T00:00:00.000Z at the start"
                ]
            })
        let message = found.first?.message ?? ""
        #expect(message.contains("binary /x/nightshift rebuilt") && !message.contains("abc/0.1.0"))
    }

    @Test("backlog_error: one high issue naming file:line while the backlog does not parse")
    func backlogError() {
        #expect(MonitorRules.backlogError(Self.snapshot { _ in }).isEmpty)
        let found = MonitorRules.evaluate(
            Self.snapshot { $0.backlogError = "config/backlog.md:7: item number 3 is used twice" }, Self.t
        )
        .filter { $0.condition == "backlog_error" }
        #expect(found.count == 1)
        #expect(found.first?.severity == .high && found.first?.subject == "backlog")
        #expect(found.first?.message.contains("config/backlog.md:7") == true)
    }

    @Test("api_unreachable: only when the probe ran and failed (critical, restartable)")
    func apiUnreachable() {
        let found = MonitorRules.apiUnreachable(
            Self.snapshot {
                $0.apiReachable = false
                $0.apiProbeError = "connection refused"
            })
        #expect(found.map(\.condition) == ["api_unreachable"])
        #expect(found.first?.subject == "api")
        #expect(found.first?.severity == .critical)
        #expect(found.first?.message.hasSuffix("connection refused") == true)
        #expect(MonitorRules.apiUnreachable(Self.snapshot { $0.apiReachable = true }).isEmpty)
        #expect(MonitorRules.apiUnreachable(Self.snapshot()).isEmpty, "not probed")
        #expect(MonitorRules.restartable.contains("api_unreachable"))
    }

    @Test("unrecoverable: database_unwritable and one executor_missing per executor, all critical and fatal")
    func unrecoverable() {
        let found = MonitorRules.unrecoverable(
            Self.snapshot {
                $0.stateWritable = false
                $0.missingExecutors = ["claude", "codex"]
            })
        #expect(found.map(\.condition) == ["database_unwritable", "executor_missing", "executor_missing"])
        #expect(found.map(\.subject) == ["state_dir", "executor:claude", "executor:codex"])
        #expect(found.allSatisfy { $0.severity == .critical && MonitorRules.fatal.contains($0.condition) })
        #expect(found[2].suggestedAction.contains("runner.executors.codex.command"))
        #expect(MonitorRules.unrecoverable(Self.snapshot()).isEmpty)
    }

    // MARK: Aggregate

    @Test("a healthy snapshot has no findings")
    func healthy() {
        let s = Self.snapshot {
            $0.expectedServices = ["agent_runner"]
            $0.heartbeats = ["agent_runner": Self.ago(1)]
            $0.recentOutcomes = Array(repeating: .completed, count: 30)
            $0.diskFreeBytes = 100 << 30
            $0.recordedVersion = "a"
            $0.currentVersion = "a"
            $0.apiReachable = true
            $0.counts = [.completed: 30]
        }
        #expect(MonitorRules.evaluate(s, Self.t).isEmpty)
    }

    @Test("evaluate aggregates every rule's findings")
    func aggregates() {
        var t = Self.t
        t.repeatedFailures = 2
        t.successWindow = 2
        let s = Self.snapshot {
            $0.expectedServices = ["agent_runner"]
            $0.heartbeats = ["agent_runner": Self.ago(t.heartbeatStale + 1)]
            $0.oldestRunnableSince = Self.ago(t.noProgress + 1)
            $0.recentOutcomes = [.failed, .failed]
            $0.waiting = [.init(id: "task_00000000000000c1", since: Self.ago(t.decisionWaiting + 1), prompt: "?")]
            $0.blockedItems = [.init(key: "1", title: "one", reason: "r")]
            $0.diskFreeBytes = 1 << 20
            $0.logErrors = ["api": 100]
            $0.recordedVersion = "a"
            $0.currentVersion = "b"
            $0.apiReachable = false
            $0.stateWritable = false
            $0.missingExecutors = ["x"]
        }
        let found = MonitorRules.evaluate(s, t)
        #expect(
            found.map(\.condition) == [
                "runner_stale", "no_progress", "repeated_failures", "low_success_rate", "needs_decision_waiting", "item_blocked",
                "disk_full", "log_errors", "stale_version", "api_unreachable", "database_unwritable", "executor_missing",
            ])
        let keys = found.map { "\($0.condition)/\($0.subject)" }
        #expect(Set(keys).count == keys.count, "every finding is its own (condition, subject)")
        #expect(found.allSatisfy { !$0.message.isEmpty && !$0.suggestedAction.isEmpty })
    }

    @Test("severities order low < medium < high < critical; findings encode snake_case")
    func severityAndCoding() throws {
        #expect(Severity.allCases.sorted() == [.low, .medium, .high, .critical])
        #expect(Severity.high >= .high && Severity.medium < .high)
        let f = Finding(condition: "c", subject: "s", severity: .high, message: "m", suggestedAction: "a")
        let json = try #require(String(data: try JSONEncoder().encode(f), encoding: .utf8))
        #expect(json.contains("\"suggested_action\":\"a\""))
        #expect(json.contains("\"severity\":\"high\""))
        #expect(try JSONDecoder().decode(Finding.self, from: Data(json.utf8)) == f)
    }
}
