import Foundation
import NightshiftCore
import NightshiftTesting

@testable import NightshiftRuntime

/// What one direct `AgentProcess.run` produced.
struct AgentRun: Sendable {
    var report: AttemptReport
    /// The pid `onSpawn` received (the group leader; 0 when it was never called).
    var pid: Int32
    var logPath: String
    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }
    /// The log's lines after the header.
    var outputLines: [String] {
        Array(log.split(separator: "\n", omittingEmptySubsequences: false).dropFirst().dropLast().map(String.init))
    }
}

extension RuntimeHarness {
    static let header = "=== test header ==="

    /// A launch of `/bin/sh -c command` with test-sized limits.
    func launch(
        _ command: String, environment: [String: String] = [:], timeout: Double = 30, stall: Double = 30,
        grace: Double = 0.2, tailBytes: Int = 8192, workingDirectory: String? = nil, taskID: String = "task_00000000000000aa"
    ) -> AgentLaunch {
        var env = ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin", "NIGHTSHIFT_TASK_ID": taskID]
        env.merge(environment) { _, new in new }
        return AgentLaunch(
            taskID: taskID, command: command, environment: env, workingDirectory: workingDirectory,
            logPath: paths.taskLog(taskID), timeout: timeout, stallTimeout: stall, killGrace: grace, tailBytes: tailBytes)
    }

    /// Runs an attempt directly, tracking its process group for cleanup.
    func runAgent(
        _ launch: AgentLaunch, stopper: AttemptStopper = AttemptStopper(), redactor: Redactor = Redactor(),
        allowStart: Bool = true
    ) async -> AgentRun {
        let spawned = Locked<Int32>(0)
        let report = await AgentProcess.run(launch, redactor: redactor, stopper: stopper, header: Self.header) { pid in
            spawned.withLock { $0 = pid }
            self.track(pid)
            return allowStart
        }
        return AgentRun(report: report, pid: spawned.value, logPath: launch.logPath)
    }
}

extension AttemptEnd {
    var isStopped: Bool {
        if case .stopped = self { return true }
        return false
    }
}

/// Shorthand for the harness's polling wait.
func waitUntil(_ what: String, timeout: Double = 20, _ condition: () async throws -> Bool) async throws {
    try await RuntimeHarness.waitUntil(what, timeout: timeout, condition)
}

/// Waits until no live (non-zombie) process is left in group `pgid`.
func waitForNoSurvivor(_ pgid: Int32, timeout: Double = 10) async throws {
    try await waitUntil("process group \(pgid) to be empty", timeout: timeout) { ProcessGroup.liveMembers(pgid).isEmpty }
}

/// Waits until `pid` is gone (or a zombie).
func waitForDeath(_ pid: Int32, timeout: Double = 10) async throws {
    try await waitUntil("process \(pid) to die", timeout: timeout) { RuntimeHarness.isDead(pid) }
}

/// Runs `/bin/sh -c script` and returns its standard output (for quoting round trips).
func shellOutput(_ script: String) throws -> Data {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/bin/sh")
    p.arguments = ["-c", script]
    let out = Pipe()
    p.standardOutput = out
    p.standardError = FileHandle.nullDevice
    p.standardInput = FileHandle.nullDevice
    try p.runSerialized()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return data
}

/// The one Claude Code `--output-format json` result line of `shared/fixtures`.
let claudeFixtureLine =
    #"{"type":"result","subtype":"success","is_error":false,"duration_ms":48211,"duration_api_ms":41034,"num_turns":7,"result":"Implemented the retry policy and added three tests.","session_id":"0b6f3c1e-5a2d-4e0b-9d51-2f8a7c4e1b90","total_cost_usd":0.1873,"usage":{"input_tokens":18234,"cache_creation_input_tokens":5120,"cache_read_input_tokens":40960,"output_tokens":2311}}"#
