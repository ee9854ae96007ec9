import Foundation
import Yams

/// Walks the YAML tree of a config file key by key. Every key it does not know is an error, and
/// every error names the key's dotted path and its line.
struct ConfigReader {
    let file: String
    /// Line of each key seen, so an unknown key is reported where it is written.
    private final class KeyLines: @unchecked Sendable { var byPath: [String: Int] = [:] }
    private let keyLines = KeyLines()

    init(file: String) { self.file = file }

    func read(_ root: Node, into c: inout NightshiftConfig) throws(ConfigError) {
        for (key, node) in try mapping(root, "") {
            switch key {
            case "server":
                for (k, v) in try mapping(node, "server") {
                    let p = "server.\(k)"
                    switch k {
                    case "host": c.server.host = try string(v, p)
                    case "port": c.server.port = try int(v, p, min: 0, max: 65535)
                    case "token": c.server.token = try string(v, p)
                    case "max_body": c.server.maxBodyBytes = try byteSize(v, p, min: 1024)
                    case "metrics_public": c.server.metricsPublic = try bool(v, p)
                    default: throw unknown(p, v)
                    }
                }
            case "state_dir": c.stateDir = try string(node, key)
            case "task_types": c.taskTypes = try stringList(node, key)
            case "runner": try readRunner(node, &c.runner)
            case "project_manager": try readProjectManager(node, &c.projectManager)
            case "monitor":
                for (k, v) in try mapping(node, "monitor") {
                    let p = "monitor.\(k)"
                    switch k {
                    case "interval": c.monitor.interval = try duration(v, p, positive: true)
                    case "auto_recover": c.monitor.autoRecover = try bool(v, p)
                    case "auto_fix": c.monitor.autoFix = try bool(v, p)
                    case "restart_cooldown": c.monitor.restartCooldown = try duration(v, p, positive: false)
                    case "api_probe": c.monitor.apiProbe = try bool(v, p)
                    case "thresholds": try readThresholds(v, &c.monitor.thresholds)
                    default: throw unknown(p, v)
                    }
                }
            case "logs":
                for (k, v) in try mapping(node, "logs") {
                    let p = "logs.\(k)"
                    switch k {
                    case "max_bytes": c.logs.maxBytes = try byteSize(v, p, min: 1024)
                    case "backups": c.logs.backups = try int(v, p, min: 0, max: 100)
                    case "task_log_retention": c.logs.taskLogRetention = try duration(v, p, positive: false)
                    case "ttl": c.logs.ttl = try duration(v, p, positive: true)
                    case "store_max_bytes": c.logs.storeMaxBytes = try byteSize(v, p, min: 64 * 1024)
                    case "notify_count": c.logs.notifyCount = try int(v, p, min: 1, max: 1_000_000)
                    case "debounce": c.logs.debounce = try duration(v, p, positive: false)
                    case "raw_width": c.logs.rawWidth = try int(v, p, min: 40, max: 1_000_000)
                    case "rules": c.logs.rules = try readLogRules(v, p)
                    case "llm": try readLogLLM(v, &c.logs.llm)
                    default: throw unknown(p, v)
                    }
                }
            case "store":
                for (k, v) in try mapping(node, "store") {
                    let p = "store.\(k)"
                    switch k {
                    case "retention":
                        for (status, d) in try mapping(v, p) {
                            let sp = "\(p).\(status)"
                            guard let st = TaskStatus(rawValue: status), st.isTerminal else {
                                throw ConfigError(
                                    path: sp, reason: "is not an ended status (one of completed, failed, cancelled)",
                                    location: at(d))
                            }
                            c.store.retention[st] = try duration(d, sp, positive: false)
                        }
                    case "prune_batch": c.store.pruneBatch = try int(v, p, min: 1, max: 10_000)
                    case "url": c.store.url = try string(v, p)
                    default: throw unknown(p, v)
                    }
                }
            case "node":
                for (k, v) in try mapping(node, "node") {
                    let p = "node.\(k)"
                    switch k {
                    case "id":
                        let id = try string(v, p)
                        if !id.isEmpty, let why = NodeID.validate(id) { throw ConfigError(path: p, reason: why, location: at(v)) }
                        c.node.id = id
                    case "heartbeat": c.node.heartbeat = try duration(v, p, positive: true)
                    case "lease": c.node.lease = try duration(v, p, positive: true)
                    default: throw unknown(p, v)
                    }
                }
            case "gate":
                for (k, v) in try mapping(node, "gate") {
                    let p = "gate.\(k)"
                    switch k {
                    case "ci_command": c.gate.ciCommand = try string(v, p)
                    case "require_daemon": c.gate.requireDaemon = try bool(v, p)
                    default: throw unknown(p, v)
                    }
                }
            case "watchdog": try readWatchdog(node, &c.watchdog)
            case "notify": try readNotify(node, &c.notify)
            case "report": try readReport(node, &c.report)
            case "budget": try readBudget(node, &c.budget)
            case "pricing": c.pricing = try readPricing(node)
            default: throw unknown(key, node)
            }
        }
    }

