import Foundation
import NightshiftTesting
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The daemon never dies of its own output: a closed output pipe (`serve | head`), output
/// redirected to a full disk, and a state dir whose disk fills while agents run.
@Suite("output failures", .serialized, .timeLimit(.minutes(5)))
struct OutputFailureTests {
    /// `nightshift serve` with its stdout and stderr wherever the test says, every component
    /// log echoed there, found through its daemon.json.
    final class Daemon {
        let process = Process()
        let state: String
        var url = ""

        init(config: String, state: String, output: FileHandle) throws {
            self.state = state
            process.executableURL = URL(fileURLWithPath: NightshiftBinary.path)
            process.arguments = ["serve", "--config", config, "--state-dir", state, "--port", "0"]
            var env = ProcessInfo.processInfo.environment
            env["NIGHTSHIFT_LOG_STDERR"] = "1"
            process.environment = env
            process.standardOutput = output
            process.standardError = output
            try process.runSerialized()
        }

        func ready() async -> Bool {
            await waitFor(timeout: 60) {
                guard process.isRunning,
                    let data = FileManager.default.contents(atPath: state + "/daemon.json"),
                    let o = try? JSONSerialization.jsonObject(with: data) as? [String: Any], let u = o["url"] as? String
                else { return false }
                url = u
                return await HTTP.get(u + "/api/ready")?.status == 200
            }
        }

        func create(_ direction: String) async -> HTTP.Reply? {
            await HTTP.send("POST", url + "/api/agent/tasks", json: #"{"task_type":"impl","direction":"\#(direction)"}"#)
        }

        func task(_ id: String) async -> [String: Any]? { await HTTP.get(url + "/api/agent/tasks/\(id)")?.json }

        func stop() async -> Int32? {
            kill(process.processIdentifier, SIGTERM)
            guard await waitFor(timeout: 60, { !process.isRunning }) else { return nil }
            return process.terminationStatus
        }

        deinit { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
    }

    static func config(_ dir: TemporaryDirectory, agent: String) throws -> String {
        try dir.write(
            """
            runner:
              kill_grace: 300ms
              retry_backoff: { base: 100ms, max: 200ms }
              executors:
                default: { command: "\(agent)" }
            project_manager: { backlog: "" }
            monitor: { interval: 200ms, auto_recover: false }
            """, to: "nightshift.yaml")
    }

    @Test("with its output pipe closed (serve | head) the daemon ignores SIGPIPE and keeps serving")
    func closedPipe() async throws {
        let dir = try TemporaryDirectory()
        let config = try Self.config(dir, agent: "/bin/sh -c 'echo working; exit 0'")
        let pipe = Pipe()
        let d = try Daemon(config: config, state: dir.path("state"), output: pipe.fileHandleForWriting)
        try pipe.fileHandleForWriting.close()
        #expect(await d.ready())
        // The reader goes away; every log line from now on hits a closed pipe.
        try pipe.fileHandleForReading.close()
        for n in 0..<5 {
            let r = await d.create("after the pipe closed \(n)")
            #expect(r?.status == 201)
        }
        #expect(
            await waitFor(timeout: 30) {
                let counts = await HTTP.get(d.url + "/api/agent/tasks/count")?.json?["by_status"] as? [String: Any]
                return counts?["completed"] as? Int == 5
            })
        #expect(d.process.isRunning)
        #expect(await HTTP.get(d.url + "/api/health")?.status == 200)
        let metrics = String(decoding: await HTTP.get(d.url + "/metrics")?.body ?? Data(), as: UTF8.self)
        #expect(metrics.contains("nightshift_dropped_output_lines_total"))
        #expect(await d.stop() == 0)
    }

