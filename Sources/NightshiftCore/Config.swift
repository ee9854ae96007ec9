/// The daemon's configuration (DESIGN.md "Command line and configuration"). Every field has the
/// default that `config/nightshift.yaml` documents; `ConfigLoader` fills it from YAML, env and flags.
public struct NightshiftConfig: Sendable, Equatable {
    public struct Server: Sendable, Equatable {
        public var host = "127.0.0.1"
        public var port = 8000
        /// Bearer token: mutating requests need it whenever it is set; off loopback every route
        /// but health and readiness needs it. Required when `host` is not loopback.
        public var token = ""
        /// Whether `/metrics` answers without the token off loopback (for a scraper that cannot
        /// send one). On loopback it never needs the token.
        public var metricsPublic = false
        /// Largest request body accepted (413 past it).
        public var maxBodyBytes = 1024 * 1024
    }

    public struct Executor: Sendable, Equatable {
        /// Shell command template; `{direction}`, `{task_id}`, `{task_type}`, `{decision}` are substituted shell-quoted.
        public var command: String
        /// Extra environment for this executor's processes.
        public var env: [String: String] = [:]
        /// A cheap real request that proves the agent works and is logged in (e.g. a one-line
        /// prompt); `nightshift doctor` runs it when set. Same placeholders as `command`.
        public var smokeCommand = ""
        /// What the agent prints: `plain`, or an event stream metered live
        /// (`claude-stream-json`, `codex-jsonl`).
        public var format: AgentFormat = .plain
        /// The command that continues the agent's session after a decision (`{session_id}`,
        /// `{decision}`); "" = the task runs `command` again with the decision.
        public var resumeCommand = ""
        /// Assistant turns an attempt may take (0 = no cap); counted by Nightshift, because
        /// the agents' own turn caps are known to fail open.
        public var maxTurns = 0
        /// The model to price with when the agent's events do not name one (Codex's do not).
        public var model = ""
        /// For plain executors: a regex on the output tail that means "the account's usage
        /// limit is reached" ("" = none).
        public var usageLimitPattern = ""
        public init(
            command: String, env: [String: String] = [:], smokeCommand: String = "", format: AgentFormat = .plain,
            resumeCommand: String = "", maxTurns: Int = 0, model: String = "", usageLimitPattern: String = ""
        ) {
            self.command = command
            self.env = env
            self.smokeCommand = smokeCommand
            self.format = format
            self.resumeCommand = resumeCommand
            self.maxTurns = maxTurns
            self.model = model
            self.usageLimitPattern = usageLimitPattern
        }
    }

    public struct Backoff: Sendable, Equatable {
        public var base: Double = 10
        public var max: Double = 300
        public init(base: Double = 10, max: Double = 300) {
            self.base = base
            self.max = max
        }
    }

    public struct Runner: Sendable, Equatable {
        public var workers = 2
        public var taskTimeout: Double = 3600
        public var stallTimeout: Double = 900
        /// For structured executors: no agent event (a message or a tool call) for this long
        /// tears the attempt down with `error_class: idle`, however much it prints.
        public var idleTimeout: Double = 600
        /// How long a usage-limited task and its executor wait when the agent gave no reset
        /// time: `base` doubled per limit in a row, at most `max`.
        public var usageLimitBackoff = Backoff(base: 300, max: 6 * 3600)
        public var maxAttempts = 3
        public var retryBackoff = Backoff()
        public var lease: Double = 60
        public var killGrace: Double = 10
        /// On SIGTERM/SIGINT, how long running agents may go on before their groups are torn
        /// down (0 = at once); a second signal ends the drain at once either way.
        public var drainTimeout: Double = 30
        public var executors: [String: Executor] = ["default": Executor(command: "bash scripts/demo_agent.sh {direction}")]
        public var executorFor: [String: String] = [
            "spec": "default", "impl": "default", "test": "default", "review": "default", "heal": "default",
        ]
        public var workspace = ""
        /// How often the dispatcher looks for runnable work when nothing woke it.
        public var pollInterval: Double = 5
        /// Bytes of output kept as `output_tail`.
        public var outputTailBytes = 8 * 1024
        /// Environment variable names whose values are redacted wherever they appear in output.
        public var redactEnv: [String] = []
    }

