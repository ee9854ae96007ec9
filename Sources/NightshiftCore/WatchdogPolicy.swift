/// The watchdog's decisions as a pure value: given what just happened to the supervised daemon
/// (and when, in seconds on a monotonic clock), what to do next. The runtime `Watchdog` feeds it
/// events and performs the actions; nothing here does I/O, so every path is unit-tested.
///
/// Rules:
/// - An unexpected exit restarts the daemon after a backoff that starts at `backoff_base` and
///   doubles per crash up to `backoff_max`; a daemon that ran `reset_after` before it crashed
///   starts again from the first delay.
/// - Every start (initial, after a crash, or a deliberate restart) is counted. When the daemon
///   crashes and `start_limit` starts already happened within `start_window`, it is a crash
///   loop: the watchdog gives up instead of starting it again. A deliberate restart never gives up.
/// - A restart request or a hung daemon (no answer within `startup_timeout` of its start, or
///   `health_failures` failed probes in a row after it answered) stops it gracefully and starts
///   a new one at once.
/// - A shutdown request stops the daemon gracefully, then the watchdog exits.
/// - Exit status 2 is the daemon refusing to start (bad config, port taken): no restart helps,
///   so the watchdog records it and exits at once instead of looping.
public struct WatchdogPolicy: Sendable, Equatable {
    /// How the daemon ended.
    public enum ExitStatus: Sendable, Equatable, CustomStringConvertible {
        case exited(Int32)
        case signaled(Int32)
        /// The process could not be created at all.
        case notStarted(String)

        public var description: String {
            switch self {
            case .exited(let code): return "exit status \(code)"
            case .signaled(let sig): return "killed by signal \(sig)"
            case .notStarted(let why): return "could not start: \(why)"
            }
        }
    }

    /// Why a daemon is started.
    public enum StartReason: Sendable, Equatable, CustomStringConvertible {
        case initial
        case crashed(ExitStatus)
        case requested(String)
        case unhealthy(String)

        public var description: String {
            switch self {
            case .initial: return "initial start"
            case .crashed(let s): return "restart after the daemon ended unexpectedly (\(s))"
            case .requested(let r): return "restart requested: \(r)"
            case .unhealthy(let r): return "restart of a hung daemon: \(r)"
            }
        }
    }

    /// Why the running daemon is stopped.
    public enum StopReason: Sendable, Equatable, CustomStringConvertible {
        case requested(String)
        case unhealthy(String)
        case shutdown

        public var description: String {
            switch self {
            case .requested(let r): return "restart requested: \(r)"
            case .unhealthy(let r): return "hung: \(r)"
            case .shutdown: return "the watchdog is stopping"
            }
        }
    }

    /// The facts of a crash loop, for the fatal issue.
    public struct CrashLoop: Sendable, Equatable {
        public var starts: Int
        public var window: Double
        public var lastExit: ExitStatus
        public init(starts: Int, window: Double, lastExit: ExitStatus) {
            self.starts = starts
            self.window = window
            self.lastExit = lastExit
        }
    }

    public enum Event: Sendable, Equatable {
        /// The watchdog itself started.
        case launched
        /// A daemon process was created.
        case spawned
        /// A daemon process could not be created.
        case spawnFailed(String)
        /// The daemon process ended.
        case exited(ExitStatus)
        /// One `/api/health` probe of the current daemon.
        case probe(ok: Bool)
        /// `restart_requested.json` appeared, with its reason.
        case restartRequested(String)
        /// The backoff timer fired.
        case backoffElapsed
        /// SIGTERM or SIGINT to the watchdog.
        case shutdownRequested
    }

    public enum Action: Sendable, Equatable {
        case none
        /// Start a daemon now.
        case spawn(StartReason)
        /// Wait until this time, then send `.backoffElapsed`.
        case wait(until: Double)
        /// Stop the daemon gracefully (SIGTERM to its group, drain, SIGKILL); `.exited` follows.
        case stopChild(StopReason)
        /// Record a crash loop and exit non-zero.
        case giveUp(CrashLoop)
        /// The daemon refused to start (exit status 2: bad config, port taken, state dir
        /// locked): restarting cannot help. Record it and exit with the same status.
        case refused(ExitStatus)
        /// Exit 0: the daemon is stopped.
        case exit
    }

    public enum Phase: Sendable, Equatable {
        case idle
        case spawning
        case running(since: Double)
        case backingOff(until: Double)
        case stopping
        case finished
    }