    /// `budget: {per_task_usd, per_run_usd, per_day_usd, reserve_usd}`.
    private func readBudget(_ node: Node, _ b: inout BudgetCaps) throws(ConfigError) {
        for (k, v) in try mapping(node, "budget") {
            let p = "budget.\(k)"
            func cap() throws(ConfigError) -> Double? {
                if case .scalar(let sc) = v, ["", "~", "null", "none"].contains(sc.string) { return nil }
                let n = try number(v, p, min: 0)
                guard n > 0 else {
                    throw ConfigError(path: p, reason: "must be more than 0 (leave it out for no cap)", location: at(v))
                }
                return n
            }
            switch k {
            case "per_task_usd": b.perTaskUSD = try cap()
            case "per_run_usd": b.perRunUSD = try cap()
            case "per_day_usd": b.perDayUSD = try cap()
            case "reserve_usd": b.reserveUSD = try number(v, p, min: 0)
            default: throw unknown(p, v)
            }
        }
    }

    /// `pricing: {version, models: {<model>: {input, output, cache_read, cache_write}}}` in USD
    /// per million tokens; models listed replace or add to the built-in table.
    private func readPricing(_ node: Node) throws(ConfigError) -> PriceTable {
        var table = PriceTable.builtIn
        for (k, v) in try mapping(node, "pricing") {
            let p = "pricing.\(k)"
            switch k {
            case "version": table.version = try string(v, p)
            case "models":
                for (model, mv) in try mapping(v, p) {
                    let mp = "\(p).\(model)"
                    var price = ModelPrice(input: 0, output: 0, cacheRead: 0, cacheWrite: 0)
                    var seen: Set<String> = []
                    for (pk, pv) in try mapping(mv, mp) {
                        let kp = "\(mp).\(pk)"
                        switch pk {
                        case "input": price.input = try number(pv, kp, min: 0)
                        case "output": price.output = try number(pv, kp, min: 0)
                        case "cache_read": price.cacheRead = try number(pv, kp, min: 0)
                        case "cache_write": price.cacheWrite = try number(pv, kp, min: 0)
                        default: throw unknown(kp, pv)
                        }
                        seen.insert(pk)
                    }
                    guard seen.contains("input") && seen.contains("output") else {
                        throw ConfigError(
                            path: mp, reason: "needs input and output prices (USD per million tokens)", location: at(mv))
                    }
                    table.models[model.lowercased()] = price
                }
            default: throw unknown(p, v)
            }
        }
        return table
    }