    @Test("with its output on a full disk (> /dev/full) the daemon keeps serving and running tasks")
    func outputOnFullDisk() async throws {
        let dir = try TemporaryDirectory()
        let config = try Self.config(dir, agent: "/bin/sh -c 'echo working; exit 0'")
        let full = try #require(FileHandle(forWritingAtPath: "/dev/full"))
        let d = try Daemon(config: config, state: dir.path("state"), output: full)
        #expect(await d.ready())
        let created = await d.create("while every write to stderr fails")
        let id = try #require(created?.json?["id"] as? String)
        #expect(await waitFor(timeout: 30) { await d.task(id)?["status"] as? String == "completed" })
        #expect(d.process.isRunning)
        #expect(await d.stop() == 0)
    }

    @Test(
        "when the state dir's disk fills: reads answer, new work gets a 503 that says so, disk_full is recorded once, the running task's outcome lands once space returns"
    )
    func stateDirDiskFills() async throws {
        let dir = try TemporaryDirectory()
        let mount = dir.path("small")
        try FileManager.default.createDirectory(atPath: mount, withIntermediateDirectories: true)
        // A small file system of its own (root on this machine kind and in CI).
        let mounted = try NightshiftBinary.shell("mount -t tmpfs -o size=160m tmpfs \(mount)")
        try #require(mounted == 0, "mount -t tmpfs failed: this test needs root")
        defer { _ = try? NightshiftBinary.shell("umount -l \(mount)") }
        let state = mount + "/state"
        let go = dir.path("go")
        let config = try Self.config(
            dir, agent: "/bin/sh -c 'while [ ! -f \(go) ]; do sleep 0.05; done; echo done waiting; exit 0'")
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: state + "/out.log", contents: nil)
        let out = try #require(FileHandle(forWritingAtPath: state + "/out.log"))
        let d = try Daemon(config: config, state: state, output: out)
        #expect(await d.ready())
        let running = try #require(await d.create("runs while the disk fills")?.json?["id"] as? String)
        #expect(await waitFor(timeout: 30) { await d.task(running)?["status"] as? String == "running" })

        // Fill the disk to the last byte.
        let filler = mount + "/filler"
        _ = try NightshiftBinary.shell(
            "dd if=/dev/zero of=\(filler) bs=1M 2>/dev/null; dd if=/dev/zero of=\(filler).tail bs=4k 2>/dev/null; true")
        #expect(await HTTP.get(d.url + "/api/health")?.status == 200)
        #expect(await HTTP.get(d.url + "/api/agent/tasks")?.status == 200)
        let refused = await d.create("new work on a full disk")
        #expect(refused?.status == 503)
        #expect(refused?.json?["type"] as? String == "disk_full")
        #expect((refused?.json?["detail"] as? String)?.contains("MiB free") == true)
        #expect(
            await waitFor(timeout: 30) {
                let fatal = await HTTP.get(d.url + "/api/agent/fatal-issues")?.json?["issues"] as? [[String: Any]] ?? []
                return fatal.contains { $0["condition"] as? String == "disk_full" }
            })
        // The agent ends while nothing can be written; its outcome waits for space.
        _ = FileManager.default.createFile(atPath: go, contents: nil)
        #expect(await HTTP.get(d.url + "/api/health")?.status == 200)
        #expect(d.process.isRunning)

        try FileManager.default.removeItem(atPath: filler)
        try? FileManager.default.removeItem(atPath: filler + ".tail")
        #expect(await waitFor(timeout: 60) { await d.task(running)?["status"] as? String == "completed" })
        #expect(await waitFor(timeout: 30) { await d.create("new work after space returned")?.status == 201 })
        #expect(d.process.isRunning)
        // The fatal issue was written once space returned, and logged once, not at every check.
        let log = (try? String(contentsOfFile: state + "/monitor.log", encoding: .utf8)) ?? ""
        #expect(log.components(separatedBy: "fatal: disk_full").count - 1 <= 1, "\(log)")
        #expect(await d.stop() == 0)
    }
}

extension NightshiftBinary {
    /// Runs a shell command line; its exit status.
    static func shell(_ line: String) throws -> Int32 {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", line]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.runSerialized()
        p.waitUntilExit()
        return p.terminationStatus
    }
}
