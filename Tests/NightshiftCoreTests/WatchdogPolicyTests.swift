import NightshiftCore
import Testing

/// The watchdog's decisions, every phase against every event, with no processes and no clock.
@Suite("WatchdogPolicy")
struct WatchdogPolicyTests {
    typealias P = WatchdogPolicy

    static func settings(_ change: (inout NightshiftConfig.Watchdog) -> Void = { _ in }) -> NightshiftConfig.Watchdog {
        var s = NightshiftConfig.Watchdog()
        change(&s)
        return s
    }

    /// A policy whose daemon has been running since `at`.
    static func running(at t: Double = 0, _ s: NightshiftConfig.Watchdog = settings()) -> P {
        var p = P(settings: s)
        #expect(p.handle(.launched, at: t) == .spawn(.initial))
        #expect(p.handle(.spawned, at: t) == .none)
        return p
    }

    static let allEvents: [P.Event] = [
        .launched, .spawned, .spawnFailed("x"), .exited(.exited(1)), .probe(ok: true), .probe(ok: false),
        .restartRequested("r"), .backoffElapsed, .shutdownRequested,
    ]

    @Test("the defaults: 5 starts in 60 s, backoff 200 ms doubling to 30 s, reset after 10 s, 3 failed probes")
    func defaults() {
        let s = NightshiftConfig.Watchdog()
        #expect(s.startLimit == 5 && s.startWindow == 60)
        #expect(s.backoffBase == 0.2 && s.backoffMax == 30 && s.resetAfter == 10)
        #expect(s.healthFailures == 3 && s.healthInterval == 1 && s.startupTimeout == 60)
    }

    @Test("launch starts the daemon; spawned means running, counted as a start")
    func launch() {
        var p = P(settings: Self.settings())
        #expect(p.phase == .idle)
        #expect(p.handle(.launched, at: 5) == .spawn(.initial))
        #expect(p.phase == .spawning)
        #expect(p.handle(.spawned, at: 5.1) == .none)
        #expect(p.phase == .running(since: 5.1))
        #expect(p.starts == [5.1])
        #expect(!p.answered)
    }

    @Test("backoff doubles from 200 ms per consecutive crash, up to the ceiling")
    func backoffDoubles() {
        var p = Self.running(
            at: 0,
            Self.settings {
                $0.startLimit = 100
                $0.backoffMax = 1.5
            })
        var t = 0.0
        var delays: [Double] = []
        for _ in 0..<6 {
            t += 0.1
            guard case .wait(let until) = p.handle(.exited(.exited(1)), at: t) else {
                Issue.record("expected a wait")
                return
            }
            delays.append(((until - t) * 1000).rounded() / 1000)
            #expect(p.handle(.backoffElapsed, at: until) == .spawn(.crashed(.exited(1))))
            t = until
            #expect(p.handle(.spawned, at: t) == .none)
        }
        #expect(delays == [0.2, 0.4, 0.8, 1.5, 1.5, 1.5])
        #expect(p.backoff(afterCrashes: 0) == 0.2)
        #expect(p.backoff(afterCrashes: 1000) == 1.5)
    }

    @Test("a backoff timer that fires early does nothing; the restart names the exit")
    func earlyTimer() {
        var p = Self.running()
        #expect(p.handle(.exited(.signaled(9)), at: 1) == .wait(until: 1.2))
        #expect(p.phase == .backingOff(until: 1.2))
        #expect(p.handle(.backoffElapsed, at: 1.1) == .none)
        #expect(p.handle(.backoffElapsed, at: 1.2) == .spawn(.crashed(.signaled(9))))
    }

    @Test("a daemon that ran reset_after before it crashed restarts after the first delay again")
    func resetAfterHealthyRun() {
        var p = Self.running(at: 0, Self.settings { $0.startLimit = 100 })
        #expect(p.handle(.exited(.exited(1)), at: 1) == .wait(until: 1.2))
        _ = p.handle(.backoffElapsed, at: 1.2)
        _ = p.handle(.spawned, at: 1.2)
        #expect(p.handle(.exited(.exited(1)), at: 2) == .wait(until: 2.4))  // doubled
        _ = p.handle(.backoffElapsed, at: 2.4)
        _ = p.handle(.spawned, at: 2.4)
        #expect(p.consecutiveCrashes == 2)
        // Ran 10 s: healthy.
        #expect(p.handle(.exited(.exited(1)), at: 12.5) == .wait(until: 12.7))
        #expect(p.consecutiveCrashes == 1)
    }

