import Foundation
import Yams

/// Builds a `NightshiftConfig` from (lowest to highest precedence) the embedded defaults, a YAML
/// file, environment variables, and command-line flags; then validates the result.
public enum ConfigLoader {
    /// Values given on the command line; nil means "not given".
    public struct Overrides: Sendable {
        public var host: String?
        public var port: Int?
        public var stateDir: String?
        public var hours: Double?
        public init(host: String? = nil, port: Int? = nil, stateDir: String? = nil, hours: Double? = nil) {
            self.host = host
            self.port = port
            self.stateDir = stateDir
            self.hours = hours
        }
    }

    public static let defaultPath = "config/nightshift.yaml"

    /// The config file `load` reads: `path`, else `NIGHTSHIFT_CONFIG`, else `config/nightshift.yaml`
    /// when it exists; nil = the embedded defaults.
    public static func resolvedPath(
        path: String?, environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> String? {
        let explicit = path ?? environment["NIGHTSHIFT_CONFIG"].flatMap { $0.isEmpty ? nil : $0 }
        return explicit ?? (FileManager.default.fileExists(atPath: defaultPath) ? defaultPath : nil)
    }

    /// Loads the config. `path` nil means: `NIGHTSHIFT_CONFIG`, else `config/nightshift.yaml` when
    /// it exists, else the embedded defaults. A path that was asked for must exist.
    public static func load(
        path: String?, environment: [String: String] = ProcessInfo.processInfo.environment,
        overrides: Overrides = Overrides()
    ) throws(ConfigError) -> NightshiftConfig {
        var config = NightshiftConfig()
        if let file = resolvedPath(path: path, environment: environment) {
            guard let data = FileManager.default.contents(atPath: file) else {
                throw ConfigError(path: file, reason: "cannot read the config file (does it exist?)")
            }
            guard let text = String(data: data, encoding: .utf8) else {
                throw ConfigError(path: file, reason: "the config file is not UTF-8")
            }
            config = try parse(yaml: text, file: file)
        }
        try applyEnvironment(environment, to: &config)
        if let h = overrides.host { config.server.host = h }
        if let p = overrides.port { config.server.port = p }
        if let s = overrides.stateDir { config.stateDir = s }
        if let h = overrides.hours { config.projectManager.hours = h * 3600 }
        try validate(config)
        return config.withDerivedExecutors()
    }

    /// Parses YAML text over the embedded defaults. Unknown keys and bad values are errors.
    public static func parse(yaml text: String, file: String = "config") throws(ConfigError) -> NightshiftConfig {
        let node: Node?
        do {
            node = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw ConfigError(path: file, reason: "not valid YAML: \(yamlProblem(error))")
        } catch {
            throw ConfigError(path: file, reason: "not valid YAML: \(error)")
        }
        var config = NightshiftConfig()
        guard let node else { return config }
        let reader = ConfigReader(file: file)
        try reader.read(node, into: &config)
        return config
    }

    static func applyEnvironment(_ env: [String: String], to config: inout NightshiftConfig) throws(ConfigError) {
        if let v = env["NIGHTSHIFT_HOST"], !v.isEmpty { config.server.host = v }
        if let v = env["NIGHTSHIFT_PORT"], !v.isEmpty {
            guard let p = Int(v), (0...65535).contains(p) else {
                throw ConfigError(path: "NIGHTSHIFT_PORT", reason: "must be a port number from 0 to 65535, got \"\(v)\"")
            }
            config.server.port = p
        }
        if let v = env["NIGHTSHIFT_STATE_DIR"], !v.isEmpty { config.stateDir = v }
        if let v = env["NIGHTSHIFT_API_TOKEN"], !v.isEmpty { config.server.token = v }
        if let v = env["NIGHTSHIFT_STORE_URL"], !v.isEmpty {
            do { _ = try StoreURL.parse(v) } catch { throw ConfigError(path: "NIGHTSHIFT_STORE_URL", reason: error.reason) }
            config.store.url = v
        }
        if let v = env["NIGHTSHIFT_NODE_ID"], !v.isEmpty {
            if let why = NodeID.validate(v) { throw ConfigError(path: "NIGHTSHIFT_NODE_ID", reason: why) }
            config.node.id = v
        }
        func flag(_ name: String) throws(ConfigError) -> Bool? {
            guard let v = env[name], !v.isEmpty else { return nil }
            switch v.lowercased() {
            case "1", "true", "yes", "on": return true
            case "0", "false", "no", "off": return false
            default: throw ConfigError(path: name, reason: "must be 1 or 0, got \"\(v)\"")
            }
        }
        if let b = try flag("PIPELINE_AUTO_COMMIT") { config.projectManager.autoCommit = b }
        if let b = try flag("PIPELINE_AUTO_RECOVER") { config.monitor.autoRecover = b }
        if let b = try flag("PIPELINE_AUTO_FIX") { config.monitor.autoFix = b }
        if let b = try flag("PIPELINE_AUTO_PUSH") { config.projectManager.autoPush = b }
    }

    /// Cross-field rules that a single key cannot check.
    public static func validate(_ c: NightshiftConfig) throws(ConfigError) {
        if c.server.host.isEmpty { throw ConfigError(path: "server.host", reason: "must not be empty") }
        if !(0...65535).contains(c.server.port) {
            throw ConfigError(path: "server.port", reason: "must be between 0 (any free port) and 65535, got \(c.server.port)")
        }
        if !c.isLoopbackOnly && c.server.token.isEmpty {
            throw ConfigError(
                path: "server.token",
                reason: "required when server.host (\(c.server.host)) is not loopback: set it or NIGHTSHIFT_API_TOKEN")
        }
        if c.stateDir.isEmpty { throw ConfigError(path: "state_dir", reason: "must not be empty") }
        if c.node.lease <= c.node.heartbeat {
            throw ConfigError(
                path: "node.lease",
                reason: "must be longer than node.heartbeat (\(c.node.heartbeat)s), got \(c.node.lease)s")
        }
        do { _ = try StoreURL.parse(c.store.url) } catch { throw ConfigError(path: "store.url", reason: error.reason) }
        for name in c.taskTypes where !TaskType.isValidName(name) {
            throw ConfigError(
                path: "task_types", reason: "\"\(name)\" is not a valid type name (a-z, 0-9, _ or -, starting with a letter)")
        }
        let types = Set(c.allTaskTypes.map(\.rawValue))
        for (name, ex) in c.runner.executors where ex.command.trimmingCharacters(in: .whitespaces).isEmpty {
            throw ConfigError(path: "runner.executors.\(name).command", reason: "must not be empty")
        }
        for (type, ex) in c.runner.executorFor.sorted(by: { $0.key < $1.key }) {
            guard types.contains(type) else {
                throw ConfigError(
                    path: "runner.executor_for.\(type)",
                    reason: "unknown task type (known: \(types.sorted().joined(separator: ", ")))")
            }
            guard c.runner.executors[ex] != nil else {
                throw ConfigError(
                    path: "runner.executor_for.\(type)",
                    reason: "names executor \"\(ex)\", which runner.executors does not define")
            }
        }
        if c.runner.executors["default"] == nil {
            throw ConfigError(path: "runner.executors", reason: "must define a \"default\" executor")
        }
        for phase in c.projectManager.phases where !types.contains(phase) {
            throw ConfigError(path: "project_manager.phases", reason: "\"\(phase)\" is not a task type")
        }
        let templateKeys = Set(c.projectManager.phases + ["impl_fix", PipelinePlan.verifyPhase, PipelinePlan.mergePhase])
        for key in c.projectManager.templates.keys.sorted() where !templateKeys.contains(key) {
            throw ConfigError(
                path: "project_manager.templates.\(key)",
                reason: "not a phase (phases: \(c.projectManager.phases.joined(separator: ", ")); also impl_fix, verify, merge)")
        }
        if c.projectManager.phases.isEmpty {
            throw ConfigError(path: "project_manager.phases", reason: "must name at least one phase")
        }
        let planned = PipelinePlan(config: c).phases
        for phase in c.projectManager.contracts.keys.sorted() where !planned.contains(phase) {
            throw ConfigError(
                path: "project_manager.contracts.\(phase)",
                reason: "not a phase (phases: \(planned.joined(separator: ", ")))")
        }
        if c.runner.retryBackoff.max < c.runner.retryBackoff.base {
            throw ConfigError(path: "runner.retry_backoff.max", reason: "must be at least runner.retry_backoff.base")
        }
        if c.watchdog.backoffMax < c.watchdog.backoffBase {
            throw ConfigError(path: "watchdog.backoff.max", reason: "must be at least watchdog.backoff.base")
        }
    }

    private static func yamlProblem(_ error: YamlError) -> String {
        switch error {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _), .composer(_, let problem, let mark, _):
            return "\(problem) at line \(mark.line), column \(mark.column)"
        default:
            return "\(error)"
        }
    }
}
