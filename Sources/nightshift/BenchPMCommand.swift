import ArgumentParser
import Foundation
import NightshiftCore
import NightshiftRuntime
import NightshiftStore
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// `nightshift bench pm`: what the project manager costs per item and while it waits. Runs a
/// real daemon (`serve`, this binary) on a temporary state dir with a generated backlog, one
/// `impl` phase and as many items in parallel as workers; reads the daemon's CPU and memory
/// from /proc and counts the writes of `project_manager_state.json` with inotify.
struct PMBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pm", abstract: "Items per second and the daemon's CPU with instant agents; its idle cost with long ones.",
        discussion: """
            Phase 1 (throughput): agents run `true`; the daemon starts paused (the import is not \
            measured) and is resumed over the API; from then until every item is done (or --seconds \
            pass). Phase 2 (idle): a fresh state dir, agents run `sleep 600`; once --workers items are \
            active, the daemon's CPU over --idle-seconds. Compare --items 5000 with --items 5: the CPU \
            per item should not grow with the backlog.
            """)

    @Option(help: "Items in the generated backlog.") var items = 5000
    @Option(help: "Runner workers, and items in parallel.") var workers = 4
    @Option(help: "Longest throughput phase, in seconds.") var seconds = 120.0
    @Option(help: "Length of the idle measurement, in seconds (0 skips the idle phase).") var idleSeconds = 10.0
    @Option(help: "Directory for the temporary state dirs.") var dir = FileManager.default.temporaryDirectory.path

    func run() async throws {
        try await runReporting {
            guard items > 0, workers > 0, seconds > 0, idleSeconds >= 0 else {
                throw CLIFailure(message: "--items, --workers and --seconds must be positive", code: 2)
            }
            let root = (dir as NSString).appendingPathComponent("nightshift-bench-pm-\(getpid())")
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: root) }
            let backlog = (root as NSString).appendingPathComponent("backlog.md")
            try Data((1...items).map { "\($0). Item number \($0)\n" }.joined().utf8).write(to: URL(fileURLWithPath: backlog))
            print("backlog: \(items) items, phases [impl], \(workers) workers, \(workers) items in parallel")

            // Started paused so that the import and start-up are not measured; resumed over the API.
            let busy = try await BenchDaemon.start(
                root: root, name: "throughput", backlog: backlog, agent: "true", workers: workers, paused: true)
            defer { busy.stop() }
            let started = ContinuousClock.now
            let cpu0 = busy.cpuSeconds()
            let run0 = busy.runTime()
            try await busy.resume()
            var done = 0
            while ContinuousClock.now - started < .seconds(seconds) {
                try await Task.sleep(for: .milliseconds(250))
                done = try await busy.count(.done)
                if done >= items { break }
            }
            let wall = (ContinuousClock.now - started).inSeconds
            let cpu = busy.cpuSeconds() - cpu0
            let run = busy.runTime() - run0
            let memory = busy.memory()
            let writes = busy.stateWrites()
            // Items per second from the items' own times: the first start to the last finish.
            let finished = try await busy.store.items().filter { $0.state == .done }
            let first = finished.compactMap(\.startedAt).min() ?? Date()
            let last = finished.compactMap(\.finishedAt).max() ?? first
            let span = max(last.timeIntervalSince(first), 0.001)
            busy.stop()
            print(
                String(
                    format:
                        "throughput: %d/%d items done, %.1f items/s (first start → last finish %.2f s); daemon CPU %.0f%% of a core over %.1f s, %.2f ms CPU per item",
                    done, items, Double(finished.count) / span, span, cpu / wall * 100, wall,
                    done > 0 ? run / Double(done) * 1000 : 0))
            print(
                String(
                    format:
                        "            RSS %.1f MB (peak %.1f MB, anonymous %.1f MB); project_manager_state.json %@, %d writes (%.1f/s)",
                    memory.rss, memory.peak, memory.anon, Self.bytes(busy.stateFileSize()), writes, Double(writes) / wall))

            guard idleSeconds > 0 else { return }
            let idle = try await BenchDaemon.start(
                root: root, name: "idle", backlog: backlog, agent: "sleep 600", workers: workers, paused: false)
            defer { idle.stop() }
            let deadline = ContinuousClock.now + .seconds(60)
            while try await idle.count(.active) < min(workers, items) {
                guard ContinuousClock.now < deadline else { throw CLIFailure(message: "the idle daemon did not start its items") }
                try await Task.sleep(for: .milliseconds(100))
            }
            try await Task.sleep(for: .seconds(2))  // let the start-up burst (first monitor check) pass
            let idleStart = ContinuousClock.now
            let idleCPU0 = idle.cpuSeconds()
            let idleWrites0 = idle.stateWrites()
            try await Task.sleep(for: .seconds(idleSeconds))
            let idleWall = (ContinuousClock.now - idleStart).inSeconds
            let idleCPU = idle.cpuSeconds() - idleCPU0
            let idleWrites = idle.stateWrites() - idleWrites0
            let idleMemory = idle.memory()
            print(
                String(
                    format:
                        "idle (%d long agents): daemon CPU %.2f%% of a core over %.0f s; RSS %.1f MB (anonymous %.1f MB); project_manager_state.json %@, %d writes",
                    min(workers, items), idleCPU / idleWall * 100, idleWall, idleMemory.rss, idleMemory.anon,
                    Self.bytes(idle.stateFileSize()), idleWrites))
            idle.stop()
        }
    }

    static func bytes(_ n: Int) -> String { n >= 1 << 20 ? String(format: "%.1f MB", Double(n) / 1e6) : "\(n) bytes" }
}