    /// `report.gates.<profile|default>.<metric>: {min, max, priority}`.
    private func readReport(_ node: Node, _ r: inout NightshiftConfig.Report) throws(ConfigError) {
        for (k, v) in try mapping(node, "report") {
            let p = "report.\(k)"
            switch k {
            case "gates":
                for (profile, gv) in try mapping(v, p) {
                    let pp = "\(p).\(profile)"
                    guard profile == "default" || ["dev", "stage", "prod"].contains(profile) else {
                        throw ConfigError(path: pp, reason: "is not a profile (default, dev, stage or prod)", location: at(gv))
                    }
                    var gates: [RunGates.Gate] = []
                    for (name, mv) in try mapping(gv, pp) {
                        let mp = "\(pp).\(name)"
                        guard let metric = RunGates.Metric(rawValue: name) else {
                            throw ConfigError(
                                path: mp,
                                reason:
                                    "is not a gate metric (one of \(RunGates.Metric.allCases.map(\.rawValue).joined(separator: ", ")))",
                                location: at(mv))
                        }
                        var gate = RunGates.Gate(metric, .p1)
                        for (gk, gvv) in try mapping(mv, mp) {
                            switch gk {
                            case "min": gate.min = try number(gvv, "\(mp).min", min: -Double.greatestFiniteMagnitude)
                            case "max": gate.max = try number(gvv, "\(mp).max", min: -Double.greatestFiniteMagnitude)
                            case "priority":
                                let text = try string(gvv, "\(mp).priority")
                                guard let pr = RunGates.Priority(rawValue: text.uppercased()) else {
                                    throw ConfigError(
                                        path: "\(mp).priority", reason: "must be P0, P1 or P2, got \"\(text)\"", location: at(gvv)
                                    )
                                }
                                gate.priority = pr
                            default: throw unknown("\(mp).\(gk)", gvv)
                            }
                        }
                        if let lo = gate.min, let hi = gate.max, lo > hi {
                            throw ConfigError(path: mp, reason: "min \(lo) is above max \(hi)", location: at(mv))
                        }
                        gates.append(gate)
                    }
                    r.gates[profile] = gates
                }
            default: throw unknown(p, v)
            }
        }
    }

    private func readRunner(_ node: Node, _ r: inout NightshiftConfig.Runner) throws(ConfigError) {
        for (k, v) in try mapping(node, "runner") {
            let p = "runner.\(k)"
            switch k {
            case "workers": r.workers = try int(v, p, min: 1, max: 256)
            case "task_timeout": r.taskTimeout = try duration(v, p, positive: true)
            case "stall_timeout": r.stallTimeout = try duration(v, p, positive: true)
            case "idle_timeout": r.idleTimeout = try duration(v, p, positive: true)
            case "usage_limit_backoff":
                for (bk, bv) in try mapping(v, p) {
                    switch bk {
                    case "base": r.usageLimitBackoff.base = try duration(bv, "\(p).base", positive: true)
                    case "max": r.usageLimitBackoff.max = try duration(bv, "\(p).max", positive: true)
                    default: throw unknown("\(p).\(bk)", bv)
                    }
                }
            case "max_attempts": r.maxAttempts = try int(v, p, min: 1, max: 100)
            case "lease": r.lease = try duration(v, p, positive: true)
            case "kill_grace": r.killGrace = try duration(v, p, positive: false)
            case "drain_timeout": r.drainTimeout = try duration(v, p, positive: false)
            case "workspace": r.workspace = try string(v, p)
            case "poll_interval": r.pollInterval = try duration(v, p, positive: true)
            case "output_tail": r.outputTailBytes = try byteSize(v, p, min: 0)
            case "redact_env": r.redactEnv = try stringList(v, p)
            case "retry_backoff":
                for (bk, bv) in try mapping(v, p) {
                    switch bk {
                    case "base": r.retryBackoff.base = try duration(bv, "\(p).base", positive: false)
                    case "max": r.retryBackoff.max = try duration(bv, "\(p).max", positive: false)
                    default: throw unknown("\(p).\(bk)", bv)
                    }
                }
            case "executors":
                var executors: [String: NightshiftConfig.Executor] = [:]
                for (name, ev) in try mapping(v, p) {
                    let ep = "\(p).\(name)"
                    var command: String?
                    var e = NightshiftConfig.Executor(command: "")
                    for (ek, evv) in try mapping(ev, ep) {
                        let kp = "\(ep).\(ek)"
                        switch ek {
                        case "command": command = try string(evv, kp)
                        case "smoke_command": e.smokeCommand = try string(evv, kp)
                        case "resume_command": e.resumeCommand = try string(evv, kp)
                        case "max_turns": e.maxTurns = try int(evv, kp, min: 0, max: 1_000_000)
                        case "model": e.model = try string(evv, kp)
                        case "format":
                            let text = try string(evv, kp)
                            guard let f = AgentFormat(rawValue: text) else {
                                throw ConfigError(
                                    path: kp,
                                    reason:
                                        "must be one of \(AgentFormat.allCases.map(\.rawValue).joined(separator: ", ")), got \"\(text)\"",
                                    location: at(evv))
                            }
                            e.format = f
                        case "usage_limit_pattern":
                            let text = try string(evv, kp)
                            do { _ = try NSRegularExpression(pattern: text) } catch {
                                throw ConfigError(path: kp, reason: "is not a valid regular expression", location: at(evv))
                            }
                            e.usageLimitPattern = text
                        case "env":
                            for (envKey, envValue) in try mapping(evv, "\(ep).env") {
                                e.env[envKey] = try string(envValue, "\(ep).env.\(envKey)")
                            }
                        default: throw unknown(kp, evv)
                        }
                    }
                    guard let command else { throw ConfigError(path: "\(ep).command", reason: "is required", location: at(ev)) }
                    e.command = command
                    if !e.resumeCommand.isEmpty && !e.format.isStructured {
                        throw ConfigError(
                            path: "\(ep).resume_command",
                            reason:
                                "needs a structured format (claude-stream-json or codex-jsonl): a plain agent reports no session",
                            location: at(ev))
                    }
                    executors[name] = e
                }
                r.executors = executors
            case "executor_for":
                var map: [String: String] = [:]
                for (type, tv) in try mapping(v, p) { map[type] = try string(tv, "\(p).\(type)") }
                r.executorFor = map
            default: throw unknown(p, v)
            }
        }
    }

