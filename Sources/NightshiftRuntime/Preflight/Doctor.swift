import Foundation
import NightshiftCore

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// `nightshift doctor`: gathers the facts the preflight judges (`Preflight` in Core) — which
/// executors the night will use and whether their binaries run, each executor's smoke command,
/// the backlog, the workspace, the state dir, the budget, the notifiers — and returns one check
/// each. Runs before the watchdog's first start and before `nightshift run`; a FAIL stops them.
/// Nothing here changes the state dir beyond a probe file and the `doctor/` output logs.
public struct Doctor: Sendable {
    public struct Options: Sendable {
        /// `dev`, `stage` or `prod`: how strict the budget check is.
        public var profile = "dev"
        public var budgetUSD: Double?
        /// Run the executors' smoke commands (they cost a little with a real agent).
        public var smoke = true
        /// Longest `--version` run.
        public var versionTimeout: Double = 10
        /// Longest smoke command run.
        public var smokeTimeout: Double = 120
        /// Longest notifier request.
        public var httpTimeout: Double = 5
        public init() {}
    }

    public static let profiles = ["dev", "stage", "prod"]

    let config: NightshiftConfig
    let paths: StatePaths
    let options: Options
    let redactor: Redactor

    public init(config: NightshiftConfig, paths: StatePaths, options: Options = Options()) {
        self.config = config.withDerivedExecutors()
        self.paths = paths
        self.options = options
        self.redactor = ServiceEnvironment.redactor(for: config)
    }

    public func run() async -> Preflight.Report {
        var checks: [Preflight.Check] = []
        let (stateCheck, writable) = checkStateDir()
        let outputDir =
            writable
            ? paths.file("doctor") : (NSTemporaryDirectory() as NSString).appendingPathComponent("nightshift-doctor-\(getpid())")
        try? AtomicFile.ensureDirectory(outputDir)
        for name in executorNames() {
            checks += await checkExecutor(name, outputDir: outputDir)
        }
        checks.append(checkBacklog())
        checks.append(await checkWorkspace())
        checks.append(stateCheck)
        checks.append(Preflight.budget(profile: options.profile, usd: options.budgetUSD))
        checks += await checkNotifiers()
        checks.append(await checkLogLLM())
        return Preflight.Report(checks: checks)
    }

    // MARK: - Executors

    /// The executors the night will use: those of the pipeline's phases (and `heal` when the
    /// monitor may create heal tasks) when a backlog is configured, else every one tasks may name.
    func executorNames() -> [String] {
        let runner = config.runner
        var names: [String] = []
        func add(_ n: String) { if !names.contains(n) { names.append(n) } }
        if !config.projectManager.backlog.isEmpty {
            for phase in PipelinePlan(config: config).phases {
                add(phase == PipelinePlan.verifyPhase ? PipelinePlan.verifyExecutor : runner.executorFor[phase] ?? "default")
            }
            if config.monitor.autoFix { add(runner.executorFor[TaskType.heal.rawValue] ?? "default") }
        } else {
            add("default")
            for type in config.allTaskTypes { if let n = runner.executorFor[type.rawValue] { add(n) } }
        }
        return names
    }

    /// Where the executor's agents run: the workspace (items get worktrees of it), else here.
    var agentDirectory: String {
        config.runner.workspace.isEmpty ? FileManager.default.currentDirectoryPath : config.runner.workspace
    }

    func checkExecutor(_ name: String, outputDir: String) async -> [Preflight.Check] {
        guard let executor = config.runner.executors[name] else {
            return [
                Preflight.Check(
                    .fail, "executor \(name)", "no executor named \(name) in runner.executors",
                    fix: "add runner.executors.\(name), or point runner.executor_for at one that exists")
            ]
        }
        let probe = AgentTask(
            id: "task_doctor", taskType: .spec, direction: "nightshift doctor: reply with the single word OK", now: Date())
        let environment = AgentRunner.agentEnvironment(
            for: probe, executor: executor, resultPath: (outputDir as NSString).appendingPathComponent("\(name)-result.json"),
            paths: paths)
        var checks: [Preflight.Check] = []
        let program = Preflight.program(of: executor.command)
        let resolved = program.flatMap { resolve($0.program, environment: environment) }
        let script = program?.script.flatMap { expand($0, environment) }.map { path -> (path: String, exists: Bool) in
            let full = path.hasPrefix("/") ? path : (agentDirectory as NSString).appendingPathComponent(path)
            return (path, FileManager.default.fileExists(atPath: full))
        }
        var version = Preflight.VersionRun.notRun
        if let resolved, !isInside(resolved, agentDirectory) {
            let arguments = Preflight.probeArguments(for: resolved)
            let report = await runSupervised(
                CommandTemplate.shellQuote(resolved) + " " + arguments, environment: environment, timeout: options.versionTimeout,
                log: (outputDir as NSString).appendingPathComponent("\(name)-version.log"))
            switch report.end {
            case .exited(let status): version = .exited(status, output: report.tail, arguments: arguments)
            case .signaled(let sig): version = .failedToRun("killed by signal \(sig)")
            case .timedOut, .stalled: version = .failedToRun("no answer to \(arguments) within \(Int(options.versionTimeout)) s")
            case .stopped(let why), .spawnFailed(let why): version = .failedToRun(why)
            case .halted(let why): version = .failedToRun("\(why)")
            }
        }
        checks.append(
            Preflight.executor(name: name, command: executor.command, resolved: resolved, script: script, version: version))
        guard options.smoke, checks.last?.status != .fail else { return checks }
        let smoke = executor.smokeCommand
        if smoke.isEmpty {
            checks.append(Preflight.smoke(name: name, command: "", end: .exited(0), output: "", log: ""))
            return checks
        }
        let log = (outputDir as NSString).appendingPathComponent("\(name)-smoke.log")
        let report = await runSupervised(
            CommandTemplate.render(smoke, task: probe), environment: environment, timeout: options.smokeTimeout, log: log)
        let end: Preflight.SmokeEnd
        switch report.end {
        case .exited(let status): end = .exited(status)
        case .signaled(let sig): end = .signaled(sig)
        case .timedOut, .stalled: end = .timedOut(options.smokeTimeout)
        case .stopped(let why), .spawnFailed(let why): end = .failedToRun(why)
        case .halted(let why): end = .failedToRun("\(why)")
        }
        checks.append(Preflight.smoke(name: name, command: smoke, end: end, output: report.tail, log: log))
        return checks
    }

