import Foundation
import Logging
import NightshiftCore
import NightshiftStore

/// Version facts shown by `/api/version` and `/api/health`.
public struct VersionInfo: Sendable, Equatable {
    public static let current = "0.1.0"
    public var version: String
    public var gitSHA: String
    public var startedAt: Date
    public init(version: String = VersionInfo.current, gitSHA: String, startedAt: Date) {
        self.version = version
        self.gitSHA = gitSHA
        self.startedAt = startedAt
    }
}

/// Heartbeats of the daemon's services, for readiness, the monitor and pipeline-status.
public final class ComponentHealth: Sendable {
    private let beats = Locked<[String: Date]>([:])
    private let running = Locked<Set<String>>([])

    public init() {}

    public func beat(_ component: String, at date: Date) { beats.withLock { $0[component] = date } }
    public func setRunning(_ component: String, _ isRunning: Bool) {
        running.withLock { s in
            if isRunning { s.insert(component) } else { s.remove(component) }
        }
    }
    public var heartbeats: [String: Date] { beats.value }
    public var runningComponents: Set<String> { running.value }
}

/// The one context every service gets (STYLE 9): config, paths, store, clock, logs, events.
public struct ServiceEnvironment: Sendable {
    public var config: NightshiftConfig
    public var paths: StatePaths
    public var store: any TaskStore
    public var events: TaskEventBus
    public var logs: ComponentLogs
    public var redactor: Redactor
    public var health: ComponentHealth
    public var version: VersionInfo
    /// Identifies this daemon process as the owner of the tasks it claims.
    public var instanceID: String
    /// The run this process works for (its files under `runs/<run_id>/`); nil in tests that
    /// need none.
    public var run: RunFiles?
    /// Persisted timestamps come from here, so tests can move time.
    public var now: @Sendable () -> Date
    /// What services wait on (periodic passes, heartbeats, retry wake-ups, the drain): a test
    /// gives them a manual clock and advances it instead of waiting.
    public var clock: any Clock<Duration> = ContinuousClock()
    /// Where agents' output lines go to be ingested as logs; nil = they are not.
    public var logTap: TaskLineTap? = nil
    /// The runner's budget and usage-limit state, for status, pipeline-status and the monitor.
    public var agents = AgentBoard()
    /// This daemon among the nodes sharing the store; alone (and leading) unless the daemon
    /// sets it up.
    public var cluster = ClusterRole.alone()

    public init(
        config: NightshiftConfig, paths: StatePaths, store: any TaskStore, logs: ComponentLogs, redactor: Redactor,
        version: VersionInfo, instanceID: String, now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.config = config
        self.paths = paths
        self.store = store
        self.events = TaskEventBus()
        self.logs = logs
        self.redactor = redactor
        self.health = ComponentHealth()
        self.version = version
        self.instanceID = instanceID
        self.now = now
    }

    /// A redactor that also masks the values of the configured secret env vars and executor env.
    public static func redactor(
        for config: NightshiftConfig, environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> Redactor {
        var secrets: [String] = config.runner.redactEnv.compactMap { environment[$0] }
        if !config.server.token.isEmpty { secrets.append(config.server.token) }
        if !config.notify.telegram.token.isEmpty { secrets.append(config.notify.telegram.token) }
        if !config.notify.telegram.secret.isEmpty { secrets.append(config.notify.telegram.secret) }
        for ex in config.runner.executors.values {
            for (k, v) in ex.env where config.runner.redactEnv.contains(k) { secrets.append(v) }
        }
        return Redactor(secretValues: secrets)
    }

    /// `host:pid:start` — unique per daemon process.
    public static func makeInstanceID(startedAt: Date) -> String {
        let host = ProcessInfo.processInfo.hostName
        return "\(host):\(getpid()):\(Int(startedAt.timeIntervalSince1970 * 1000))"
    }
}
