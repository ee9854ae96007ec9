import Foundation
import NightshiftCore
import NightshiftTesting
import Testing

/// `ConfigLoader.load`: file, then environment, then flags, then validation.
@Suite("ConfigLoader.load")
struct ConfigLoadTests {
    let dir: TemporaryDirectory
    let file: String

    init() throws {
        dir = try TemporaryDirectory(prefix: "nightshift-config")
        file = try dir.write(
            """
            server:
              host: 127.0.0.1
              port: 9000
              token: from-file
            state_dir: file-state
            project_manager:
              auto_commit: false
              hours: 2
            monitor:
              auto_recover: true
              auto_fix: false
            """, to: "nightshift.yaml")
    }

    func loadError(
        path: String?, environment: [String: String] = [:], overrides: ConfigLoader.Overrides = .init()
    ) -> ConfigError? {
        do {
            _ = try ConfigLoader.load(path: path, environment: environment, overrides: overrides)
            return nil
        } catch {
            return error
        }
    }

    @Test("the file's values are used when nothing overrides them")
    func fileOnly() throws {
        let c = try ConfigLoader.load(path: file, environment: [:])
        #expect(c.server.port == 9000)
        #expect(c.server.token == "from-file")
        #expect(c.stateDir == "file-state")
        #expect(c.projectManager.hours == 7_200)
    }

    @Test("environment variables override the file")
    func environmentOverrides() throws {
        let env = [
            "NIGHTSHIFT_PORT": "9100", "NIGHTSHIFT_STATE_DIR": "/tmp/env-state", "NIGHTSHIFT_API_TOKEN": "from-env",
            "PIPELINE_AUTO_COMMIT": "1", "PIPELINE_AUTO_RECOVER": "0", "PIPELINE_AUTO_FIX": "true",
        ]
        let c = try ConfigLoader.load(path: file, environment: env)
        #expect(c.server.port == 9100)
        #expect(c.stateDir == "/tmp/env-state")
        #expect(c.server.token == "from-env")
        #expect(c.projectManager.autoCommit == true)
        #expect(c.monitor.autoRecover == false)
        #expect(c.monitor.autoFix == true)
    }

    @Test("empty environment variables are ignored")
    func emptyEnvironment() throws {
        let c = try ConfigLoader.load(
            path: file, environment: ["NIGHTSHIFT_PORT": "", "NIGHTSHIFT_STATE_DIR": "", "PIPELINE_AUTO_COMMIT": ""])
        #expect(c.server.port == 9000)
        #expect(c.stateDir == "file-state")
        #expect(c.projectManager.autoCommit == false)
    }

    @Test("flags override the environment and the file")
    func flagsWin() throws {
        let env = ["NIGHTSHIFT_PORT": "9100", "NIGHTSHIFT_STATE_DIR": "/tmp/env-state", "NIGHTSHIFT_HOST": "localhost"]
        let c = try ConfigLoader.load(
            path: file, environment: env, overrides: .init(host: "127.0.0.5", port: 9200, stateDir: "/tmp/flag-state", hours: 0.5)
        )
        #expect(c.server.host == "127.0.0.5")
        #expect(c.server.port == 9200)
        #expect(c.stateDir == "/tmp/flag-state")
        #expect(c.projectManager.hours == 1_800)
    }

    @Test("a NIGHTSHIFT_PORT that is not a number names the variable")
    func badPortVariable() throws {
        let error = try #require(loadError(path: file, environment: ["NIGHTSHIFT_PORT": "abc"]))
        #expect(error.path == "NIGHTSHIFT_PORT")
        #expect(error.reason.contains("abc"))
    }

    @Test(
        "a PIPELINE_ flag that is not 1 or 0 names the variable",
        arguments: ["PIPELINE_AUTO_COMMIT", "PIPELINE_AUTO_RECOVER", "PIPELINE_AUTO_FIX"])
    func badFlagVariable(name: String) throws {
        let error = try #require(loadError(path: file, environment: [name: "maybe"]))
        #expect(error.path == name)
    }

    @Test("the loaded config is validated: a flag port out of range is refused")
    func validatesAfterOverrides() throws {
        #expect(loadError(path: file, overrides: .init(port: 70_000))?.path == "server.port")
        let open = try dir.write("server: { host: 127.0.0.1 }\n", to: "open.yaml")
        #expect(loadError(path: open, environment: ["NIGHTSHIFT_HOST": "0.0.0.0"])?.path == "server.token")
        #expect(loadError(path: open, environment: ["NIGHTSHIFT_HOST": "0.0.0.0", "NIGHTSHIFT_API_TOKEN": "t"]) == nil)
        #expect(loadError(path: open, overrides: .init(host: "0.0.0.0"))?.path == "server.token")
    }

    @Test("an explicit config path that does not exist is an error naming it")
    func missingExplicitPath() throws {
        let missing = dir.path("absent.yaml")
        let error = try #require(loadError(path: missing))
        #expect(error.path == missing)
    }

    @Test("NIGHTSHIFT_CONFIG names the file when no path is given, and must exist")
    func configVariable() throws {
        let c = try ConfigLoader.load(path: nil, environment: ["NIGHTSHIFT_CONFIG": file])
        #expect(c.server.port == 9000)
        let missing = dir.path("absent.yaml")
        #expect(loadError(path: nil, environment: ["NIGHTSHIFT_CONFIG": missing])?.path == missing)
    }

    @Test("errors inside the file carry the file's path as location")
    func fileErrorLocation() throws {
        let bad = try dir.write("runner:\n  workers: zero\n", to: "bad.yaml")
        let error = try #require(loadError(path: bad))
        #expect(error.path == "runner.workers")
        #expect(error.location == "\(bad):2")
    }
}
