import Foundation
import NightshiftCore
import Testing

/// The preflight's judgement: provider failures told apart, executor commands taken apart, and
/// each check built from its facts.
@Suite("Preflight")
struct PreflightTests {
    static func fixture(_ name: String) throws -> String {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/agents/\(name)")
        return try String(contentsOf: url, encoding: .utf8)
    }

    // MARK: - Provider failures

    @Test("401/403, 429, usage limits and 529 are told apart; authentication wins")
    func classify() {
        let cases: [(String, ProviderFailure?)] = [
            (
                #"API Error: 401 {"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}"#,
                .authentication
            ),
            ("Invalid API key · Please run /login", .authentication),
            ("Error: Not logged in. Run codex login", .authentication),
            ("HTTP 403 Forbidden", .authentication),
            ("OAuth token has expired. Please obtain a new token", .authentication),
            (#"API Error: 429 {"type":"error","error":{"type":"rate_limit_error"}}"#, .rateLimit),
            ("Too Many Requests", .rateLimit),
            ("Claude AI usage limit reached|1764633600", .usageLimit),
            ("5-hour limit reached ∙ resets 3pm", .usageLimit),
            (#"API Error: 529 {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#, .overloaded),
            // A 401 with a rate-limit word in it is still a key problem.
            ("401 Unauthorized (rate limit headers absent)", .authentication),
            // Numbers inside other numbers are not statuses.
            ("wrote 14290 bytes at 1764014011", nil),
            ("tests failed: 3 of 12", nil),
            ("", nil),
        ]
        for (text, expected) in cases {
            #expect(ProviderFailure.classify(text) == expected, "\(text)")
        }
    }

    @Test("the fixtures' usage-limit runs classify as usage limits")
    func fixtures() throws {
        #expect(ProviderFailure.classify(try Self.fixture("claude-code-usage-limit.json")) == .usageLimit)
        #expect(ProviderFailure.classify(try Self.fixture("codex-exec-failed.jsonl")) == .usageLimit)
        #expect(ProviderFailure.classify(try Self.fixture("claude-code-result.json")) == nil)
    }

    @Test("each provider failure's fix names what to do and the executor")
    func fixes() {
        #expect(ProviderFailure.authentication.fix(executor: "claude").contains("runner.executors.claude.env"))
        #expect(ProviderFailure.authentication.fix(executor: "x").contains("401"))
        #expect(ProviderFailure.rateLimit.fix(executor: "x").contains("429"))
        #expect(ProviderFailure.overloaded.fix(executor: "x").contains("529"))
        #expect(ProviderFailure.usageLimit.fix(executor: "x").contains("usage limit"))
    }

    // MARK: - Commands

    @Test("the program of a command skips assignments and wrappers and finds an interpreter's script")
    func program() {
        #expect(Preflight.program(of: "bash scripts/demo_agent.sh {direction}")! == ("bash", "scripts/demo_agent.sh"))
        #expect(Preflight.program(of: "claude -p {direction} --output-format json")! == ("claude", nil))
        #expect(Preflight.program(of: "FOO=1 BAR='a b' env X=2 exec codex exec --json {direction}")! == ("codex", nil))
        #expect(Preflight.program(of: "'/opt/my agent/bin/run' {direction}")! == ("/opt/my agent/bin/run", nil))
        #expect(Preflight.program(of: "python3 -u agent.py")! == ("python3", nil))
        #expect(Preflight.program(of: "sh -c 'make test'")! == ("sh", nil))
        #expect(
            Preflight.program(of: "bash $NIGHTSHIFT_HOME/scripts/a.sh {direction}")! == ("bash", "$NIGHTSHIFT_HOME/scripts/a.sh"))
        #expect(Preflight.program(of: "make test | tee out")! == ("make", nil))
        #expect(Preflight.program(of: "   ") == nil)
        #expect(Preflight.program(of: "A=1") == nil)
    }

    @Test("the probe of a POSIX shell is -c true, of anything else --version")
    func probe() {
        #expect(Preflight.probeArguments(for: "/usr/bin/sh") == "-c true")
        #expect(Preflight.probeArguments(for: "dash") == "-c true")
        #expect(Preflight.probeArguments(for: "/usr/bin/bash") == "--version")
        #expect(Preflight.probeArguments(for: "claude") == "--version")
    }

    // MARK: - Checks

    @Test("an executor fails when its binary or script is missing or cannot start, warns on an odd --version")
    func executor() {
        let missing = Preflight.executor(
            name: "claude", command: "claude -p {direction}", resolved: nil, script: nil, version: .notRun)
        #expect(missing.status == .fail)
        #expect(missing.detail == "claude is not on PATH")
        #expect(missing.fix?.contains("runner.executors.claude.command") == true)

        let noFile = Preflight.executor(name: "x", command: "./bin/agent", resolved: nil, script: nil, version: .notRun)
        #expect(noFile.detail.contains("does not exist or is not executable"))

        let noScript = Preflight.executor(
            name: "default", command: "bash scripts/a.sh", resolved: "/usr/bin/bash", script: ("scripts/a.sh", false),
            version: .exited(0, output: "GNU bash", arguments: "--version"))
        #expect(noScript.status == .fail)
        #expect(noScript.detail.contains("scripts/a.sh does not exist"))

        let ok = Preflight.executor(
            name: "claude", command: "claude -p x", resolved: "/usr/local/bin/claude", script: nil,
            version: .exited(0, output: "\n2.0.14 (Claude Code)\nmore", arguments: "--version"))
        #expect(ok.status == .pass)
        #expect(ok.detail == "/usr/local/bin/claude: 2.0.14 (Claude Code)")
        #expect(ok.fix == nil)

        let cannotStart = Preflight.executor(
            name: "c", command: "c", resolved: "/bin/c", script: nil,
            version: .exited(127, output: "libfoo.so", arguments: "--version"))
        #expect(cannotStart.status == .fail)
        let odd = Preflight.executor(
            name: "c", command: "c", resolved: "/bin/c", script: nil,
            version: .exited(1, output: "unknown flag", arguments: "--version"))
        #expect(odd.status == .warn)
        let hung = Preflight.executor(
            name: "c", command: "c", resolved: "/bin/c", script: nil, version: .failedToRun("no answer"))
        #expect(hung.status == .fail)
        #expect(Preflight.executor(name: "e", command: "", resolved: nil, script: nil, version: .notRun).status == .fail)
    }

    @Test("a smoke command: authentication fails, limits warn, other failures fail, none configured skips")
    func smoke() {
        let auth = Preflight.smoke(
            name: "claude", command: "claude -p hi", end: .exited(1), output: "starting\nAPI Error: 401 invalid x-api-key\n",
            log: "/s/l")
        #expect(auth.status == .fail)
        #expect(auth.providerFailure == .authentication)
        #expect(auth.detail.contains("authentication"))
        #expect(auth.detail.contains("API Error: 401"))
        #expect(auth.detail.contains("/s/l"))
        #expect(auth.fix?.contains("login") == true)

        let limited = Preflight.smoke(name: "c", command: "c", end: .exited(1), output: "429 Too Many Requests", log: "l")
        #expect(limited.status == .warn)
        #expect(limited.providerFailure == .rateLimit)
        let overloaded = Preflight.smoke(name: "c", command: "c", end: .exited(1), output: "529 overloaded_error", log: "l")
        #expect(overloaded.providerFailure == .overloaded)
        #expect(overloaded.status == .warn)
        let limitOnSuccess = Preflight.smoke(
            name: "c", command: "c", end: .exited(0), output: "Claude AI usage limit reached|1764633600", log: "l")
        #expect(limitOnSuccess.status == .warn)
        #expect(limitOnSuccess.providerFailure == .usageLimit)

        #expect(Preflight.smoke(name: "c", command: "c", end: .exited(0), output: "OK\n", log: "l").status == .pass)
        let plain = Preflight.smoke(name: "c", command: "c", end: .exited(3), output: "segfault", log: "l")
        #expect(plain.status == .fail)
        #expect(plain.providerFailure == nil)
        #expect(Preflight.smoke(name: "c", command: "c", end: .timedOut(120), output: "", log: "l").detail.contains("2m"))
        #expect(Preflight.smoke(name: "c", command: "c", end: .signaled(9), output: "", log: "l").status == .fail)
        #expect(Preflight.smoke(name: "c", command: "", end: .exited(0), output: "", log: "").status == .skip)
    }

    @Test("the state dir fails when not writable or nearly full and warns under the monitor's minimum")
    func stateDir() {
        let gib: Int64 = 1 << 30
        #expect(
            Preflight.stateDir(path: "/s", writeError: "Permission denied", freeBytes: 10 * gib, warnBelow: gib).status == .fail)
        #expect(Preflight.stateDir(path: "/s", writeError: nil, freeBytes: 50 << 20, warnBelow: gib).status == .fail)
        let low = Preflight.stateDir(path: "/s", writeError: nil, freeBytes: 500 << 20, warnBelow: gib)
        #expect(low.status == .warn)
        #expect(low.detail.contains("500.0 MiB"))
        #expect(Preflight.stateDir(path: "/s", writeError: nil, freeBytes: 2 * gib, warnBelow: gib).status == .pass)
        #expect(Preflight.stateDir(path: "/s", writeError: nil, freeBytes: nil, warnBelow: gib).status == .warn)
    }