    private func readProjectManager(_ node: Node, _ pm: inout NightshiftConfig.ProjectManager) throws(ConfigError) {
        for (k, v) in try mapping(node, "project_manager") {
            let p = "project_manager.\(k)"
            switch k {
            case "backlog": pm.backlog = try string(v, p)
            case "phases": pm.phases = try stringList(v, p)
            case "max_iterations": pm.maxIterations = try int(v, p, min: 1, max: 1000)
            case "decision_timeout": pm.decisionTimeout = try duration(v, p, positive: false)
            case "hours": pm.hours = try number(v, p, min: 0) * 3600
            case "auto_commit": pm.autoCommit = try bool(v, p)
            case "parallel_items": pm.parallelItems = try int(v, p, min: 1, max: 256)
            case "verify_command": pm.verifyCommand = try string(v, p)
            case "auto_push": pm.autoPush = try bool(v, p)
            case "worktree_retention": pm.worktreeRetention = try duration(v, p, positive: false)
            case "land":
                let text = try string(v, p)
                guard let mode = LandMode(rawValue: text) else {
                    throw ConfigError(path: p, reason: "must be off, local or push, not \"\(text)\"", location: at(v))
                }
                pm.land = mode
            case "base_branch":
                let name = try string(v, p)
                if let problem = LandMode.branchNameProblem(name) {
                    throw ConfigError(path: p, reason: problem, location: at(v))
                }
                pm.baseBranch = name
            case "max_merge_attempts": pm.maxMergeAttempts = try int(v, p, min: 0, max: 100)
            case "templates":
                var map: [String: String] = [:]
                for (phase, tv) in try mapping(v, p) { map[phase] = try string(tv, "\(p).\(phase)") }
                pm.templates = map
            case "contracts":
                var contracts: [String: PhaseContract] = [:]
                for (phase, cv) in try mapping(v, p) { contracts[phase] = try readContract(cv, "\(p).\(phase)") }
                pm.contracts = contracts
            default: throw unknown(p, v)
            }
        }
    }

    /// `project_manager.contracts.<phase>`: `summary: {headings, patterns}` and
    /// `files: {<relative path>: {headings, patterns}}`. Which phases may have one is checked
    /// by `ConfigLoader.validate`, once the phases are known.
    private func readContract(_ node: Node, _ path: String) throws(ConfigError) -> PhaseContract {
        var contract = PhaseContract()
        for (k, v) in try mapping(node, path) {
            let p = "\(path).\(k)"
            switch k {
            case "summary": contract.summary = try readRequirements(v, p)
            case "files":
                for (file, fv) in try mapping(v, p) {
                    let fp = "\(p).\(file)"
                    if let problem = PhaseContract.pathProblem(file) {
                        throw ConfigError(path: fp, reason: problem, location: keyLines.byPath[fp].map { "\(self.file):\($0)" })
                    }
                    contract.files.append(.init(path: file, requirements: try readRequirements(fv, fp)))
                }
            default: throw unknown(p, v)
            }
        }
        return contract
    }