/// One `nightshift serve` child on its own state dir, and what the bench reads about it.
final class BenchDaemon: Sendable {
    let process: Process
    let paths: StatePaths
    let store: SQLiteTaskStore
    let writes: StateWriteCounter

    private init(process: Process, paths: StatePaths, store: SQLiteTaskStore, writes: StateWriteCounter) {
        self.process = process
        self.paths = paths
        self.store = store
        self.writes = writes
    }

    /// Starts the daemon and returns once it answers /api/ready.
    static func start(
        root: String, name: String, backlog: String, agent: String, workers: Int, paused: Bool
    ) async throws -> BenchDaemon {
        let base = (root as NSString).appendingPathComponent(name)
        let config = (base as NSString).appendingPathComponent("nightshift.yaml")
        let paths = StatePaths(root: (base as NSString).appendingPathComponent("state"))
        try paths.prepare()
        try Data(
            """
            project_manager: { backlog: "\(backlog)", phases: [impl], parallel_items: \(workers), worktree_retention: 0 }
            runner:
              workers: \(workers)
              drain_timeout: 0
              kill_grace: 1s
              executors: { default: { command: "\(agent)" } }
            monitor: { auto_recover: false }
            """.utf8
        ).write(to: URL(fileURLWithPath: config))
        let store = try SQLiteTaskStore(path: paths.database)
        if paused { try await store.setPipelineValue(PipelineKeys.paused, "1") }
        let writes = StateWriteCounter(directory: paths.root, name: (paths.projectManagerState as NSString).lastPathComponent)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: WatchdogCommand.executablePath())
        process.arguments = ["serve", "--config", config, "--state-dir", paths.root, "--port", "0"]
        var env = ProcessInfo.processInfo.environment
        env["NIGHTSHIFT_LOG_STDERR"] = "0"
        process.environment = env
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        guard await WatchdogBench.readyDaemon(paths, notPID: 0) != nil else {
            writes.stop()
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            throw CLIFailure(message: "the daemon did not become ready; see \(paths.componentLog("nightshift"))")
        }
        return BenchDaemon(process: process, paths: paths, store: store, writes: writes)
    }

    /// Resumes the project manager (`POST /api/agent/pm/resume`).
    func resume() async throws {
        guard let daemon = try DaemonAnnouncement.read(path: DaemonAnnouncement.path(in: paths)) else {
            throw CLIFailure(message: "the daemon left no daemon.json")
        }
        _ = try await APIClient(base: daemon.localURL, token: "").call("POST", "/api/agent/pm/resume")
    }

    func count(_ state: ItemState) async throws -> Int { try await store.items().filter { $0.state == state }.count }

    /// utime + stime of the daemon, in seconds.
    func cpuSeconds() -> Double {
        guard let text = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/stat", encoding: .utf8),
            let close = text.lastIndex(of: ")")
        else { return 0 }
        // Fields after "(comm)": state is field 3, utime 14 and stime 15.
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// Time the daemon's threads spent on a CPU, in seconds, from each thread's schedstat
    /// (nanoseconds, where utime and stime count 10 ms ticks): the per-item figure of a small
    /// backlog needs it.
    func runTime() -> Double {
        let dir = "/proc/\(process.processIdentifier)/task"
        var total = 0.0
        for thread in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] {
            let text = (try? String(contentsOfFile: "\(dir)/\(thread)/schedstat", encoding: .utf8)) ?? ""
            total += Double(text.split(separator: " ").first ?? "") ?? 0
        }
        return total / 1e9
    }

    /// Resident, peak resident and anonymous resident memory of the daemon (the rest of RSS is
    /// mostly the pages of the binary and the Swift libraries), in MB.
    func memory() -> (rss: Double, peak: Double, anon: Double) {
        let text = (try? String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8)) ?? ""
        func kb(_ key: String) -> Double {
            guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(key) }) else { return 0 }
            return Double(line.split(separator: " ").dropFirst().first ?? "") ?? 0
        }
        return (kb("VmRSS:") / 1024, kb("VmHWM:") / 1024, kb("RssAnon:") / 1024)
    }

    func stateFileSize() -> Int {
        (try? FileManager.default.attributesOfItem(atPath: paths.projectManagerState)[.size] as? Int) ?? 0
    }

    func stateWrites() -> Int { writes.count }

    /// SIGTERM, then waits for the exit (the config's drain_timeout 0 tears agents down at once).
    func stop() {
        writes.stop()
        if process.isRunning {
            kill(process.processIdentifier, SIGTERM)
            process.waitUntilExit()
        }
    }
}

