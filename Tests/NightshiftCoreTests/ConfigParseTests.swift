import NightshiftCore
import Testing

/// `ConfigLoader.parse(yaml:)`: key by key over the embedded defaults.
@Suite("ConfigLoader.parse")
struct ConfigParseTests {
    /// Parses `yaml` expecting a `ConfigError`, and returns it.
    func parseError(_ yaml: String, file: String = "test.yaml") -> ConfigError? {
        do {
            _ = try ConfigLoader.parse(yaml: yaml, file: file)
            return nil
        } catch {
            return error
        }
    }

    @Test(
        "an empty document, comments only, or a null document gives the defaults",
        arguments: ["", "\n\n", "# nothing here\n", "---\n", "~\n"])
    func emptyIsDefaults(yaml: String) throws {
        #expect(try ConfigLoader.parse(yaml: yaml) == NightshiftConfig())
    }

    @Test("the embedded defaults are the documented ones")
    func documentedDefaults() {
        let c = NightshiftConfig()
        #expect(c.server.host == "127.0.0.1")
        #expect(c.server.port == 8000)
        #expect(c.server.token == "")
        #expect(c.server.metricsPublic == false, "off loopback /metrics needs the token unless opened")
        #expect(c.stateDir == "logs")
        #expect(c.runner.workers == 2)
        #expect(c.runner.taskTimeout == 3600)
        #expect(c.runner.stallTimeout == 900)
        #expect(c.runner.maxAttempts == 3)
        #expect(c.runner.retryBackoff.base == 10)
        #expect(c.runner.retryBackoff.max == 300)
        #expect(c.runner.lease == 60)
        #expect(c.runner.killGrace == 10)
        #expect(c.runner.executors == ["default": .init(command: "bash scripts/demo_agent.sh {direction}")])
        #expect(
            c.runner.executorFor == [
                "spec": "default", "impl": "default", "test": "default", "review": "default", "heal": "default",
            ])
        #expect(c.runner.workspace == "")
        #expect(c.projectManager.backlog == "config/backlog.md")
        #expect(c.projectManager.phases == ["spec", "impl", "test", "review"])
        #expect(c.projectManager.maxIterations == 5)
        #expect(c.projectManager.decisionTimeout == 86_400)
        #expect(c.projectManager.hours == 0)
        #expect(c.projectManager.autoCommit == false)
        #expect(c.projectManager.parallelItems == 2)
        #expect(c.projectManager.verifyCommand == "")
        #expect(c.monitor.interval == 60)
        #expect(c.monitor.autoRecover == true)
        #expect(c.monitor.autoFix == false)
        #expect(c.logs.maxBytes == 5 * 1024 * 1024)
        #expect(c.logs.backups == 3)
        #expect(c.logs.taskLogRetention == 7 * 86_400)
        #expect(c.gate.ciCommand == "")
        #expect(c.gate.requireDaemon == false)
        #expect(c.notify.webhooks == [])
        #expect(c.notify.telegram.token == "")
        #expect(c.notify.telegram.chatIds == [])
        #expect(throws: Never.self) { try ConfigLoader.validate(c) }
    }

    @Test("server and top-level keys parse")
    func serverKeys() throws {
        let c = try ConfigLoader.parse(
            yaml: """
                server: { host: 0.0.0.0, port: 9001, token: s3cret, max_body: 2MiB, metrics_public: true }
                state_dir: /var/lib/nightshift
                task_types: [docs, bench]
                """)
        #expect(c.server.host == "0.0.0.0")
        #expect(c.server.port == 9001)
        #expect(c.server.token == "s3cret")
        #expect(c.server.maxBodyBytes == 2 * 1024 * 1024)
        #expect(c.server.metricsPublic == true)
        #expect(parseError("server: { metrics_public: sometimes }")?.path == "server.metrics_public")
        #expect(try ConfigLoader.parse(yaml: "server: { port: 0 }").server.port == 0, "0 asks for any free port")
        #expect(c.stateDir == "/var/lib/nightshift")
        #expect(c.taskTypes == ["docs", "bench"])
        #expect(c.allTaskTypes.map(\.rawValue) == ["spec", "impl", "test", "review", "heal", "docs", "bench"])
    }

    @Test("runner keys parse, durations in every unit")
    func runnerKeys() throws {
        let c = try ConfigLoader.parse(
            yaml: """
                runner:
                  workers: 8
                  task_timeout: 24h
                  stall_timeout: 5m
                  max_attempts: 7
                  retry_backoff: { base: 500ms, max: 7d }
                  lease: 10s
                  kill_grace: 0
                  workspace: /src/repo
                  poll_interval: 250ms
                  output_tail: 16KiB
                  redact_env: [OPENAI_API_KEY, GH_TOKEN]
                  executors:
                    default: { command: "claude -p {direction}" }
                    codex:
                      command: codex exec {direction}
                      env: { CODEX_HOME: /tmp/codex, LEVEL: "3" }
                  executor_for: { impl: codex, spec: default }
                """)
        let r = c.runner
        #expect(r.workers == 8)
        #expect(r.taskTimeout == 86_400)
        #expect(r.stallTimeout == 300)
        #expect(r.maxAttempts == 7)
        #expect(r.retryBackoff.base == 0.5)
        #expect(r.retryBackoff.max == 604_800)
        #expect(r.lease == 10)
        #expect(r.killGrace == 0)
        #expect(r.workspace == "/src/repo")
        #expect(r.pollInterval == 0.25)
        #expect(r.outputTailBytes == 16 * 1024)
        #expect(r.redactEnv == ["OPENAI_API_KEY", "GH_TOKEN"])
        #expect(
            r.executors == [
                "default": .init(command: "claude -p {direction}"),
                "codex": .init(command: "codex exec {direction}", env: ["CODEX_HOME": "/tmp/codex", "LEVEL": "3"]),
            ])
        #expect(r.executorFor == ["impl": "codex", "spec": "default"], "executor_for replaces the default map")
        #expect(throws: Never.self) { try ConfigLoader.validate(c) }
    }

    @Test("project_manager keys parse")
    func projectManagerKeys() throws {
        let c = try ConfigLoader.parse(
            yaml: """
                project_manager:
                  backlog: work/backlog.md
                  phases: [spec, impl]
                  max_iterations: 9
                  decision_timeout: 0
                  hours: 1.5
                  auto_commit: true
                  parallel_items: 4
                  verify_command: swift test
                """)
        let pm = c.projectManager
        #expect(pm.backlog == "work/backlog.md")
        #expect(pm.phases == ["spec", "impl"])
        #expect(pm.maxIterations == 9)
        #expect(pm.decisionTimeout == 0)
        #expect(pm.hours == 5_400, "hours are stored as seconds")
        #expect(pm.autoCommit == true)
        #expect(pm.parallelItems == 4)
        #expect(pm.verifyCommand == "swift test")
    }

    @Test("monitor, logs, store, gate and notify keys parse")
    func otherSections() throws {
        let c = try ConfigLoader.parse(
            yaml: """
                monitor: { interval: 30s, auto_recover: no, auto_fix: yes }
                logs: { max_bytes: 5MiB, backups: 0, task_log_retention: 24h }
                gate: { ci_command: make ci, require_daemon: true }
                store: { retention: { completed: 30d, failed: 90d, cancelled: 0 }, prune_batch: 100 }
                notify:
                  webhooks: [https://example.com/hook]
                  telegram:
                    token: "123:abc"
                    chat_ids: [42, "-100"]
                    allowed_user_ids: [7]
                    secret: shh
                    api_base: http://127.0.0.1:9999
                """)
        #expect(c.monitor.interval == 30)
        #expect(c.monitor.autoRecover == false)
        #expect(c.monitor.autoFix == true)
        #expect(c.logs.maxBytes == 5 * 1024 * 1024)
        #expect(c.logs.backups == 0)
        #expect(c.logs.taskLogRetention == 86_400)
        #expect(c.gate.ciCommand == "make ci")
        #expect(c.gate.requireDaemon == true)
        #expect(c.store.retention == [.completed: 30 * 86_400, .failed: 90 * 86_400, .cancelled: 0])
        #expect(c.store.pruneBatch == 100)
        #expect(c.notify.webhooks == ["https://example.com/hook"])
        let t = c.notify.telegram
        #expect(t.token == "123:abc")
        #expect(t.chatIds == ["42", "-100"])
        #expect(t.allowedUserIds == ["7"])
        #expect(t.secret == "shh")
        #expect(t.apiBase == "http://127.0.0.1:9999")
    }

    @Test("keys left out keep their defaults; empty sections are allowed")
    func partialSections() throws {
        let c = try ConfigLoader.parse(yaml: "runner:\n  workers: 4\nmonitor:\nlogs: {}\n")
        var expected = NightshiftConfig()
        expected.runner.workers = 4
        #expect(c == expected)
    }

    @Test("an unknown top-level key names itself and its line")
    func unknownTopLevel() throws {
        let error = try #require(parseError("server:\n  port: 8001\nbogus: 1\n"))
        #expect(error.path == "bogus")
        #expect(error.reason == "unknown key")
        #expect(error.location == "test.yaml:3")
    }

    @Test("an unknown nested key names its dotted path and its line")
    func unknownNested() throws {
        let error = try #require(parseError("# comment\nrunner:\n  workers: 2\n  wrokers: 3\n"))
        #expect(error.path == "runner.wrokers")
        #expect(error.location == "test.yaml:4")
        #expect(error.description.contains("runner.wrokers"))
        #expect(error.description.contains("test.yaml:4"))
    }

    @Test(
        "unknown keys deeper down are named in full",
        arguments: [
            ("runner:\n  retry_backoff: { base: 1s, maximum: 2s }\n", "runner.retry_backoff.maximum"),
            ("runner:\n  executors:\n    default: { command: x, cmd: y }\n", "runner.executors.default.cmd"),
            ("notify:\n  telegram: { tokn: x }\n", "notify.telegram.tokn"),
            ("server: { prot: 1 }\n", "server.prot"),
            ("project_manager: { phase: [spec] }\n", "project_manager.phase"),
            ("monitor: { intervall: 1s }\n", "monitor.intervall"),
            ("logs: { max_size: 1MiB }\n", "logs.max_size"),
            ("gate: { ci: x }\n", "gate.ci"),
        ] as [(String, String)])
    func unknownDeep(yaml: String, path: String) throws {
        let error = try #require(parseError(yaml))
        #expect(error.path == path)
        #expect(error.reason == "unknown key")
        #expect(error.location != nil)
    }

    /// The location must point at the misspelt key, even when its value is a block on later lines.
    @Test("an unknown key whose value is a block mapping is located at the key's line")
    func unknownKeyWithBlockValue() throws {
        let error = try #require(parseError("runner:\n  wrokers:\n    a: 1\n    b: 2\n"))
        #expect(error.path == "runner.wrokers")
        #expect(error.location == "test.yaml:2")
    }

    @Test(
        "bad values name the key and its line",
        arguments: [
            ("runner:\n  workers: abc\n", "runner.workers", "whole number", 2),
            ("runner:\n  workers: 0\n", "runner.workers", "between 1 and 256", 2),
            ("runner:\n  workers: 2.5\n", "runner.workers", "whole number", 2),
            ("runner:\n  task_timeout: 10x\n", "runner.task_timeout", "duration", 2),
            ("runner:\n  task_timeout: 0\n", "runner.task_timeout", "longer than 0", 2),
            ("runner:\n  lease: -5s\n", "runner.lease", "duration", 2),
            ("server:\n  port: 70000\n", "server.port", "between 0 and 65535", 2),
            ("server:\n  port: -1\n", "server.port", "between 0 and 65535", 2),
            ("project_manager:\n  auto_commit: maybe\n", "project_manager.auto_commit", "true or false", 2),
            ("project_manager:\n  hours: -1\n", "project_manager.hours", "at least", 2),
            ("project_manager:\n  phases: spec\n", "project_manager.phases", "list", 2),
            ("logs:\n  max_bytes: 5 megs\n", "logs.max_bytes", "size", 2),
            ("logs:\n  max_bytes: 10\n", "logs.max_bytes", "at least 1024", 2),
            ("monitor:\n  interval: [1s]\n", "monitor.interval", "duration", 2),
            ("server:\n  host: { a: b }\n", "server.host", "text", 2),
            ("runner:\n  executors:\n    fast: { env: {} }\n", "runner.executors.fast.command", "required", 3),
            ("store:\n  retention:\n    pending: 1d\n", "store.retention.pending", "ended status", 3),
            ("store:\n  retention:\n    done: 1d\n", "store.retention.done", "ended status", 3),
            ("store:\n  retention:\n    completed: soon\n", "store.retention.completed", "duration", 3),
            ("store:\n  retention: 30d\n", "store.retention", "mapping", 2),
            ("store:\n  prune_batch: 0\n", "store.prune_batch", "between 1 and 10000", 2),
        ] as [(String, String, String, Int)])
    func badValues(yaml: String, path: String, reasonFragment: String, line: Int) throws {
        let error = try #require(parseError(yaml))
        #expect(error.path == path)
        #expect(error.reason.contains(reasonFragment), "\(error.reason)")
        #expect(error.location == "test.yaml:\(line)")
    }

    @Test("a section that is not a mapping is refused with its path")
    func sectionNotMapping() throws {
        let error = try #require(parseError("runner: 3\n"))
        #expect(error.path == "runner")
        #expect(error.reason.contains("mapping"))
    }

    @Test("a document that is not a mapping names the file")
    func documentNotMapping() throws {
        let error = try #require(parseError("- a\n- b\n"))
        #expect(error.path == "test.yaml")
    }

    /// Yams refuses duplicate keys while composing, before `ConfigReader` sees them, so the error
    /// is a file-level one that names the key in its reason.
    @Test("a key given twice is refused, naming the key and the line")
    func duplicateKey() throws {
        let error = try #require(parseError("runner:\n  workers: 2\n  workers: 3\n"))
        #expect(error.path == "test.yaml")
        #expect(error.reason.contains("'workers'"))
        #expect(error.reason.contains("line"))
    }

    @Test("YAML syntax errors name the file and the line")
    func syntaxError() throws {
        let error = try #require(parseError("runner:\n  workers: [1, 2\n"))
        #expect(error.path == "test.yaml")
        #expect(error.reason.contains("not valid YAML"))
        #expect(error.reason.contains("line"))
    }
}