    private func readRequirements(_ node: Node, _ path: String) throws(ConfigError) -> PhaseContract.Requirements {
        var r = PhaseContract.Requirements()
        for (k, v) in try mapping(node, path) {
            let p = "\(path).\(k)"
            switch k {
            case "headings":
                r.headings = try checkedList(v, p, PhaseContract.headingProblem)
            case "patterns":
                r.patterns = try checkedList(v, p, PhaseContract.patternProblem)
            default: throw unknown(p, v)
            }
        }
        return r
    }

    /// A list of text whose every entry `problem` accepts; the error names the entry's index and line.
    private func checkedList(_ node: Node, _ path: String, _ problem: (String) -> String?) throws(ConfigError) -> [String] {
        let values = try stringList(node, path)
        if case .sequence(let seq) = node {
            for (i, (value, item)) in zip(values, seq).enumerated() {
                if let why = problem(value) { throw ConfigError(path: "\(path)[\(i)]", reason: why, location: at(item)) }
            }
        }
        return values
    }

    private func readThresholds(_ node: Node, _ t: inout MonitorThresholds) throws(ConfigError) {
        for (k, v) in try mapping(node, "monitor.thresholds") {
            let p = "monitor.thresholds.\(k)"
            switch k {
            case "heartbeat_stale": t.heartbeatStale = try duration(v, p, positive: true)
            case "no_progress": t.noProgress = try duration(v, p, positive: true)
            case "repeated_failures": t.repeatedFailures = try int(v, p, min: 0, max: 1000)
            case "success_window": t.successWindow = try int(v, p, min: 1, max: 10000)
            case "min_success_rate":
                let r = try number(v, p, min: 0)
                guard r <= 1 else { throw ConfigError(path: p, reason: "must be between 0 and 1, got \(r)", location: at(v)) }
                t.minSuccessRate = r
            case "decision_waiting": t.decisionWaiting = try duration(v, p, positive: true)
            case "disk_min_free": t.diskMinFreeBytes = Int64(try byteSize(v, p, min: 0))
            case "log_errors": t.logErrors = try int(v, p, min: 1, max: 1_000_000)
            case "log_recurring_tasks": t.logRecurringTasks = try int(v, p, min: 0, max: 10_000)
            default: throw unknown(p, v)
            }
        }
    }