    @Test("prod needs a budget of at least 0.10 USD; stage warns without one; dev passes")
    func budget() {
        #expect(Preflight.budget(profile: "prod", usd: nil).status == .fail)
        #expect(Preflight.budget(profile: "prod", usd: 0.05).status == .fail)
        #expect(Preflight.budget(profile: "prod", usd: 0.10).status == .pass)
        #expect(Preflight.budget(profile: "prod", usd: nil).fix?.contains("0.10") == true)
        #expect(Preflight.budget(profile: "stage", usd: nil).status == .warn)
        #expect(Preflight.budget(profile: "stage", usd: 1).status == .pass)
        #expect(Preflight.budget(profile: "dev", usd: nil).status == .pass)
    }

    @Test("a webhook that answers anything is reachable; none fails; 5xx warns; its secrets are not shown")
    func webhook() {
        #expect(Preflight.webhook(url: "http://h/x", status: 405, error: nil).status == .pass)
        #expect(Preflight.webhook(url: "http://h/x", status: 503, error: nil).status == .warn)
        let down = Preflight.webhook(url: "https://user:pw@hooks.example/x?token=abc", status: nil, error: "Couldn't connect")
        #expect(down.status == .fail)
        #expect(!down.name.contains("pw"))
        #expect(!down.name.contains("abc"))
        #expect(down.detail.contains("Couldn't connect"))
    }