    public struct ProjectManager: Sendable, Equatable {
        public var backlog = "config/backlog.md"
        public var phases = ["spec", "impl", "test", "review"]
        public var maxIterations = 5
        public var decisionTimeout: Double = 86400
        public var hours: Double = 0
        public var autoCommit = false
        public var parallelItems = 2
        public var verifyCommand = ""
        /// Direction templates by phase (`impl_fix` for fix iterations); built-ins fill the rest.
        public var templates: [String: String] = [:]
        /// Push the item's branch after each auto-commit.
        public var autoPush = false
        /// How long worktrees of finished items are kept; 0 = keep.
        public var worktreeRetention: Double = 86400
        /// What each phase's output must contain before its item advances (`PhaseContract`);
        /// a phase without one advances on any completed task.
        public var contracts: [String: PhaseContract] = [:]
        /// The merge queue (`Landing.swift`): off, local or push.
        public var land = LandMode.off
        /// The branch items land on; "" = the repository's current branch at startup.
        public var baseBranch = ""
        /// Merge tasks per conflict before the item waits for a decision.
        public var maxMergeAttempts = 2
    }

    public struct Monitor: Sendable, Equatable {
        public var interval: Double = 60
        public var autoRecover = true
        public var autoFix = false
        /// At most one restart request per this long.
        public var restartCooldown: Double = 600
        /// Probe the daemon's own /api/health each check.
        public var apiProbe = true
        public var thresholds = MonitorThresholds()
    }

    public struct Logs: Sendable, Equatable {
        public var maxBytes = 5 * 1024 * 1024
        public var backups = 3
        public var taskLogRetention: Double = 7 * 86400
        /// Ingested log lines (and their fingerprints) are kept this long, seconds.
        public var ttl: Double = 86400
        /// Ingested lines are pruned oldest first past this many bytes of messages.
        public var storeMaxBytes = 256 * 1024 * 1024
        /// Regex rules tried before the built-in ones.
        public var rules: [LogRuleConfig] = []
        /// A fingerprint notifies once it has been seen this many times in a run.
        public var notifyCount = 3
        /// A fingerprint notifies again in the same run only after this long, seconds.
        public var debounce: Double = 3600
        /// `GET /api/logs/raw` and the tail cut lines past this many characters.
        public var rawWidth = 2000
        public var llm = LogLLM()
        public init() {}
    }

    /// `logs.rules[]`: a regex rule with an id and a severity.
    public struct LogRuleConfig: Sendable, Equatable {
        public var id: String
        public var pattern: String
        public var severity: Severity
        public init(id: String, pattern: String, severity: Severity) {
            self.id = id
            self.pattern = pattern
            self.severity = severity
        }
    }

    /// `logs.llm`: the OpenAI-compatible chat-completions endpoint `logs ask` uses.
    public struct LogLLM: Sendable, Equatable {
        /// e.g. `http://127.0.0.1:11434/v1`; "" = questions get the extractive answer.
        public var baseURL = ""
        public var model = ""
        /// The environment variable holding the API key ("" or unset = no Authorization header).
        public var apiKeyEnv = "NIGHTSHIFT_LLM_API_KEY"
        /// Tokens (prompt + completion) one log run may spend.
        public var maxTokensPerRun = 10_000
        /// How long one request may take, seconds.
        public var timeout: Double = 30
        /// Failures in a row that open the circuit breaker, and how long it stays open.
        public var breakerFailures = 3
        public var breakerCooldown: Double = 60
        public init() {}
    }

    /// `store`: where tasks live and how long ended ones are kept.
    public struct Store: Sendable, Equatable {
        /// `store.url` (env `NIGHTSHIFT_STORE_URL`): empty for the state dir's SQLite database,
        /// else a URL `StoreURL.parse` accepts (`postgres://user@host:port/db`).
        public var url = ""
        /// Seconds an ended task is kept after it ended, by status (`completed`, `failed`,
        /// `cancelled`); absent or 0 = kept forever. Pruning deletes the task, its events and
        /// its log and result files.
        public var retention: [TaskStatus: Double] = [:]
        /// Tasks deleted per transaction while pruning, so writers never wait long.
        public var pruneBatch = 500
    }

    /// `node`: this daemon among the daemons that share a PostgreSQL store (one node on SQLite).
    public struct Node: Sendable, Equatable {
        /// `node.id` (env `NIGHTSHIFT_NODE_ID`); empty = the host name and a hash of the state dir.
        public var id = ""
        /// Seconds between heartbeats (and leadership checks).
        public var heartbeat: Double = 2
        /// Seconds after its last heartbeat that a node counts as dead: the leader then rescues
        /// its tasks, and another node takes the lead over if it was the leader.
        public var lease: Double = 10
    }

    public struct Gate: Sendable, Equatable {
        public var ciCommand = ""
        /// A daemon must be running (and ready) for the gate to pass. Off by default: the gate
        /// runs before a start; a daemon that does run must be ready either way.
        public var requireDaemon = false
    }