    /// Runs `command` the way an agent runs: its own process group, output redacted into `log`,
    /// torn down at `timeout`, nothing left behind.
    func runSupervised(_ command: String, environment: [String: String], timeout: Double, log: String) async -> AttemptReport {
        let launch = AgentLaunch(
            taskID: "task_doctor", command: command, environment: environment, workingDirectory: agentDirectory, logPath: log,
            timeout: timeout, stallTimeout: timeout, killGrace: 2, tailBytes: 8 * 1024)
        return await AgentProcess.run(
            launch, redactor: redactor, stopper: AttemptStopper(), header: "=== nightshift doctor: \(command) ===",
            onSpawn: { _ in true })
    }

    /// The program's full path: as given when it has a `/` (relative to the agents' directory),
    /// else the first executable of that name on the agents' PATH.
    func resolve(_ program: String, environment: [String: String]) -> String? {
        let fm = FileManager.default
        guard let expanded = expand(program, environment) else { return nil }
        if expanded.contains("/") {
            let full = expanded.hasPrefix("/") ? expanded : (agentDirectory as NSString).appendingPathComponent(expanded)
            return fm.isExecutableFile(atPath: full) ? (full as NSString).standardizingPath : nil
        }
        let path = environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for dir in path.split(separator: ":") where !dir.isEmpty {
            let candidate = (String(dir) as NSString).appendingPathComponent(expanded)
            var isDir: ObjCBool = false
            if fm.fileExists(atPath: candidate, isDirectory: &isDir), !isDir.boolValue, fm.isExecutableFile(atPath: candidate) {
                return candidate
            }
        }
        return nil
    }

    /// `$NAME` and `${NAME}` replaced from `environment`; nil when one is not set (the check
    /// cannot tell then) or the word still holds a placeholder.
    func expand(_ word: String, _ environment: [String: String]) -> String? {
        guard word.contains("$") else { return word.contains("{") ? nil : word }
        var out = ""
        var i = word.startIndex
        while i < word.endIndex {
            guard word[i] == "$" else {
                out.append(word[i])
                i = word.index(after: i)
                continue
            }
            var j = word.index(after: i)
            let braced = j < word.endIndex && word[j] == "{"
            if braced { j = word.index(after: j) }
            let start = j
            while j < word.endIndex, word[j] == "_" || word[j].isLetter || word[j].isNumber { j = word.index(after: j) }
            let name = String(word[start..<j])
            if braced {
                guard j < word.endIndex, word[j] == "}" else { return nil }
                j = word.index(after: j)
            }
            guard !name.isEmpty, let value = environment[name] else { return nil }
            out += value
            i = j
        }
        return out
    }

    func isInside(_ path: String, _ dir: String) -> Bool {
        let d = (dir as NSString).standardizingPath
        return path.hasPrefix(d.hasSuffix("/") ? d : d + "/")
    }

    // MARK: - Backlog, workspace, state dir

    func checkBacklog() -> Preflight.Check {
        let path = config.projectManager.backlog
        guard !path.isEmpty else {
            return Preflight.Check(.skip, "backlog", "project_manager.backlog is empty: no project manager, ad-hoc tasks only")
        }
        do {
            let entries = try ProjectManager.readBacklog(path).entries
            guard !entries.isEmpty else {
                return Preflight.Check(.warn, "backlog", "\(path) has no items", fix: "add numbered lines \"1. item\" to it")
            }
            return Preflight.Check(.pass, "backlog", "\(path): \(entries.count) item(s)")
        } catch {
            return Preflight.Check(.fail, "backlog", "\(error)", fix: "fix the line named; the daemon would refuse to start")
        }
    }