    @Test("the crash that follows the fifth start within 60 s is a crash loop")
    func crashLoop() {
        var p = P(settings: Self.settings())
        #expect(p.handle(.launched, at: 0) == .spawn(.initial))
        var t = 0.0
        var last: P.Action = .none
        for i in 1...5 {
            #expect(p.handle(.spawned, at: t) == .none)
            t += 0.05
            last = p.handle(.exited(.exited(1)), at: t)
            if i < 5 {
                guard case .wait(let until) = last else {
                    Issue.record("crash \(i) should back off, got \(last)")
                    return
                }
                t = until
                #expect(p.handle(.backoffElapsed, at: t) == .spawn(.crashed(.exited(1))))
            }
        }
        #expect(last == .giveUp(P.CrashLoop(starts: 5, window: 60, lastExit: .exited(1))))
        #expect(p.phase == .finished)
        for e in Self.allEvents { #expect(p.handle(e, at: t + 1) == .none) }
    }

    @Test("crashes spread wider than the window never give up")
    func crashesOutsideWindow() {
        var p = Self.running(
            at: 0,
            Self.settings {
                $0.startLimit = 2
                $0.startWindow = 10
            })
        var t = 0.0
        for _ in 0..<10 {
            t += 11
            guard case .wait(let until) = p.handle(.exited(.exited(1)), at: t) else {
                Issue.record("should restart")
                return
            }
            _ = p.handle(.backoffElapsed, at: until)
            _ = p.handle(.spawned, at: until)
            t = until
        }
        #expect(p.starts.count <= 2)
    }

    @Test("a daemon that cannot even be spawned counts as a start and a crash")
    func spawnFailures() {
        var p = P(settings: Self.settings { $0.startLimit = 2 })
        #expect(p.handle(.launched, at: 0) == .spawn(.initial))
        #expect(p.handle(.spawnFailed("no such file"), at: 0) == .wait(until: 0.2))
        #expect(p.handle(.backoffElapsed, at: 0.2) == .spawn(.crashed(.notStarted("no such file"))))
        #expect(
            p.handle(.spawnFailed("no such file"), at: 0.2)
                == .giveUp(P.CrashLoop(starts: 2, window: 60, lastExit: .notStarted("no such file"))))
    }

    @Test("a restart request stops the daemon gracefully and starts a new one at once")
    func restartRequest() {
        var p = Self.running()
        #expect(p.handle(.restartRequested("stale_version"), at: 3) == .stopChild(.requested("stale_version")))
        #expect(p.phase == .stopping)
        #expect(p.handle(.restartRequested("again"), at: 3.1) == .none)
        #expect(p.handle(.probe(ok: false), at: 3.2) == .none)
        #expect(p.handle(.backoffElapsed, at: 3.2) == .none)
        #expect(p.handle(.exited(.exited(0)), at: 3.5) == .spawn(.requested("stale_version")))
        #expect(p.handle(.spawned, at: 3.5) == .none)
        #expect(p.phase == .running(since: 3.5))
        #expect(p.consecutiveCrashes == 0)
    }

    @Test("deliberate restarts never give up, but they count as starts for the next crash")
    func deliberateRestartsCount() {
        var p = Self.running(at: 0)
        var t = 0.0
        for _ in 0..<10 {
            t += 0.5
            #expect(p.handle(.restartRequested("r"), at: t) == .stopChild(.requested("r")))
            #expect(p.handle(.exited(.exited(0)), at: t) == .spawn(.requested("r")))
            #expect(p.handle(.spawned, at: t) == .none)
        }
        guard case .giveUp(let loop) = p.handle(.exited(.signaled(11)), at: t + 0.1) else {
            Issue.record("a crash after 11 starts within a minute is a crash loop")
            return
        }
        #expect(loop.lastExit == .signaled(11))
    }