    @Test("Telegram's getMe: 200 ok passes, a rejected token fails, no chats warns")
    func telegram() {
        let me = JSONValue.parse(#"{"ok":true,"result":{"username":"night_bot"}}"#)
        #expect(Preflight.telegram(status: 200, body: me, error: nil, chatIDs: 1).detail.contains("@night_bot"))
        #expect(Preflight.telegram(status: 200, body: me, error: nil, chatIDs: 1).status == .pass)
        #expect(Preflight.telegram(status: 200, body: me, error: nil, chatIDs: 0).status == .warn)
        #expect(Preflight.telegram(status: 401, body: nil, error: nil, chatIDs: 1).status == .fail)
        #expect(Preflight.telegram(status: nil, body: nil, error: "timed out", chatIDs: 1).status == .fail)
        #expect(Preflight.telegram(status: 200, body: .parse(#"{"ok":false}"#), error: nil, chatIDs: 1).status == .fail)
    }

    @Test("the report prints one line a check with its fix, then the verdict; a FAIL fails it")
    func report() {
        let report = Preflight.Report(checks: [
            .init(.pass, "state_dir", "ok"), .init(.warn, "budget", "none", fix: "give one"),
            .init(.fail, "executor claude", "claude is not on PATH", fix: "install it"), .init(.skip, "notify", "none"),
        ])
        #expect(!report.passed)
        #expect(report.failures == 1)
        #expect(report.warnings == 1)
        let lines = report.render().split(separator: "\n").map(String.init)
        #expect(lines.count == 5)
        #expect(lines[2].hasPrefix("FAIL  executor claude"))
        #expect(lines[2].hasSuffix("claude is not on PATH — fix: install it"))
        #expect(lines[1].hasSuffix("— fix: give one"))
        #expect(!lines[0].contains("fix"))
        #expect(lines[4] == "preflight: FAIL (1 check(s) failing)")
        #expect(
            Preflight.Report(checks: [.init(.warn, "a", "b", fix: "c")]).render().hasSuffix("preflight: PASS with 1 warning(s)"))
    }
}
