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

    let dir: TemporaryDirectory
    let daemon: DaemonProcess
    let browser: WebDriver
    var url: String { daemon.url }

    /// The agent: `ask ...` asks a question, then (with the decision) waits for `release-<id>`;
    /// `hang ...` starts a background `sleep` (its pid in `child-<id>`) and waits for it; anything
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

    init(token: String? = nil) async throws {
        dir = try TemporaryDirectory(prefix: "nightshift-browser")
        let agent = try Self.agent(dir)
        let config = try dir.write(
            """
            runner:
              workers: 2
              kill_grace: 2s
              retry_backoff: { base: 10ms, max: 20ms }
              executors:
                default: { command: "sh \(agent) {direction}" }
            project_manager: { backlog: "" }
            monitor: { interval: 1h }
            """, to: "nightshift.yaml")
        var environment: [String: String] = [:]
        if let token { environment["NIGHTSHIFT_API_TOKEN"] = token }
        daemon = try DaemonProcess(stateDir: dir.path("state"), arguments: ["--config", config], environment: environment)
        guard await daemon.waitUntilReady() else {
            throw WebDriver.Failure.timeout("the daemon to be ready: \(daemon.stderr)")
        }
        browser = try await WebDriver()
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

    /// Whether process `pid` is gone (or a zombie waiting to be reaped).
    static func isGone(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return true }
        guard let close = stat.lastIndex(of: ")") else { return true }
        return stat[stat.index(close, offsetBy: 2)...].hasPrefix("Z")
    }
}

/// Runs `body` with a fixture and always closes it.
func withBrowser(token: String? = nil, _ body: (BrowserFixture) async throws -> Void) async throws {
    let f = try await BrowserFixture(token: token)
    do {
        try await body(f)
    } catch {
        _ = try? await f.browser.screenshot("failure-\(UUID().uuidString.prefix(8))")
        await f.close()
        throw error
    }
    await f.close()
}
