import Foundation
import NightshiftTesting
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A real daemon (the built `nightshift serve`) running a test agent, and a headless Chromium
/// driven over WebDriver. Without chromium the browser tests are skipped locally, with this
/// message; in CI (`CI` set) they run and fail, so a missing install cannot pass unnoticed.
final class BrowserFixture: @unchecked Sendable {
    static let missing = "chromium and chromedriver are not installed (apt-get install -y chromium chromium-driver)"
    /// Whether to run the browser tests: chromium is here, or CI demands them.
    static var enabled: Bool {
        WebDriver.installation != nil || !(ProcessInfo.processInfo.environment["CI"] ?? "").isEmpty
    }

    /// What a test needs of the daemon beyond the defaults.
    struct Options {
        /// `NIGHTSHIFT_API_TOKEN`.
        var token: String?
        /// A backlog (numbered lines) for the project manager, whose items go through `spec`
        /// then `impl`, each waiting for the test (`phase ...` below).
        var backlog: String?
        /// `monitor.interval`.
        var monitorInterval = "1h"
        /// A second executor, `tool`, whose program is `tool-bin` in the fixture's directory:
        /// making it not executable is a critical `executor_missing` issue at the next check.
        var toolExecutor = false
    }

    let dir: TemporaryDirectory
    private(set) var daemon: DaemonProcess
    let browser: WebDriver
    let config: String
    let environment: [String: String]
    var url: String { daemon.url }

    /// The agent: `ask ...` asks a question, then (with the decision) waits for `release-<id>`;
    /// `hang ...` starts a background `sleep` (its pid in `child-<id>`) and waits for it; anything
    /// `flaky ...` fails (an error line, exit 1) until `fixed-<id>` exists, then waits for
    /// `release-<id>`; `phase ...` (the backlog's phases) waits for `go-<phase>`; anything
    /// else logs an error line and completes.
    static func agent(_ dir: TemporaryDirectory) throws -> String {
        try dir.script(
            "agent.sh",
            """
            D="\(dir.path)"
            case "$1" in
              ask*)
                if [ -z "$NIGHTSHIFT_DECISION" ]; then
                  printf '%s' '{"status":"needs_decision","decision_prompt":"Ship it? <script>window.__xss=1</script><img src=x onerror=window.__xss=2>"}' > "$NIGHTSHIFT_RESULT_FILE"
                  exit 0
                fi
                echo "decided: $NIGHTSHIFT_DECISION"
                while [ ! -e "$D/release-$NIGHTSHIFT_TASK_ID" ]; do sleep 0.05; done
                echo "released" ;;
              flaky*)
                if [ ! -e "$D/fixed-$NIGHTSHIFT_TASK_ID" ]; then echo "error: flaky failure"; exit 1; fi
                while [ ! -e "$D/release-$NIGHTSHIFT_TASK_ID" ]; do sleep 0.05; done
                echo "fixed" ;;
              phase*)
                while [ ! -e "$D/go-$NIGHTSHIFT_TASK_TYPE" ]; do sleep 0.05; done
                echo "phase $NIGHTSHIFT_TASK_TYPE done" ;;
              hang*)
                sleep 300 &
                echo $! > "$D/child-$NIGHTSHIFT_TASK_ID"
                wait ;;
              *)
                echo "working on it"
                echo "error: a planted error line"
                echo "done" ;;
            esac
            """)
    }

    convenience init(token: String? = nil) async throws {
        try await self.init(Options(token: token))
    }