    func checkWorkspace() async -> Preflight.Check {
        let repo = config.runner.workspace
        guard !repo.isEmpty else {
            return Preflight.Check(
                .skip, "workspace",
                "runner.workspace is empty: agents run in \(FileManager.default.currentDirectoryPath), no worktrees")
        }
        do {
            try await Workspace(repository: repo, root: paths.file("worktrees")).validate()
            let head = (try? await Workspace.git(["rev-parse", "--short", "HEAD"], in: repo)) ?? "?"
            return Preflight.Check(.pass, "workspace", "\(repo) is a clean git repository at \(head)")
        } catch {
            return Preflight.Check(
                .fail, "workspace", "\(error)",
                fix: "commit or stash the changes, or set runner.workspace to a clean git repository")
        }
    }

    /// Writable (a probe file is written and removed) and with room; the state dir is created
    /// when it does not exist yet, as the daemon would.
    func checkStateDir() -> (Preflight.Check, writable: Bool) {
        var writeError: String?
        do {
            try paths.prepare()
            let probe = paths.file(".doctor-probe-\(getpid())")
            try AtomicFile.write(Data("probe\n".utf8), to: probe)
            try FileManager.default.removeItem(atPath: probe)
        } catch {
            writeError = StateFileError.describe(error)
        }
        let check = Preflight.stateDir(
            path: paths.root, writeError: writeError, freeBytes: DiskSpace.freeBytes(paths.root),
            warnBelow: config.monitor.thresholds.diskMinFreeBytes)
        return (check, writeError == nil)
    }

    // MARK: - Notifiers

    func checkNotifiers() async -> [Preflight.Check] {
        var checks: [Preflight.Check] = []
        let notify = config.notify
        for url in notify.webhooks {
            let answer = await request(url, method: "HEAD")
            checks.append(Preflight.webhook(url: url, status: answer.status, error: answer.error))
        }
        if !notify.telegram.token.isEmpty {
            let base = notify.telegram.apiBase.isEmpty ? "https://api.telegram.org" : notify.telegram.apiBase
            let answer = await request("\(base)/bot\(notify.telegram.token)/getMe", method: "GET")
            let body = answer.body.flatMap { JSONValue.parse(String(decoding: $0, as: UTF8.self)) }
            checks.append(
                Preflight.telegram(
                    status: answer.status, body: body,
                    error: answer.error.map { $0.replacingOccurrences(of: notify.telegram.token, with: "…") },
                    chatIDs: notify.telegram.chatIds.count))
        }
        if checks.isEmpty {
            checks.append(Preflight.Check(.skip, "notify", "no webhooks and no Telegram bot: alerts only reach the logs"))
        }
        return checks
    }

    /// The log Q&A endpoint (`logs.llm.base_url`), when set: `GET <base>/models` with its key.
    func checkLogLLM() async -> Preflight.Check {
        let llm = config.logs.llm
        guard !llm.baseURL.isEmpty else {
            return Preflight.Check(.skip, "log llm", "logs.llm.base_url is empty: log questions get extractive answers")
        }
        let base = llm.baseURL.hasSuffix("/") ? String(llm.baseURL.dropLast()) : llm.baseURL
        let key = ProcessInfo.processInfo.environment[llm.apiKeyEnv] ?? ""
        let answer = await request("\(base)/models", method: "GET", bearer: key)
        guard let status = answer.status else {
            return Preflight.Check(
                .fail, "log llm", "\(base) unreachable: \(answer.error ?? "no answer")",
                fix: "check logs.llm.base_url (address, port, proxy), or set it to \"\" to answer log questions offline")
        }
        if status == 401 || status == 403 {
            return Preflight.Check(
                .fail, "log llm", "\(base) answered HTTP \(status): the key in $\(llm.apiKeyEnv) is refused",
                fix: "set a valid key in $\(llm.apiKeyEnv)", providerFailure: .authentication)
        }
        if status >= 500 {
            return Preflight.Check(.warn, "log llm", "\(base) answered HTTP \(status)", fix: "the endpoint is up but failing")
        }
        return Preflight.Check(.pass, "log llm", "\(base) answers (HTTP \(status))")
    }

    func request(_ url: String, method: String, bearer: String = "") async -> (status: Int?, body: Data?, error: String?) {
        guard let u = URL(string: url), u.scheme == "http" || u.scheme == "https" else { return (nil, nil, "not an http(s) URL") }
        var r = URLRequest(url: u, timeoutInterval: options.httpTimeout)
        r.httpMethod = method
        if !bearer.isEmpty { r.setValue("Bearer \(bearer)", forHTTPHeaderField: "Authorization") }
        do {
            let (data, response) = try await URLSession.shared.data(for: r)
            return ((response as? HTTPURLResponse)?.statusCode ?? 0, data, nil)
        } catch {
            return (nil, nil, error.localizedDescription)
        }
    }
}
