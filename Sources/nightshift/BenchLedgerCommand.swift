import ArgumentParser
import Foundation
import Hummingbird
import Logging
import NightshiftAPI
import NightshiftCore
import NightshiftRuntime
import NightshiftStore
import ServiceLifecycle

#if canImport(Glibc)
    import Glibc
#endif

/// `nightshift bench ledger`: how long a hand-off takes to reach an SSE client. The store, the
/// ledger and the real HTTP server run in this process; a client on loopback follows
/// `/api/agent/events`. Each sample is the time from the call that ends a phase's task (or
/// rescues a check-phase task) to the next task's `created` frame arriving at the client.
struct BenchLedger: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ledger", abstract: "Phase hand-off and rescue → next task's created event at an SSE client: p50 and p99.")
    @Option(help: "Backlog items (each gives two hand-offs, spec → impl → test, and one rescue of its test task).")
    var items = 50
    @Option(help: "Directory for the benchmark database.") var dir = FileManager.default.temporaryDirectory.path

    func run() async throws {
        try await runReporting {
            guard items > 0 else { throw CLIFailure(message: "--items must be positive", code: 2) }
            let root = (dir as NSString).appendingPathComponent("nightshift-bench-ledger-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(atPath: root) }
            var config = NightshiftConfig()
            config.stateDir = root
            config.server.port = 0
            config.runner.maxAttempts = 1
            let paths = StatePaths(root: root)
            try paths.prepare()
            let store = try SQLiteTaskStore(
                path: paths.database, pipeline: PipelineHook(plan: PipelinePlan(config: config), maxAttempts: 1))
            let logs = ComponentLogs(paths: paths, maxBytes: 5 << 20, backups: 1, redactor: Redactor(), echo: false)
            let env = ServiceEnvironment(
                config: config, paths: paths, store: store, logs: logs, redactor: Redactor(),
                version: VersionInfo(gitSHA: "bench", startedAt: Date()), instanceID: "bench")
            let port = Locked<Int?>(nil)
            let app = APIServer.buildApplication(
                env: env, views: .files(paths), isReady: { true }, onRunning: { p in port.withLock { $0 = p } })
            let group = ServiceGroup(services: [app], logger: Logger(label: "bench"))
            let server = Task { try await group.run() }
            defer { server.cancel() }
            let deadline = Date().addingTimeInterval(30)
            while port.value == nil && Date() < deadline { try await Task.sleep(for: .milliseconds(5)) }
            guard let p = port.value else { throw CLIFailure(message: "the server did not start") }

            _ = try await store.importBacklog(
                (1...items).map {
                    BacklogEntry(key: "\($0)", position: $0, title: "item \($0)", body: "", after: [], file: "bench", line: $0)
                }, now: Date())
            for i in 1...items {
                _ = try await env.ledger.startItem(
                    in: store, key: "\(i)", parallel: items, workdir: nil, branch: nil, now: Date())
            }
            let client = try SSEClient(port: p, after: try await store.lastEventID())
            defer { client.close() }

            var handoffs: [Double] = []
            var rescues: [Double] = []
            // Each item: its spec and impl end (two hand-offs), then its test task is rescued
            // from a dead node with no attempts left, which sends the item back to impl.
            for round in 0..<3 {
                for _ in 0..<items {
                    guard
                        let task = try await env.ledger.claim(
                            owner: round == 2 ? "dead-node" : "bench", limit: 1, now: Date(), lease: 60
                        ).first
                    else {
                        throw CLIFailure(message: "nothing to claim in round \(round)")
                    }
                    let t0 = Date()
                    let changes: Changes<[Result<AgentTask, StoreError>]>
                    if round < 2 {
                        changes = try await store.finish(
                            [FinishRequest(id: task.id, owner: "bench", outcome: AttemptOutcome(.completed, exitCode: 0))],
                            now: t0)
                    } else {
                        let rescued = try await store.rescue(
                            id: task.id, owner: "dead-node", reason: "bench: node died", errorClass: .orphaned, retryDelay: 0,
                            by: "rescuer",
                            now: t0)
                        changes = Changes([.success(rescued.value)], entries: rescued.entries)
                    }
                    env.ledger.announce(changes)
                    guard let next = changes.created.first?.id else {
                        throw CLIFailure(message: "task \(task.id) created no next task")
                    }
                    guard let arrived = await client.arrival(of: next, change: "created", timeout: 10) else {
                        throw CLIFailure(message: "the created event of \(next) never reached the SSE client")
                    }
                    let ms = arrived.timeIntervalSince(t0) * 1000
                    if round < 2 { handoffs.append(ms) } else { rescues.append(ms) }
                }
            }
            func report(_ label: String, _ v: [Double]) {
                let s = v.sorted()
                func q(_ p: Double) -> Double {
                    s.isEmpty ? 0 : s[min(s.count - 1, max(0, Int((p * Double(s.count)).rounded(.up)) - 1))]
                }
                print(
                    label.padding(toLength: 56, withPad: " ", startingAt: 0)
                        + String(format: "p50 %6.2f ms   p99 %6.2f ms   (n=%d)", q(0.5), q(0.99), s.count))
            }
            report("phase ends → next phase's created event at SSE", handoffs)
            report("check-phase task rescued → fix task's created at SSE", rescues)
            await group.triggerGracefulShutdown()
            _ = try? await server.value
        }
    }
}

/// A minimal server-sent-events client on loopback: a reader thread parses frames and keeps
/// when each (task, change) first arrived.
final class SSEClient: @unchecked Sendable {
    private let fd: Int32
    private let arrivals: Locked<[String: Date]>
    private let thread: Thread

    init(port: Int, after: Int64) throws {
        let sock = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        fd = sock
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let ok = withUnsafePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(sock, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
        guard ok else { throw CLIFailure(message: "cannot connect to the bench server on port \(port)") }
        let request = "GET /api/agent/events?after=\(after) HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\n\r\n"
        _ = request.withCString { send(sock, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
        let fd = sock
        let arrivals = Locked<[String: Date]>([:])
        self.arrivals = arrivals
        thread = Thread {
            var pending = ""
            var buffer = [UInt8](repeating: 0, count: 64 * 1024)
            while true {
                let n = recv(fd, &buffer, buffer.count, 0)
                if n <= 0 { return }
                let now = Date()
                pending += String(decoding: buffer[0..<n], as: UTF8.self)
                while let r = pending.range(of: "\n\n") {
                    let frame = pending[..<r.lowerBound]
                    pending = String(pending[r.upperBound...])
                    guard let data = frame.split(separator: "\n").first(where: { $0.hasPrefix("data: ") }),
                        let json = try? JSONDecoder().decode(JSONValue.self, from: Data(data.dropFirst(6).utf8)),
                        let change = json.objectValue?["change"]?.stringValue,
                        let id = json.objectValue?["event"]?.objectValue?["task_id"]?.stringValue
                    else { continue }
                    arrivals.withLock { if $0["\(id) \(change)"] == nil { $0["\(id) \(change)"] = now } }
                }
            }
        }
        thread.start()
    }

    /// When the first `change` frame about `id` arrived; waits up to `timeout` seconds.
    func arrival(of id: String, change: String, timeout: Double) async -> Date? {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let at = arrivals.value["\(id) \(change)"] { return at }
            try? await Task.sleep(for: .microseconds(50))
        }
        return nil
    }

    func close() { shutdown(fd, Int32(SHUT_RDWR)) }
}