    init(_ options: Options) async throws {
        dir = try TemporaryDirectory(prefix: "nightshift-browser")
        let agent = try Self.agent(dir)
        var pm = #"project_manager: { backlog: "" }"#
        if let backlog = options.backlog {
            let file = try dir.write(backlog, to: "backlog.md")
            pm = """
                project_manager:
                  backlog: "\(file)"
                  phases: [spec, impl]
                  parallel_items: 1
                  templates: { spec: "phase {phase}: {title}", impl: "phase {phase}: {title}" }
                """
        }
        var tool = ""
        if options.toolExecutor {
            let bin = try dir.script("tool-bin", "exit 0")
            tool = "\n    tool: { command: \"\(bin) {direction}\" }"
        }
        config = try dir.write(
            """
            runner:
              workers: 2
              kill_grace: 2s
              retry_backoff: { base: 10ms, max: 20ms }
              executors:
                default: { command: "sh \(agent) {direction}" }\(tool)
            \(pm)
            monitor: { interval: \(options.monitorInterval) }
            """, to: "nightshift.yaml")
        var environment: [String: String] = [:]
        if let token = options.token { environment["NIGHTSHIFT_API_TOKEN"] = token }
        self.environment = environment
        daemon = try DaemonProcess(stateDir: dir.path("state"), arguments: ["--config", config], environment: environment)
        guard await daemon.waitUntilReady() else {
            throw WebDriver.Failure.timeout("the daemon to be ready: \(daemon.stderr)")
        }
        browser = try await WebDriver()
    }

    /// Stops the daemon (SIGTERM, drained) and starts a new one on the same state dir and port:
    /// a new run. The page's event stream reconnects to it by itself.
    func restartDaemon() async throws {
        let port = try #require(URLComponents(string: url)?.port)
        daemon.signal(SIGTERM)
        try #require(await daemon.waitForExit() != nil, "the daemon stopped")
        daemon = try DaemonProcess(
            stateDir: dir.path("state"), arguments: ["--config", config, "--port", "\(port)"], environment: environment)
        guard await daemon.waitUntilReady() else {
            throw WebDriver.Failure.timeout("the restarted daemon to be ready: \(daemon.stderr)")
        }
    }

    /// Stops the browser and the daemon (SIGTERM, drained).
    func close() async {
        await browser.close()
        daemon.signal(SIGTERM)
        _ = await daemon.waitForExit()
    }

    /// Creates a task through the API; returns its id.
    func create(_ direction: String, headers: [String: String] = [:]) async throws -> String {
        let body = String(
            decoding: try JSONSerialization.data(withJSONObject: ["direction": direction, "task_type": "impl"]), as: UTF8.self)
        let reply = try #require(await HTTP.send("POST", url + "/api/agent/tasks", json: body, headers: headers))
        try #require(reply.status == 201, "create: \(reply.status) \(String(decoding: reply.body, as: UTF8.self))")
        return try #require(reply.json?["id"] as? String)
    }

    func task(_ id: String) async -> [String: Any] {
        await HTTP.get(url + "/api/agent/tasks/\(id)")?.json ?? [:]
    }

    /// Waits until the task has `status` (over the API).
    func waitForStatus(_ id: String, _ status: String, timeout: Double = 30) async -> Bool {
        await waitFor(timeout: timeout) { await self.task(id)["status"] as? String == status }
    }

    /// Makes the `tool` executor's program executable (or not).
    func setToolPresent(_ present: Bool) throws {
        try FileManager.default.setAttributes([.posixPermissions: present ? 0o755 : 0o644], ofItemAtPath: dir.path("tool-bin"))
    }

    /// Creates the marker file the agent waits for (`release-<id>`, `fixed-<id>`, `go-<phase>`).
    func touch(_ name: String) {
        FileManager.default.createFile(atPath: dir.path(name), contents: nil)
    }

    /// Whether process `pid` is gone (or a zombie waiting to be reaped).
    static func isGone(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return true }
        guard let close = stat.lastIndex(of: ")") else { return true }
        return stat[stat.index(close, offsetBy: 2)...].hasPrefix("Z")
    }
}

/// Runs `body` with a fixture and always closes it.
func withBrowser(token: String? = nil, _ body: (BrowserFixture) async throws -> Void) async throws {
    try await withBrowser(BrowserFixture.Options(token: token), body)
}

/// Runs `body` with a fixture made with `options` and always closes it.
func withBrowser(_ options: BrowserFixture.Options, _ body: (BrowserFixture) async throws -> Void) async throws {
    let f = try await BrowserFixture(options)
    do {
        try await body(f)
    } catch {
        _ = try? await f.browser.screenshot("failure-\(UUID().uuidString.prefix(8))")
        await f.close()
        throw error
    }
    await f.close()
}
