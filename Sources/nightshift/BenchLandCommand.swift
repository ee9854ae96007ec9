import ArgumentParser
import Foundation
import NightshiftCore
import NightshiftRuntime
import NightshiftStore

#if canImport(Glibc)
    import Glibc
#endif

/// `nightshift bench land`: the merge queue on a throwaway repository. Part 1: --items items
/// each adding its own file run their phase first; then the queue alone lands them (rebase,
/// `verify_command`, fast-forward each), timed. Part 2: --items items that all rewrite the same
/// line, with a merge agent that resolves a conflict the simple way (`git rebase -X theirs`
/// onto the base: the item's line wins); how many land without a human.
struct LandBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "land", abstract: "Time to land a queue of items; how many overlapping items land without a human.")

    @Option(help: "Items in each part.") var items = 10
    @Option(help: "verify_command run on each rebased branch.") var verify = "test -f README.md"
    @Option(help: "project_manager.max_merge_attempts in part 2.") var maxMergeAttempts = 2
    @Option(help: "Directory for the temporary repositories and state dirs.") var dir = FileManager.default.temporaryDirectory
        .path

    func run() async throws {
        try await runReporting {
            guard items > 0, maxMergeAttempts >= 0 else { throw CLIFailure(message: "--items must be positive", code: 2) }
            let root = (dir as NSString).appendingPathComponent("nightshift-bench-land-\(getpid())")
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: root) }
            try await separateFiles(root: (root as NSString).appendingPathComponent("separate"))
            try await overlapping(root: (root as NSString).appendingPathComponent("overlapping"))
        }
    }

    /// Part 1: phases first with the queue idle, then the queue alone, timed.
    func separateFiles(root: String) async throws {
        let setup = try LandBenchSetup(
            root: root, items: items, verify: verify, maxMergeAttempts: maxMergeAttempts,
            agent: #"echo "work of $NIGHTSHIFT_BACKLOG_ITEM" > "file-$NIGHTSHIFT_BACKLOG_ITEM.txt""#)
        let pm = setup.projectManager()
        try await pm.prepare()
        let runner = AgentRunner(env: setup.env)
        let runnerTask = Task { try await runner.run() }
        defer { runnerTask.cancel() }
        // Only passes, no pm.run(): the queue does not run until asked below.
        let deadline = ContinuousClock.now + .seconds(300)
        while try await setup.store.landingQueue().count < items {
            guard ContinuousClock.now < deadline else { throw CLIFailure(message: "the items never reached the queue", code: 1) }
            try await pm.runOnce()
            try await Task.sleep(for: .milliseconds(20))
        }
        runnerTask.cancel()
        guard let queue = pm.queue else { throw CLIFailure(message: "the merge queue is off", code: 1) }
        let started = ContinuousClock.now
        var landed = 0
        while let outcome = try await queue.runOnce() {
            if case .landed = outcome { landed += 1 }
        }
        let wall = (ContinuousClock.now - started).inSeconds
        let commits = try await setup.git(["rev-list", "--count", "main"])
        print(
            "part 1: \(items) items on separate files (rebase + verify \"\(verify)\" + fast-forward each): "
                + "\(landed)/\(items) landed in \(String(format: "%.2f", wall)) s "
                + "(\(String(format: "%.0f", wall / Double(max(1, landed)) * 1000)) ms per item); main has \(commits) commits")
    }

    /// Part 2: the whole pipeline (runner, project manager, queue, merge tasks) on items that
    /// all rewrite line 1 of shared.txt.
    func overlapping(root: String) async throws {
        let agent = """
            case "$1" in
            "Resolve the merge conflict"*)
              git -c user.name=Nightshift -c user.email=nightshift@localhost -c core.hooksPath=/dev/null rebase -q -X theirs main
              exit $? ;;
            esac
            echo "line 1 as item $NIGHTSHIFT_BACKLOG_ITEM wants it" > shared.txt
            """
        let setup = try LandBenchSetup(
            root: root, items: items, verify: verify, maxMergeAttempts: maxMergeAttempts, agent: agent)
        let pm = setup.projectManager()
        try await pm.prepare()
        let runner = AgentRunner(env: setup.env)
        let runnerTask = Task { try await runner.run() }
        let pmTask = Task { try await pm.run() }
        defer {
            pmTask.cancel()
            runnerTask.cancel()
        }
        let started = ContinuousClock.now
        let deadline = started + .seconds(600)
        var all: [BacklogItem] = []
        while ContinuousClock.now < deadline {
            all = try await setup.store.items()
            let settled = all.allSatisfy { i in
                i.state == .blocked || i.landState == .landed || i.landState == .waiting || i.landState == .skipped
            }
            if all.count == items && settled { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        let wall = (ContinuousClock.now - started).inSeconds
        let landed = all.filter { $0.landState == .landed }.count
        let waiting = all.filter { $0.landState == .waiting }.count
        let merges = try await setup.store.list(TaskQuery(limit: 10_000)).tasks.filter { $0.phase == PipelinePlan.mergePhase }
        print(
            "part 2: \(items) items rewriting the same line, merge agent `git rebase -X theirs`, max_merge_attempts \(maxMergeAttempts): "
                + "\(landed)/\(items) landed without a human, \(waiting) waiting for a decision, "
                + "\(merges.count) merge tasks, \(String(format: "%.1f", wall)) s in all")
    }
}

/// A repository on `main` and a store, environment and config for one part of the benchmark.
struct LandBenchSetup {
    let repo: String
    let env: ServiceEnvironment
    let store: SQLiteTaskStore

    init(root: String, items: Int, verify: String, maxMergeAttempts: Int, agent: String) throws {
        let fm = FileManager.default
        repo = (root as NSString).appendingPathComponent("repo")
        try fm.createDirectory(atPath: repo, withIntermediateDirectories: true)
        for args in [["init", "-q", "-b", "main"]] { try Self.gitSync(args, in: repo) }
        try Data("# bench\n".utf8).write(to: URL(fileURLWithPath: repo + "/README.md"))
        try Data("original line 1\n".utf8).write(to: URL(fileURLWithPath: repo + "/shared.txt"))
        try Self.gitSync(["add", "-A"], in: repo)
        try Self.gitSync(["-c", "user.name=Bench", "-c", "user.email=bench@localhost", "commit", "-qm", "initial"], in: repo)
        let paths = StatePaths(root: (root as NSString).appendingPathComponent("state"))
        try paths.prepare()
        let agentPath = (root as NSString).appendingPathComponent("agent.sh")
        try Data("#!/bin/sh\n\(agent)\n".utf8).write(to: URL(fileURLWithPath: agentPath))
        let backlog = (root as NSString).appendingPathComponent("backlog.md")
        try Data((1...items).map { "\($0). Bench item \($0)\n" }.joined().utf8).write(to: URL(fileURLWithPath: backlog))
        var c = NightshiftConfig()
        c.stateDir = paths.root
        c.runner.workers = 2
        c.runner.maxAttempts = 1
        c.runner.pollInterval = 3600
        c.runner.retryBackoff.base = 0.05
        c.runner.retryBackoff.max = 0.2
        c.runner.killGrace = 0.5
        c.runner.workspace = repo
        c.runner.executors = ["default": .init(command: "/bin/sh \(agentPath) {direction}")]
        c.projectManager.backlog = backlog
        c.projectManager.phases = ["impl"]
        c.projectManager.autoCommit = true
        c.projectManager.parallelItems = items
        c.projectManager.worktreeRetention = 0
        c.projectManager.verifyCommand = verify
        c.projectManager.land = .local
        c.projectManager.maxMergeAttempts = maxMergeAttempts
        c = c.withDerivedExecutors()
        store = try SQLiteTaskStore(
            path: paths.database, pipeline: PipelineHook(plan: PipelinePlan(config: c), maxAttempts: c.runner.maxAttempts))
        let logs = ComponentLogs(paths: paths, maxBytes: 1 << 20, backups: 1, redactor: Redactor(), echo: false)
        env = ServiceEnvironment(
            config: c, paths: paths, store: store, logs: logs, redactor: Redactor(),
            version: VersionInfo(gitSHA: "bench", startedAt: Date()), instanceID: "bench-land")
    }

    func projectManager() -> ProjectManager {
        ProjectManager(env: env, pipeline: store, workspace: Workspace(repository: repo, root: env.paths.file("worktrees")))
    }

    func git(_ arguments: [String]) async throws -> String { try Self.gitSync(arguments, in: repo) }

    @discardableResult
    static func gitSync(_ arguments: [String], in dir: String) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["git"] + arguments
        p.currentDirectoryURL = URL(fileURLWithPath: dir)
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard p.terminationStatus == 0 else {
            throw CLIFailure(message: "git \(arguments.joined(separator: " ")): \(text)", code: 1)
        }
        return text
    }
}
