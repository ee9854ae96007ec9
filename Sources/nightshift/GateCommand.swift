import ArgumentParser
import Foundation
import NightshiftCore
import NightshiftRuntime

#if canImport(Glibc)
    import Glibc
#endif

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// `nightshift gate`: the start gate (`make start-gate`). Gathers each check's facts — git,
/// the daemon's API (or the state dir's files when it is down), the CI command — and lets
/// `StartGate` judge them with the waivers of `config/start_gate_waivers.json`.
struct GateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gate",
        abstract: "Check that it is safe to start work; exit 0 only when every check passes or is waived.",
        discussion: """
            Checks: worktree_clean (git status --porcelain of --repo; the configured backlog does not \
            count), daemon_ready (a daemon that runs must answer GET /api/ready; none running passes \
            unless gate.require_daemon; a daemon.json left by a dead daemon fails), no_fatal_issues and no_critical_monitor_issues (from the daemon, or \
            the state dir's fatal_issues.json / monitor_issues.json when it is down), ci_status (runs \
            gate.ci_command when set). A waiver in config/start_gate_waivers.json turns a named failing \
            check into a warning until it expires. Exit 0 = pass, 1 = a check fails, 2 = bad usage.
            """)

    @OptionGroup var client: ClientOptions

    @Option(help: "The git repository whose work tree must be clean (default: the working directory).")
    var repo: String?

    @Option(help: "The waiver file (default: config/start_gate_waivers.json when it exists; a file named here must exist).")
    var waivers: String?

    @Option(help: "State dir of the daemon: its daemon.json, fatal and monitor issues (default: the config's state_dir).")
    var stateDir: String?

    func run() async throws {
        try await runReporting {
            let config: NightshiftConfig
            do { config = try ConfigLoader.load(path: client.config) } catch { throw CLIFailure(message: "\(error)", code: 2) }
            let waiverFile = waivers ?? "config/start_gate_waivers.json"
            if let waivers, !FileManager.default.fileExists(atPath: waivers) {
                throw CLIFailure(message: "no waiver file \(waivers) (--waivers names a file that must exist)", code: 2)
            }
            let repoDir = repo ?? FileManager.default.currentDirectoryPath
            let paths = StatePaths(root: stateDir ?? ClientOptions.environmentStateDir ?? config.stateDir)
            // Where the client options point (and the token): --url / NIGHTSHIFT_URL count as explicit.
            let location = try client.locate(stateDir: paths.root)

            var checks: [StartGate.Check] = []
            let git = Self.shell(["git", "-C", repoDir, "status", "--porcelain", "--untracked-files=all"], in: nil)
            checks.append(
                StartGate.worktreeClean(
                    repo: repoDir, exitStatus: git.status ?? 127, porcelain: git.out, error: git.err,
                    ignoring: Self.backlogPaths(config.projectManager.backlog, repo: repoDir)))

            let facts = await Self.daemonFacts(location: location, config: config, paths: paths)
            checks.append(StartGate.daemonReady(facts, required: config.gate.requireDaemon))
            let daemonUp = facts.status != nil
            let api = APIClient(base: facts.url, token: location.token)

            checks.append(
                StartGate.noFatalIssues(
                    try await Self.issues(api, daemonUp, "/api/agent/fatal-issues", file: paths.fatalIssues),
                    source: daemonUp ? api.base : paths.fatalIssues))
            checks.append(
                StartGate.noCriticalMonitorIssues(
                    try await Self.issues(api, daemonUp, "/api/agent/monitor-issues", file: paths.monitorIssues),
                    source: daemonUp ? api.base : paths.monitorIssues))

            let ci = config.gate.ciCommand
            if ci.isEmpty {
                checks.append(StartGate.ciStatus(command: "", exitStatus: nil, outputTail: ""))
            } else {
                let r = Self.shell(["/bin/sh", "-c", ci], in: repoDir)
                let tail = String((r.out + r.err).suffix(600))
                checks.append(StartGate.ciStatus(command: ci, exitStatus: r.status, outputTail: tail, error: r.err))
            }

            let parsed = StartGate.parseWaivers(FileManager.default.contents(atPath: waiverFile), file: waiverFile)
            let report = StartGate.evaluate(checks, waivers: parsed.waivers, problems: parsed.problems, now: Date())
            if client.json {
                print(String(decoding: try JSONEncoder.nightshift(pretty: true).encode(report), as: UTF8.self))
            } else {
                print(Self.render(report))
            }
            if !report.passed { throw ExitCode(1) }
        }
    }

    /// Where the daemon is, if one runs: the state dir's daemon.json (is its pid alive?), or the
    /// URL given; then what its `/api/ready` answers.
    static func daemonFacts(location: DaemonLocation, config: NightshiftConfig, paths: StatePaths) async -> StartGate.DaemonFacts
    {
        let file = DaemonAnnouncement.path(in: paths)
        var facts = StartGate.DaemonFacts(url: config.baseURL, status: nil, error: nil)
        do {
            if let a = try DaemonAnnouncement.read(path: file) {
                facts.announcement = .init(path: file, pid: a.pid, url: a.localURL, alive: a.isAlive)
                if a.isAlive { facts.url = a.localURL }
            }
        } catch {
            facts.announcementError = error.description
        }
        if location.source == .flag || location.source == .environment {
            facts.url = location.base
            facts.explicitURL = true
        }
        if facts.announcement?.alive == false { return facts }
        // No daemon announced on this state dir and none named: nothing to probe (unless one is required).
        if facts.announcement == nil && !facts.explicitURL && !config.gate.requireDaemon { return facts }
        let probed = await ready(APIClient(base: facts.url, token: ""))
        (facts.status, facts.error) = (probed.status, probed.error)
        return facts
    }

    /// The backlog file (or directory, with a trailing `/`) relative to the repository's top
    /// level, when it lies inside it: operators edit it before a start.
    static func backlogPaths(_ backlog: String, repo: String) -> [String] {
        guard !backlog.isEmpty else { return [] }
        let top = shell(["git", "-C", repo, "rev-parse", "--show-toplevel"], in: nil)
        guard top.status == 0 else { return [] }
        let root = URL(fileURLWithPath: top.out.trimmingCharacters(in: .whitespacesAndNewlines)).resolvingSymlinksInPath().path
        let file = URL(fileURLWithPath: backlog, relativeTo: URL(fileURLWithPath: FileManager.default.currentDirectoryPath + "/"))
            .standardizedFileURL.resolvingSymlinksInPath().path
        guard file.hasPrefix(root + "/") else { return [] }
        var isDir: ObjCBool = false
        let relative = String(file.dropFirst(root.count + 1))
        return FileManager.default.fileExists(atPath: file, isDirectory: &isDir) && isDir.boolValue
            ? [relative + "/"] : [relative]
    }

    /// The status of `GET /api/ready`, or why there was none.
    static func ready(_ api: APIClient) async -> (status: Int?, error: String?) {
        guard let url = URL(string: api.base + "/api/ready") else { return (nil, "bad URL \(api.base)") }
        do {
            let (_, response) = try await URLSession.shared.data(for: URLRequest(url: url, timeoutInterval: 5))
            return ((response as? HTTPURLResponse)?.statusCode ?? 0, nil)
        } catch {
            return (nil, error.localizedDescription)
        }
    }

    /// Issues from the API when the daemon is up, else from the state dir's file (missing =
    /// none). A file that cannot be parsed fails closed: a `state_file_unreadable` issue naming it.
    static func issues(_ api: APIClient, _ daemonUp: Bool, _ path: String, file: String) async throws -> [JSONValue]? {
        if daemonUp, let reply = try? await api.request("GET", path, timeout: 5), reply.status == 200,
            let issues = reply.json?.objectValue?["issues"]?.arrayValue
        {
            return issues
        }
        if daemonUp { return nil }
        guard FileManager.default.fileExists(atPath: file) else { return [] }
        let reason: String
        if let data = FileManager.default.contents(atPath: file) {
            do {
                let json = try JSONDecoder().decode(JSONValue.self, from: data)
                if let issues = json.objectValue?["issues"]?.arrayValue { return issues }
                reason = "not an object like {\"issues\": [...]}"
            } catch {
                reason = StateFileError.describe(error)
            }
        } else {
            reason = String(cString: strerror(errno))
        }
        let unreadable = FatalIssues.unreadable(StateFileError(path: file, reason: reason), at: Date())
        return [
            .object([
                "condition": .string(unreadable.condition.rawValue), "detail": .string(unreadable.reason),
                "severity": .string("critical"),
                "id": .string(unreadable.id), "subject": .string(file), "message": .string(unreadable.reason),
            ])
        ]
    }

    static func render(_ report: StartGate.Report) -> String {
        var lines: [String] = []
        let failing = report.failing.count
        let waived = report.waived.count
        lines.append(
            report.passed
                ? "start gate: PASS" + (waived > 0 ? " with \(waived) waived check(s)" : "")
                : "start gate: FAIL (\(failing) check(s) failing)")
        for c in report.checks {
            let mark: String
            switch c.status {
            case .pass: mark = "ok  "
            case .fail: mark = "FAIL"
            case .waived: mark = "WARN"
            case .skipped: mark = "skip"
            }
            lines.append("  \(mark)  \(c.name.padding(toLength: 27, withPad: " ", startingAt: 0)) \(c.detail)")
            if c.status == .fail && !c.remedy.isEmpty { lines.append("        remedy: \(c.remedy)") }
            if let w = c.waiver {
                lines.append("        waived by \(w.owner) until \(Timestamp.format(w.expiresAt)): \(w.reason)")
            }
        }
        if !report.waiverProblems.isEmpty {
            lines.append("waivers ignored:")
            for p in report.waiverProblems {
                let who = [p.index.map { "#\($0)" }, p.check, p.owner].compactMap { $0 }.joined(separator: " ")
                lines.append("  \(who.isEmpty ? "file" : who): \(p.problem)")
            }
        }
        return lines.joined(separator: "\n")
    }

    /// Runs a command to completion: exit status (nil when it cannot start), stdout, stderr.
    static func shell(_ argv: [String], in dir: String?) -> (status: Int32?, out: String, err: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: argv[0].hasPrefix("/") ? argv[0] : "/usr/bin/env")
        p.arguments = argv[0].hasPrefix("/") ? Array(argv.dropFirst()) : argv
        if let dir { p.currentDirectoryURL = URL(fileURLWithPath: dir) }
        let out = Pipe()
        let err = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = FileHandle.nullDevice
        do { try p.run() } catch { return (nil, "", "\(error)") }
        // Read both pipes concurrently so a chatty command cannot fill one and stall.
        let errData = Locked(Data())
        let errDone = DispatchSemaphore(value: 0)
        Thread {
            errData.withLock { $0 = err.fileHandleForReading.readDataToEndOfFile() }
            errDone.signal()
        }.start()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        errDone.wait()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: errData.value, as: UTF8.self))
    }
}