    @Test("a new daemon may take up to startup_timeout to answer; then it is hung")
    func startupTimeout() {
        var p = Self.running(at: 0, Self.settings { $0.startupTimeout = 5 })
        #expect(p.handle(.probe(ok: false), at: 1) == .none)
        #expect(p.handle(.probe(ok: false), at: 4.9) == .none)
        #expect(p.failedProbes == 0)
        guard case .stopChild(.unhealthy(let why)) = p.handle(.probe(ok: false), at: 5) else {
            Issue.record("expected a restart of a hung daemon")
            return
        }
        #expect(why.contains("5s"))
        guard case .spawn(.unhealthy) = p.handle(.exited(.signaled(9)), at: 6) else {
            Issue.record("the hung daemon is replaced at once")
            return
        }
    }

    @Test("after it answered, health_failures failed probes in a row restart it; a success resets the count")
    func healthFailures() {
        var p = Self.running(at: 0)
        #expect(p.handle(.probe(ok: true), at: 0.3) == .none)
        #expect(p.answered)
        #expect(p.handle(.probe(ok: false), at: 1) == .none)
        #expect(p.handle(.probe(ok: false), at: 2) == .none)
        #expect(p.handle(.probe(ok: true), at: 3) == .none)
        #expect(p.failedProbes == 0)
        #expect(p.handle(.probe(ok: false), at: 4) == .none)
        #expect(p.handle(.probe(ok: false), at: 5) == .none)
        #expect(p.handle(.probe(ok: false), at: 6) == .stopChild(.unhealthy("3 health probes in a row failed")))
        #expect(p.handle(.exited(.exited(0)), at: 6.5) == .spawn(.unhealthy("3 health probes in a row failed")))
        #expect(p.handle(.spawned, at: 6.5) == .none)
        #expect(!p.answered && p.failedProbes == 0)
    }

    @Test("a hung daemon gets at most 5 s to stop; a requested restart or shutdown gets stop_timeout")
    func stopGrace() {
        let p = P(settings: Self.settings())
        #expect(p.stopGrace(for: .requested("r")) == 45)
        #expect(p.stopGrace(for: .shutdown) == 45)
        #expect(p.stopGrace(for: .unhealthy("x")) == 5)
        let quick = P(settings: Self.settings { $0.stopTimeout = 1 })
        #expect(quick.stopGrace(for: .unhealthy("x")) == 1)
    }

    @Test("shutdown: a running daemon is stopped, then the watchdog exits")
    func shutdownRunning() {
        var p = Self.running()
        #expect(p.handle(.shutdownRequested, at: 1) == .stopChild(.shutdown))
        #expect(p.handle(.shutdownRequested, at: 1.1) == .none)
        #expect(p.handle(.exited(.exited(0)), at: 1.2) == .exit)
        #expect(p.phase == .finished)
    }

    @Test("shutdown during a restart wins: no new daemon is started")
    func shutdownWhileRestarting() {
        var p = Self.running()
        #expect(p.handle(.restartRequested("r"), at: 1) == .stopChild(.requested("r")))
        #expect(p.handle(.shutdownRequested, at: 1.1) == .none)
        #expect(p.handle(.exited(.exited(0)), at: 1.2) == .exit)
    }

    @Test("shutdown while idle or backing off exits at once")
    func shutdownIdleOrBackingOff() {
        var idle = P(settings: Self.settings())
        #expect(idle.handle(.shutdownRequested, at: 0) == .exit)
        var p = Self.running()
        #expect(p.handle(.exited(.exited(1)), at: 1) == .wait(until: 1.2))
        #expect(p.handle(.restartRequested("r"), at: 1.1) == .none)
        #expect(p.handle(.probe(ok: true), at: 1.1) == .none)
        #expect(p.handle(.shutdownRequested, at: 1.1) == .exit)
        #expect(p.handle(.backoffElapsed, at: 1.2) == .none)
    }

    @Test("shutdown while a daemon is being spawned stops it as soon as it exists")
    func shutdownWhileSpawning() {
        var p = P(settings: Self.settings())
        _ = p.handle(.launched, at: 0)
        #expect(p.handle(.shutdownRequested, at: 0) == .none)
        #expect(p.handle(.restartRequested("r"), at: 0) == .none)
        #expect(p.handle(.spawned, at: 0.01) == .stopChild(.shutdown))
        #expect(p.handle(.exited(.exited(0)), at: 0.1) == .exit)

        var q = P(settings: Self.settings())
        _ = q.handle(.launched, at: 0)
        _ = q.handle(.shutdownRequested, at: 0)
        #expect(q.handle(.spawnFailed("x"), at: 0.01) == .exit)
    }

