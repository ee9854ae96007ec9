import NightshiftCore
import Testing

/// `ConfigLoader.validate`: rules that span keys.
@Suite("ConfigLoader.validate")
struct ConfigValidateTests {
    /// The error `validate` throws for the config parsed from `yaml`, or nil.
    func validationError(_ yaml: String) throws -> ConfigError? {
        let config = try ConfigLoader.parse(yaml: yaml)
        do {
            try ConfigLoader.validate(config)
            return nil
        } catch {
            return error
        }
    }

    @Test("the defaults are valid")
    func defaultsValid() throws {
        #expect(try validationError("") == nil)
    }

    @Test("executor_for naming an executor that does not exist")
    func missingExecutor() throws {
        let error = try #require(try validationError("runner:\n  executor_for: { impl: codex }\n"))
        #expect(error.path == "runner.executor_for.impl")
        #expect(error.reason.contains("codex"))
    }

    @Test("executor_for naming a task type that does not exist")
    func executorForUnknownType() throws {
        let error = try #require(try validationError("runner:\n  executor_for: { docs: default }\n"))
        #expect(error.path == "runner.executor_for.docs")
        #expect(error.reason.contains("unknown task type"))
    }

    @Test("a type declared in task_types may be mapped and used as a phase")
    func declaredTypes() throws {
        #expect(
            try validationError(
                "task_types: [docs]\nrunner:\n  executor_for: { docs: default }\nproject_manager:\n  phases: [spec, docs]\n")
                == nil)
    }

    @Test("a phase that is not a task type")
    func unknownPhase() throws {
        let error = try #require(try validationError("project_manager:\n  phases: [spec, deploy]\n"))
        #expect(error.path == "project_manager.phases")
        #expect(error.reason.contains("deploy"))
    }

    @Test("no phases at all")
    func noPhases() throws {
        let error = try #require(try validationError("project_manager:\n  phases: []\n"))
        #expect(error.path == "project_manager.phases")
    }

    @Test("an invalid name in task_types")
    func badTaskTypeName() throws {
        let error = try #require(try validationError("task_types: [Docs]\n"))
        #expect(error.path == "task_types")
    }

    @Test("the executors must include default")
    func noDefaultExecutor() throws {
        let error = try #require(
            try validationError(
                "runner:\n  executors: { fast: { command: x } }\n  executor_for: { spec: fast, impl: fast, test: fast, review: fast, heal: fast }\n"
            ))
        #expect(error.path == "runner.executors")
    }

    @Test("an executor with an empty command")
    func emptyCommand() throws {
        let error = try #require(try validationError("runner:\n  executors: { default: { command: \"  \" } }\n"))
        #expect(error.path == "runner.executors.default.command")
    }

    @Test("retry_backoff.max below base")
    func backoffOrder() throws {
        let error = try #require(try validationError("runner:\n  retry_backoff: { base: 1m, max: 10s }\n"))
        #expect(error.path == "runner.retry_backoff.max")
    }

    @Test(
        "a non-loopback host needs a token",
        arguments: [
            "0.0.0.0", "192.168.1.10", "::", "example.com", "127.0.0.1.example.com", "127.0.0", "127.0.0.256", "127.evil.com",
            "128.0.0.1",
        ])
    func nonLoopbackNeedsToken(host: String) throws {
        let error = try #require(try validationError("server: { host: \"\(host)\" }\n"))
        #expect(error.path == "server.token")
        #expect(try validationError("server: { host: \"\(host)\", token: t0k3n }\n") == nil)
    }

    @Test(
        "loopback hosts need no token",
        arguments: ["127.0.0.1", "localhost", "LocalHost", "::1", "[::1]", "127.0.0.2", "127.255.255.254"])
    func loopbackNoToken(host: String) throws {
        #expect(try validationError("server: { host: \"\(host)\" }\n") == nil)
    }

    @Test("empty host and empty state_dir are refused")
    func emptyStrings() throws {
        #expect(try validationError("server: { host: \"\" }\n")?.path == "server.host")
        #expect(try validationError("state_dir: \"\"\n")?.path == "state_dir")
    }
}