/// Counts files named `name` renamed into or written in `directory` (inotify), on its own thread.
final class StateWriteCounter: Sendable {
    private let counted = Atomic<Int>(0)
    private let stopped = Atomic<Bool>(false)
    var count: Int { counted.load(ordering: .relaxed) }

    init(directory: String, name: String) {
        let fd = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        guard fd >= 0, inotify_add_watch(fd, directory, UInt32(IN_CLOSE_WRITE | IN_MOVED_TO)) >= 0 else { return }
        let thread = Thread { [self] in
            let size = 64 * 1024
            let buffer = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 8)
            defer {
                buffer.deallocate()
                close(fd)
            }
            while !stopped.load(ordering: .relaxed) {
                var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                guard poll(&pfd, 1, 200) > 0 else { continue }
                let n = read(fd, buffer, size)
                var offset = 0
                while n > 0 && offset + MemoryLayout<inotify_event>.size <= n {
                    let event = buffer.load(fromByteOffset: offset, as: inotify_event.self)
                    let nameStart = buffer.advanced(by: offset + MemoryLayout<inotify_event>.size)
                    if event.len > 0 && String(cString: nameStart.assumingMemoryBound(to: CChar.self)) == name {
                        counted.add(1, ordering: .relaxed)
                    }
                    offset += MemoryLayout<inotify_event>.size + Int(event.len)
                }
            }
        }
        thread.start()
    }

    func stop() { stopped.store(true, ordering: .relaxed) }
}