    public let settings: NightshiftConfig.Watchdog
    public private(set) var phase: Phase = .idle
    /// Times of the starts within the window (pruned as time passes).
    public private(set) var starts: [Double] = []
    /// Crashes since the last healthy run; the next backoff is `base · 2^crashes`.
    public private(set) var consecutiveCrashes = 0
    public private(set) var failedProbes = 0
    /// The current daemon has answered a health probe at least once.
    public private(set) var answered = false
    private var stopping: StopReason?
    private var pendingShutdown = false
    private var nextStart: StartReason = .initial

    public init(settings: NightshiftConfig.Watchdog) {
        self.settings = settings
    }

    /// The exit status with which `serve` refuses to start (config, environment); never retried.
    public static let refusal = ExitStatus.exited(2)

    /// A hung daemon is not answering anyway: it gets at most this long to stop before SIGKILL.
    public static let hungStopLimit: Double = 5

    /// How long a daemon stopped for `reason` may take to drain before its group is killed.
    public func stopGrace(for reason: StopReason) -> Double {
        if case .unhealthy = reason { return Swift.min(settings.stopTimeout, Self.hungStopLimit) }
        return settings.stopTimeout
    }

    /// The delay before the restart that follows `crashes` earlier consecutive crashes.
    public func backoff(afterCrashes crashes: Int) -> Double {
        let exponent = Swift.min(Swift.max(crashes, 0), 40)
        return Swift.min(settings.backoffMax, settings.backoffBase * Double(UInt64(1) << UInt64(exponent)))
    }

    public mutating func handle(_ event: Event, at now: Double) -> Action {
        switch (phase, event) {
        case (.finished, _):
            return .none

        case (.idle, .launched):
            phase = .spawning
            return .spawn(.initial)
        case (.idle, .shutdownRequested):
            phase = .finished
            return .exit
        case (.idle, _):
            return .none

        case (.spawning, .spawned):
            starts.append(now)
            phase = .running(since: now)
            failedProbes = 0
            answered = false
            if pendingShutdown {
                phase = .stopping
                stopping = .shutdown
                return .stopChild(.shutdown)
            }
            return .none
        case (.spawning, .spawnFailed(let why)):
            starts.append(now)
            if pendingShutdown {
                phase = .finished
                return .exit
            }
            return crashed(.notStarted(why), uptime: 0, at: now)
        case (.spawning, .shutdownRequested):
            pendingShutdown = true
            return .none
        case (.spawning, _):
            return .none

        case (.running(let since), .exited(let status)):
            return crashed(status, uptime: now - since, at: now)
        case (.running(let since), .probe(let ok)):
            if ok {
                failedProbes = 0
                answered = true
                return .none
            }
            if !answered {
                guard now - since >= settings.startupTimeout else { return .none }
                return stop(
                    .unhealthy(
                        "no answer from /api/health within \(ConfigValues.formatDuration(settings.startupTimeout)) of its start"))
            }
            failedProbes += 1
            guard failedProbes >= settings.healthFailures else { return .none }
            return stop(.unhealthy("\(failedProbes) health probes in a row failed"))
        case (.running, .restartRequested(let reason)):
            return stop(.requested(reason))
        case (.running, .shutdownRequested):
            return stop(.shutdown)
        case (.running, _):
            return .none

        case (.stopping, .exited):
            switch stopping {
            case .shutdown, nil:
                phase = .finished
                return .exit
            case .requested(let r):
                phase = .spawning
                return .spawn(.requested(r))
            case .unhealthy(let r):
                phase = .spawning
                return .spawn(.unhealthy(r))
            }
        case (.stopping, .shutdownRequested):
            stopping = .shutdown
            return .none
        case (.stopping, _):
            return .none

        case (.backingOff(let until), .backoffElapsed):
            guard now >= until else { return .none }
            phase = .spawning
            return .spawn(nextStart)
        case (.backingOff, .shutdownRequested):
            phase = .finished
            return .exit
        case (.backingOff, _):
            return .none
        }
    }

    private mutating func stop(_ reason: StopReason) -> Action {
        phase = .stopping
        stopping = reason
        return .stopChild(reason)
    }

    /// An exit nobody asked for: back off and start again, or give up on a crash loop.
    private mutating func crashed(_ status: ExitStatus, uptime: Double, at now: Double) -> Action {
        if status == Self.refusal {
            phase = .finished
            return .refused(status)
        }
        if uptime >= settings.resetAfter { consecutiveCrashes = 0 }
        starts.removeAll { $0 <= now - settings.startWindow }
        if starts.count >= settings.startLimit {
            phase = .finished
            return .giveUp(CrashLoop(starts: starts.count, window: settings.startWindow, lastExit: status))
        }
        let delay = backoff(afterCrashes: consecutiveCrashes)
        consecutiveCrashes += 1
        nextStart = .crashed(status)
        phase = .backingOff(until: now + delay)
        return .wait(until: now + delay)
    }
}