    @Test("events that do not apply to a phase change nothing")
    func irrelevantEvents() {
        var idle = P(settings: Self.settings())
        for e in Self.allEvents where e != .launched && e != .shutdownRequested {
            #expect(idle.handle(e, at: 0) == .none)
            #expect(idle.phase == .idle)
        }
        var spawning = P(settings: Self.settings())
        _ = spawning.handle(.launched, at: 0)
        for e: P.Event in [
            .launched, .exited(.exited(1)), .probe(ok: true), .probe(ok: false), .restartRequested("r"), .backoffElapsed,
        ] {
            #expect(spawning.handle(e, at: 0) == .none)
            #expect(spawning.phase == .spawning)
        }
        var running = Self.running()
        for e: P.Event in [.launched, .spawned, .spawnFailed("x"), .backoffElapsed] {
            #expect(running.handle(e, at: 1) == .none)
            #expect(running.phase == .running(since: 0))
        }
        var backingOff = Self.running()
        _ = backingOff.handle(.exited(.exited(1)), at: 1)
        for e: P.Event in [
            .launched, .spawned, .spawnFailed("x"), .exited(.exited(1)), .probe(ok: false), .restartRequested("r"),
        ] {
            #expect(backingOff.handle(e, at: 1.1) == .none)
            #expect(backingOff.phase == .backingOff(until: 1.2))
        }
        var stopping = Self.running()
        _ = stopping.handle(.restartRequested("r"), at: 1)
        for e: P.Event in [.launched, .spawned, .spawnFailed("x"), .probe(ok: true), .restartRequested("r"), .backoffElapsed] {
            #expect(stopping.handle(e, at: 1.1) == .none)
            #expect(stopping.phase == .stopping)
        }
    }

    @Test("the watchdog config section parses; bad values name their key")
    func config() throws {
        let c = try ConfigLoader.parse(
            yaml: """
                watchdog:
                  start_limit: 7
                  start_window: 2m
                  backoff: { base: 100ms, max: 5s }
                  reset_after: 0
                  health_interval: 500ms
                  health_timeout: 1s
                  health_failures: 4
                  startup_timeout: 20s
                  stop_timeout: 0
                """)
        var expected = NightshiftConfig.Watchdog()
        expected.startLimit = 7
        expected.startWindow = 120
        expected.backoffBase = 0.1
        expected.backoffMax = 5
        expected.resetAfter = 0
        expected.healthInterval = 0.5
        expected.healthTimeout = 1
        expected.healthFailures = 4
        expected.startupTimeout = 20
        expected.stopTimeout = 0
        #expect(c.watchdog == expected)
        for (yaml, key) in [
            ("watchdog: { start_limit: 0 }", "watchdog.start_limit"), ("watchdog: { start_window: 0 }", "watchdog.start_window"),
            ("watchdog: { health_failures: x }", "watchdog.health_failures"),
            ("watchdog: { backoff: { min: 1s } }", "watchdog.backoff.min"),
            ("watchdog: { restarts: 3 }", "watchdog.restarts"),
        ] {
            #expect(throws: ConfigError.self) { try ConfigLoader.parse(yaml: yaml) }
            do { _ = try ConfigLoader.parse(yaml: yaml) } catch { #expect(error.path == key) }
        }
        let inverted = try ConfigLoader.parse(yaml: "watchdog: { backoff: { base: 10s, max: 1s } }")
        do {
            try ConfigLoader.validate(inverted)
            Issue.record("max below base must be refused")
        } catch {
            #expect(error.path == "watchdog.backoff.max")
        }
    }

    @Test("descriptions name the exit and the reason")
    func descriptions() {
        #expect("\(P.ExitStatus.exited(1))" == "exit status 1")
        #expect("\(P.ExitStatus.signaled(9))" == "killed by signal 9")
        #expect("\(P.StartReason.requested("stale_version"))" == "restart requested: stale_version")
        #expect("\(P.StopReason.shutdown)".contains("stopping"))
    }
}