    /// `nightshift watchdog`: how it restarts `serve` and when it gives up (WatchdogPolicy).
    public struct Watchdog: Sendable, Equatable {
        /// Starts allowed within `startWindow`; a crash past them is a crash loop and the watchdog gives up.
        public var startLimit = 5
        public var startWindow: Double = 60
        /// Delay before restarting a crashed daemon; doubles per consecutive crash up to `backoffMax`.
        public var backoffBase: Double = 0.2
        public var backoffMax: Double = 30
        /// A daemon that ran this long before it crashed restarts after `backoffBase` again.
        public var resetAfter: Double = 10
        /// Time between `/api/health` probes, and how long one may take.
        public var healthInterval: Double = 1
        public var healthTimeout: Double = 2
        /// Failed probes in a row after which a daemon that had answered is hung and restarted.
        public var healthFailures = 3
        /// A new daemon that has not answered a probe this long after its start is hung.
        public var startupTimeout: Double = 60
        /// Graceful stop: SIGTERM to the daemon's process group, this long to drain, then SIGKILL
        /// (a hung daemon gets at most 5 s).
        public var stopTimeout: Double = 45
        public init() {}
    }

    public struct Telegram: Sendable, Equatable {
        public var token = ""
        public var chatIds: [String] = []
        public var allowedUserIds: [String] = []
        public var secret = ""
        public var apiBase = ""
    }

    public struct Notify: Sendable, Equatable {
        public var webhooks: [String] = []
        /// HMAC-SHA256 key for the `X-Nightshift-Signature` header of webhook posts.
        public var webhookSecret = ""
        /// An issue alerts at most once per this long.
        public var debounce: Double = 600
        public var telegram = Telegram()
        public init() {}
    }

    /// `report`: the run gates (`nightshift run`, the session report).
    public struct Report: Sendable, Equatable {
        /// By profile (`default` applies to all): gates replacing the defaults of their metric.
        public var gates: [String: [RunGates.Gate]] = [:]
    }

    public var server = Server()
    public var stateDir = "logs"
    /// Task types beyond the five built-ins.
    public var taskTypes: [String] = []
    public var runner = Runner()
    public var projectManager = ProjectManager()
    public var monitor = Monitor()
    public var logs = Logs()
    public var store = Store()
    public var node = Node()
    public var gate = Gate()
    public var watchdog = Watchdog()
    public var notify = Notify()
    public var report = Report()
    /// `budget`: spend caps per task, run and day (`nightshift run --budget` sets the run's).
    public var budget = BudgetCaps()
    /// `pricing`: the price table live metering estimates with (the built-in one by default).
    public var pricing = PriceTable.builtIn

    public init() {}

    /// Every task type a task may have: the built-ins plus `task_types`.
    public var allTaskTypes: [TaskType] {
        let extra = taskTypes.map { TaskType($0) }.filter { !TaskType.builtIn.contains($0) }
        return TaskType.builtIn + extra
    }

    /// True when the server listens only on this machine: 127.0.0.0/8, ::1 or localhost. Any
    /// other host, including a name that merely starts with "127.", counts as reachable from
    /// outside, so the stricter rules apply.
    public var isLoopbackOnly: Bool { Self.isLoopback(host: server.host) }

    /// Whether `host` is a loopback address or name.
    public static func isLoopback(host: String) -> Bool {
        let h = host.lowercased()
        if ["localhost", "localhost.", "::1", "[::1]"].contains(h) { return true }
        let octets = h.split(separator: ".", omittingEmptySubsequences: false)
        guard octets.count == 4, octets[0] == "127" else { return false }
        return octets.allSatisfy { o in !o.isEmpty && o.allSatisfy { ("0"..."9").contains($0) } && UInt8(o) != nil }
    }

    /// The base URL clients use to reach this daemon.
    public var baseURL: String {
        let host = (server.host == "0.0.0.0" || server.host == "::") ? "127.0.0.1" : server.host
        let shown = host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
        return "http://\(shown):\(server.port)"
    }

    /// The config with the executors the pipeline needs added: `verify` runs `verify_command`.
    public func withDerivedExecutors() -> NightshiftConfig {
        var c = self
        if !c.projectManager.verifyCommand.isEmpty && c.runner.executors[PipelinePlan.verifyExecutor] == nil {
            c.runner.executors[PipelinePlan.verifyExecutor] = Executor(command: c.projectManager.verifyCommand)
        }
        return c
    }
}