    /// `logs.rules`: a list of `{id, pattern, severity}`; ids are unique, patterns compile.
    private func readLogRules(_ node: Node, _ path: String) throws(ConfigError) -> [NightshiftConfig.LogRuleConfig] {
        guard case .sequence(let seq) = node else {
            throw ConfigError(path: path, reason: "must be a list of {id, pattern, severity}", location: at(node))
        }
        var rules: [NightshiftConfig.LogRuleConfig] = []
        for (i, item) in seq.enumerated() {
            let ip = "\(path)[\(i)]"
            var id = ""
            var pattern = ""
            var severity = Severity.medium
            for (k, v) in try mapping(item, ip) {
                switch k {
                case "id": id = try string(v, "\(ip).id")
                case "pattern": pattern = try string(v, "\(ip).pattern")
                case "severity":
                    let text = try string(v, "\(ip).severity")
                    guard let s = Severity(rawValue: text) else {
                        throw ConfigError(
                            path: "\(ip).severity", reason: "must be low, medium, high or critical, got \"\(text)\"",
                            location: at(v))
                    }
                    severity = s
                default: throw unknown("\(ip).\(k)", v)
                }
            }
            guard !id.isEmpty, id.count <= 64, id.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }) else {
                throw ConfigError(path: "\(ip).id", reason: "must be 1-64 letters, digits, _ or -", location: at(item))
            }
            guard !rules.contains(where: { $0.id == id }), !LogRule.builtIn.contains(where: { $0.id == id }) else {
                throw ConfigError(path: "\(ip).id", reason: "\"\(id)\" is already a rule id", location: at(item))
            }
            if case .failure(let e) = NSRegularExpressionBox.compile(pattern) {
                throw ConfigError(path: "\(ip).pattern", reason: e.description, location: at(item))
            }
            rules.append(.init(id: id, pattern: pattern, severity: severity))
        }
        return rules
    }

    private func readLogLLM(_ node: Node, _ l: inout NightshiftConfig.LogLLM) throws(ConfigError) {
        for (k, v) in try mapping(node, "logs.llm") {
            let p = "logs.llm.\(k)"
            switch k {
            case "base_url":
                l.baseURL = try string(v, p)
                guard l.baseURL.isEmpty || l.baseURL.hasPrefix("http://") || l.baseURL.hasPrefix("https://") else {
                    throw ConfigError(path: p, reason: "must be an http:// or https:// URL or \"\"", location: at(v))
                }
            case "model": l.model = try string(v, p)
            case "api_key_env": l.apiKeyEnv = try string(v, p)
            case "max_tokens_per_run": l.maxTokensPerRun = try int(v, p, min: 0, max: 100_000_000)
            case "timeout": l.timeout = try duration(v, p, positive: true)
            case "breaker_failures": l.breakerFailures = try int(v, p, min: 1, max: 1000)
            case "breaker_cooldown": l.breakerCooldown = try duration(v, p, positive: false)
            default: throw unknown(p, v)
            }
        }
    }

    private func readNotify(_ node: Node, _ n: inout NightshiftConfig.Notify) throws(ConfigError) {
        for (k, v) in try mapping(node, "notify") {
            let p = "notify.\(k)"
            switch k {
            case "webhooks": n.webhooks = try stringList(v, p)
            case "webhook_secret": n.webhookSecret = try string(v, p)
            case "debounce": n.debounce = try duration(v, p, positive: false)
            case "telegram":
                for (tk, tv) in try mapping(v, p) {
                    let tp = "\(p).\(tk)"
                    switch tk {
                    case "token": n.telegram.token = try string(tv, tp)
                    case "chat_ids": n.telegram.chatIds = try stringList(tv, tp)
                    case "allowed_user_ids": n.telegram.allowedUserIds = try stringList(tv, tp)
                    case "secret": n.telegram.secret = try string(tv, tp)
                    case "api_base": n.telegram.apiBase = try string(tv, tp)
                    default: throw unknown(tp, tv)
                    }
                }
            default: throw unknown(p, v)
            }
        }
    }

    private func readWatchdog(_ node: Node, _ w: inout NightshiftConfig.Watchdog) throws(ConfigError) {
        for (k, v) in try mapping(node, "watchdog") {
            let p = "watchdog.\(k)"
            switch k {
            case "start_limit": w.startLimit = try int(v, p, min: 1, max: 10_000)
            case "start_window": w.startWindow = try duration(v, p, positive: true)
            case "backoff":
                for (bk, bv) in try mapping(v, p) {
                    switch bk {
                    case "base": w.backoffBase = try duration(bv, "\(p).base", positive: false)
                    case "max": w.backoffMax = try duration(bv, "\(p).max", positive: false)
                    default: throw unknown("\(p).\(bk)", bv)
                    }
                }
            case "reset_after": w.resetAfter = try duration(v, p, positive: false)
            case "health_interval": w.healthInterval = try duration(v, p, positive: true)
            case "health_timeout": w.healthTimeout = try duration(v, p, positive: true)
            case "health_failures": w.healthFailures = try int(v, p, min: 1, max: 1000)
            case "startup_timeout": w.startupTimeout = try duration(v, p, positive: true)
            case "stop_timeout": w.stopTimeout = try duration(v, p, positive: false)
            default: throw unknown(p, v)
            }
        }
    }

    // MARK: - Typed values

    private func at(_ node: Node) -> String? {
        node.mark.map { "\(file):\($0.line)" }
    }

    private func unknown(_ path: String, _ node: Node) -> ConfigError {
        ConfigError(path: path, reason: "unknown key", location: keyLines.byPath[path].map { "\(file):\($0)" } ?? at(node))
    }

    private func mapping(_ node: Node, _ path: String) throws(ConfigError) -> [(String, Node)] {
        if case .scalar(let s) = node, s.string.isEmpty || s.string == "~" || s.string == "null" { return [] }
        guard case .mapping(let m) = node else {
            throw ConfigError(path: path.isEmpty ? file : path, reason: "must be a mapping of keys to values", location: at(node))
        }
        var seen = Set<String>()
        var pairs: [(String, Node)] = []
        for (k, v) in m {
            guard case .scalar(let ks) = k else {
                throw ConfigError(path: path.isEmpty ? file : path, reason: "keys must be plain text", location: at(k))
            }
            let full = path.isEmpty ? ks.string : "\(path).\(ks.string)"
            if let m = k.mark { keyLines.byPath[full] = m.line }
            guard seen.insert(ks.string).inserted else {
                throw ConfigError(path: full, reason: "is given twice", location: at(k))
            }
            pairs.append((ks.string, v))
        }
        return pairs
    }

    private func scalarText(_ node: Node, _ path: String, _ expected: String) throws(ConfigError) -> String {
        guard case .scalar(let s) = node else {
            throw ConfigError(path: path, reason: "must be \(expected)", location: at(node))
        }
        return s.string
    }

    private func string(_ node: Node, _ path: String) throws(ConfigError) -> String {
        let text = try scalarText(node, path, "text")
        return text == "~" || text == "null" ? "" : text
    }

    private func int(_ node: Node, _ path: String, min: Int, max: Int) throws(ConfigError) -> Int {
        let text = try scalarText(node, path, "a whole number")
        guard let n = Int(text) else {
            throw ConfigError(path: path, reason: "must be a whole number, got \"\(text)\"", location: at(node))
        }
        guard (min...max).contains(n) else {
            throw ConfigError(path: path, reason: "must be between \(min) and \(max), got \(n)", location: at(node))
        }
        return n
    }

    private func number(_ node: Node, _ path: String, min: Double) throws(ConfigError) -> Double {
        let text = try scalarText(node, path, "a number")
        guard let n = Double(text), n.isFinite else {
            throw ConfigError(path: path, reason: "must be a number, got \"\(text)\"", location: at(node))
        }
        guard n >= min else { throw ConfigError(path: path, reason: "must be at least \(min), got \(n)", location: at(node)) }
        return n
    }

    private func bool(_ node: Node, _ path: String) throws(ConfigError) -> Bool {
        let text = try scalarText(node, path, "true or false")
        switch text.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default: throw ConfigError(path: path, reason: "must be true or false, got \"\(text)\"", location: at(node))
        }
    }

    private func duration(_ node: Node, _ path: String, positive: Bool) throws(ConfigError) -> Double {
        let text = try scalarText(node, path, "a duration like 500ms, 10s, 5m, 24h or 7d")
        guard let seconds = ConfigValues.parseDuration(text) else {
            throw ConfigError(
                path: path, reason: "must be a duration like 500ms, 10s, 5m, 24h or 7d, got \"\(text)\"", location: at(node))
        }
        if positive && seconds <= 0 {
            throw ConfigError(path: path, reason: "must be longer than 0, got \"\(text)\"", location: at(node))
        }
        return seconds
    }

    private func byteSize(_ node: Node, _ path: String, min: Int) throws(ConfigError) -> Int {
        let text = try scalarText(node, path, "a size like 512KiB or 5MiB")
        guard let n = ConfigValues.parseByteSize(text) else {
            throw ConfigError(path: path, reason: "must be a size like 512KiB or 5MiB, got \"\(text)\"", location: at(node))
        }
        guard n >= min else {
            throw ConfigError(path: path, reason: "must be at least \(min) bytes, got \(n)", location: at(node))
        }
        return n
    }

    private func stringList(_ node: Node, _ path: String) throws(ConfigError) -> [String] {
        if case .scalar(let s) = node, s.string.isEmpty || s.string == "~" || s.string == "null" { return [] }
        guard case .sequence(let seq) = node else {
            throw ConfigError(path: path, reason: "must be a list", location: at(node))
        }
        var out: [String] = []
        for (i, item) in seq.enumerated() { out.append(try string(item, "\(path)[\(i)]")) }
        return out
    }
}
