import Foundation
import NightshiftCore
import NightshiftTesting
import Testing

@testable import NightshiftRuntime

/// The preflight's notifier checks against real HTTP receivers on loopback: a webhook that
/// answers, a Telegram API whose getMe accepts or rejects the token.
@Suite("doctor notifiers")
struct DoctorNotifierTests {
    static func doctor(_ dir: TemporaryDirectory, _ configure: (inout NightshiftConfig.Notify) -> Void = { _ in }) -> Doctor {
        var config = NightshiftConfig()
        configure(&config.notify)
        return Doctor(config: config, paths: StatePaths(root: dir.path("state")))
    }

    @Test("a webhook that answers passes with a HEAD request, whatever its status below 500")
    func webhookAnswers() async throws {
        let dir = try TemporaryDirectory()
        let hook = try LoopbackHTTPReceiver(status: 405)
        let checks = await Self.doctor(dir) { $0.webhooks = ["\(hook.baseURL)/hook"] }.checkNotifiers()
        #expect(checks.count == 1)
        #expect(checks[0].status == Preflight.Status.pass)
        #expect(checks[0].detail == "reachable (HTTP 405)")
        // HEAD: the check posts no alert. (The receiver records a request after it answered.)
        try await RuntimeHarness.waitUntil("the receiver to record the request") { !hook.requests.isEmpty }
        #expect(hook.requests.map(\.method) == ["HEAD"])
        #expect(hook.requests.first?.path == "/hook")
    }

    @Test("Telegram getMe: an accepted token passes, a rejected one fails without showing the token")
    func telegram() async throws {
        let dir = try TemporaryDirectory()
        let ok = try LoopbackHTTPReceiver(status: 200)
        let telegram = { (base: String) in
            Self.doctor(dir) {
                $0.telegram.token = "123456:SECRET-TOKEN"
                $0.telegram.chatIds = ["42"]
                $0.telegram.apiBase = base
            }
        }
        let passed = await telegram(ok.baseURL).checkNotifiers()
        #expect(passed.map(\.status) == [Preflight.Status.pass])
        try await RuntimeHarness.waitUntil("the receiver to record the request") { !ok.requests.isEmpty }
        #expect(ok.requests.map(\.path) == ["/bot123456:SECRET-TOKEN/getMe"])

        let rejected = try LoopbackHTTPReceiver(status: 401)
        let failed = await telegram(rejected.baseURL).checkNotifiers()
        #expect(failed.map(\.status) == [Preflight.Status.fail])
        #expect(failed[0].detail.contains("token is rejected"))
        #expect(!failed[0].detail.contains("SECRET-TOKEN"))
    }

    @Test("the executors checked are the phases' (verify and heal included when they run), else every one tasks may name")
    func executorNames() throws {
        let dir = try TemporaryDirectory()
        var config = NightshiftConfig()
        config.runner.executors["claude"] = .init(command: "claude -p {direction}")
        config.runner.executors["codex"] = .init(command: "codex exec {direction}")
        config.runner.executorFor = ["spec": "claude", "impl": "codex", "test": "default", "review": "claude", "heal": "codex"]
        config.projectManager.verifyCommand = "make test"
        let paths = StatePaths(root: dir.path("state"))
        #expect(Doctor(config: config, paths: paths).executorNames() == ["claude", "codex", "verify", "default"])
        config.monitor.autoFix = true
        config.projectManager.phases = ["impl"]
        #expect(Doctor(config: config, paths: paths).executorNames() == ["codex", "verify"])
        config.projectManager.backlog = ""
        #expect(Set(Doctor(config: config, paths: paths).executorNames()) == ["default", "claude", "codex"])
    }

    @Test("the log LLM endpoint: answers pass, a refused key fails, unreachable fails, unset skips")
    func logLLM() async throws {
        let dir = try TemporaryDirectory()
        func doctor(_ base: String) -> Doctor {
            var config = NightshiftConfig()
            config.logs.llm.baseURL = base
            return Doctor(config: config, paths: StatePaths(root: dir.path("state")))
        }
        let up = try LoopbackHTTPReceiver(status: 200)
        #expect(await doctor(up.baseURL + "/v1").checkLogLLM().status == .pass)
        try await RuntimeHarness.waitUntil("the receiver to record the request") { !up.requests.isEmpty }
        #expect(up.requests.map(\.path) == ["/v1/models"])
        let refused = try LoopbackHTTPReceiver(status: 401)
        let denied = await doctor(refused.baseURL).checkLogLLM()
        #expect(denied.status == .fail)
        #expect(denied.providerFailure == .authentication)
        let port = refused.port
        refused.stop()
        #expect(await doctor("http://127.0.0.1:\(port)").checkLogLLM().status == .fail)
        #expect(await doctor("").checkLogLLM().status == .skip)
    }

    @Test("nothing configured is one SKIP line")
    func nothing() async throws {
        let dir = try TemporaryDirectory()
        let checks = await Self.doctor(dir).checkNotifiers()
        #expect(checks.map(\.status) == [Preflight.Status.skip])
    }
}
