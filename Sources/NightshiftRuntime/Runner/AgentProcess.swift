import Foundation
import NightshiftCore
import Subprocess
import Synchronization
import SystemPackage

#if canImport(Glibc)
    import Glibc
#endif

/// How one attempt's process is to be run.
public struct AgentLaunch: Sendable {
    public var taskID: String
    /// The resolved shell command (run by `/bin/sh -c`).
    public var command: String
    public var environment: [String: String]
    public var workingDirectory: String?
    public var logPath: String
    /// Wall-clock limit of the attempt, seconds.
    public var timeout: Double
    /// Longest silence allowed, seconds.
    public var stallTimeout: Double
    public var killGrace: Double
    public var tailBytes: Int
    /// Where the output's lines are also ingested as logs (source `task:<id>`, the task's run).
    public var logTap: TaskLineTap? = nil
    public var runID: String? = nil
    /// Sees every raw output line (before redaction) on the reader thread: a structured
    /// agent's meter. It must be quick.
    public var onLine: (@Sendable (UnsafeBufferPointer<UInt8>, _ complete: Bool) -> Void)? = nil

    public init(
        taskID: String, command: String, environment: [String: String], workingDirectory: String?, logPath: String,
        timeout: Double, stallTimeout: Double, killGrace: Double, tailBytes: Int, logTap: TaskLineTap? = nil,
        runID: String? = nil, onLine: (@Sendable (UnsafeBufferPointer<UInt8>, _ complete: Bool) -> Void)? = nil
    ) {
        self.taskID = taskID
        self.command = command
        self.environment = environment
        self.workingDirectory = workingDirectory
        self.logPath = logPath
        self.timeout = timeout
        self.stallTimeout = stallTimeout
        self.killGrace = killGrace
        self.tailBytes = tailBytes
        self.logTap = logTap
        self.runID = runID
        self.onLine = onLine
    }
}

/// Why the runner itself stopped an attempt that was still working.
public enum AttemptHalt: Sendable, Equatable {
    /// The task's metered cost reached its cap.
    case budget(spentUSD: Double, capUSD: Double)
    /// No agent event for `runner.idle_timeout` seconds.
    case idle(seconds: Double)
    /// More assistant turns than the executor's `max_turns`.
    case maxTurns(Int)
}

/// Why an attempt's process ended.
public enum AttemptEnd: Sendable, Equatable {
    case exited(Int32)
    case signaled(Int32)
    case timedOut
    case stalled
    /// Stopped from outside (operator cancel, lost lease, shutdown) with the reason.
    case stopped(String)
    /// Stopped by the runner's own limits (budget, idle, turns): an outcome to record.
    case halted(AttemptHalt)
    /// The process could not be started.
    case spawnFailed(String)
}

/// What came out of one attempt's process.
public struct AttemptReport: Sendable {
    public var end: AttemptEnd
    public var tail: String
    public var claudeResultLine: String?
    public var outputBytes: Int
    /// Background processes were still holding the output open after the agent exited and
    /// were killed.
    public var killedLeftovers: Bool
}

/// A handle to stop a running attempt from outside; the teardown is the usual group teardown.
public final class AttemptStopper: Sendable {
    private let reason = Mutex<String?>(nil)
    private let haltReason = Mutex<AttemptHalt?>(nil)
    private let event = OneShotEvent()

    public init() {}

    /// Stops the attempt for one of the runner's limits; the attempt ends `.halted(why)`.
    public func halt(_ why: AttemptHalt) {
        let first = haltReason.withLock { h -> Bool in
            guard h == nil else { return false }
            h = why
            return true
        }
        if first { stop("\(why)") }
    }

    /// The limit that stopped it, if one did (and nothing stopped it before).
    public var halted: AttemptHalt? { haltReason.withLock { $0 } }

    public func stop(_ why: String) {
        let first = reason.withLock { r -> Bool in
            if r == nil {
                r = why
                return true
            }
            return false
        }
        if first { event.set() }
    }

    public var stopReason: String? { reason.withLock { $0 } }
    func waitForStop() async { await event.wait() }
}

/// Runs one agent attempt as a supervised process: its own session and process group, a gate
/// that holds it until its pid is recorded, merged output streamed into the task log, and the
/// group torn down on timeout, stall, stop, or when leftovers outlive the agent.
public enum AgentProcess {
    /// The outer shell waits for one line on stdin (sent once the pid is stored), starts the
    /// watcher, then runs the agent command with stdin from /dev/null. `$1` is the grace in
    /// tenths of a second.
    static let gateScript = #"""
        IFS= read -r _ || exit 125
        exec 3<&0
        env -u NIGHTSHIFT_TASK_ID -u NIGHTSHIFT_COMMAND setsid /bin/sh -c '\#(watcherScript)' nightshift-watch "$$" "$1" <&3 >/dev/null 2>&1 &
        exec /bin/sh -c "$NIGHTSHIFT_COMMAND" </dev/null 3<&-
        """#

    /// The agent's tie to its daemon. It runs in a session of its own (so it is never one of the
    /// agent group's members, and a group teardown does not reach it) and holds the read end of
    /// the gate pipe, whose only write end is the daemon's. The daemon closes it when the
    /// attempt is over; when the daemon dies (even by SIGKILL) the kernel closes it: either way
    /// the watcher reads EOF and tears the agent's group down (`$1`), SIGTERM and then SIGKILL
    /// after `$2` tenths of a second. After a normal end the group is already empty and the
    /// watcher just exits. So no agent outlives its daemon by more than the grace, and another
    /// node can never rerun a task while an orphan still works on it.
    static let watcherScript = #"""
        while IFS= read -r _; do :; done
        kill -TERM -"$1" 2>/dev/null || exit 0
        n=0
        while kill -0 -"$1" 2>/dev/null; do
          if [ "$n" -ge "$2" ]; then kill -KILL -"$1" 2>/dev/null; exit 0; fi
          sleep 0.1; n=$((n+1))
        done
        """#

    /// Runs the attempt. `onSpawn` gets the pid (= process group id) and returns false to abort
    /// before the agent does anything.
    public static func run(
        _ launch: AgentLaunch, redactor: Redactor, stopper: AttemptStopper,
        header: String, onSpawn: @escaping @Sendable (Int32) async -> Bool
    ) async -> AttemptReport {
        let sink: TaskOutputSink
        do {
            sink = try TaskOutputSink(logPath: launch.logPath, redactor: redactor, tailLimit: launch.tailBytes)
        } catch {
            return AttemptReport(
                end: .spawnFailed("\(error)"), tail: "", claudeResultLine: nil, outputBytes: 0, killedLeftovers: false)
        }
        if let tap = launch.logTap {
            sink.collector = TaskLineCollector(tap: tap, taskID: launch.taskID, runID: launch.runID)
        }
        sink.onLine = launch.onLine
        sink.note(header)
        var outFDs: [Int32] = [0, 0]
        var gateFDs: [Int32] = [0, 0]
        guard makePipe(&outFDs) else {
            return AttemptReport(
                end: .spawnFailed("pipe: \(String(cString: strerror(errno)))"), tail: sink.finish(), claudeResultLine: nil,
                outputBytes: 0, killedLeftovers: false)
        }
        guard makePipe(&gateFDs) else {
            close(outFDs[0])
            close(outFDs[1])
            return AttemptReport(
                end: .spawnFailed("pipe: \(String(cString: strerror(errno)))"), tail: sink.finish(), claudeResultLine: nil,
                outputBytes: 0, killedLeftovers: false)
        }
        let pump = OutputPump(fd: outFDs[0])
        pump.start(sink: sink)
        let gateWrite = gateFDs[1]
        let gate = GateEnd(fd: gateWrite)
        defer { gate.close() }
        let graceTenths = max(1, Int((launch.killGrace * 10).rounded(.up)))

        var env = launch.environment
        env["NIGHTSHIFT_COMMAND"] = launch.command
        var keyed: [Environment.Key: String] = [:]
        for (k, v) in env { keyed[Environment.Key(stringLiteral: k)] = v }

        var options = PlatformOptions()
        options.createSession = true
        // Backstop only: if this task is cancelled the library still tears the group down.
        options.teardownSequence = [
            .gracefulShutDown(toProcessGroup: true, allowedDurationToNextStep: .milliseconds(Int64(launch.killGrace * 1000)))
        ]

        let environment = keyed
        let platformOptions = options
        let gateRead = gateFDs[0]
        let outWrite = outFDs[1]
        let pgid = Locked<Int32>(0)
        let ended = Locked<AttemptEnd?>(nil)
        let grace = launch.killGrace

        let status: TerminationStatus? = await withTaskGroup(of: TerminationStatus?.self) { group in
            group.addTask {
                do {
                    let result = try await Subprocess.run(
                        .path("/bin/sh"), arguments: ["-c", gateScript, "nightshift-gate", "\(graceTenths)"],
                        environment: .custom(environment),
                        workingDirectory: launch.workingDirectory.map { FilePath($0) }, platformOptions: platformOptions,
                        input: .fileDescriptor(FileDescriptor(rawValue: gateRead), closeAfterSpawningProcess: true),
                        output: .fileDescriptor(FileDescriptor(rawValue: outWrite), closeAfterSpawningProcess: true),
                        error: .combinedWithOutput
                    ) { execution in
                        let pid = execution.processIdentifier.value
                        pgid.withLock { $0 = pid }
                        if await onSpawn(pid), stopper.stopReason == nil {
                            var newline: UInt8 = 0x0A
                            _ = write(gateWrite, &newline, 1)
                            // The gate stays open for the watcher until the attempt is over.
                        } else {
                            ended.withLock { $0 = $0 ?? .stopped(stopper.stopReason ?? "claim lost before start") }
                            gate.close()
                        }
                    }
                    return result.terminationStatus
                } catch {
                    gate.close()
                    ended.withLock { $0 = $0 ?? .spawnFailed("\(error)") }
                    return nil
                }
            }
            group.addTask {
                // Supervision: wall-clock limit, output stall, and stop requests.
                let started = ContinuousClock.now
                let timeoutAt = started + .milliseconds(Int64(launch.timeout * 1000))
                while !Task.isCancelled {
                    let now = ContinuousClock.now
                    let silentNanos = DispatchTime.now().uptimeNanoseconds &- pump.lastActivity.load(ordering: .relaxed)
                    var reason: AttemptEnd?
                    if let why = stopper.stopReason {
                        reason = stopper.halted.map { .halted($0) } ?? .stopped(why)
                    } else if now >= timeoutAt {
                        reason = .timedOut
                    } else if Double(silentNanos) / 1e9 >= launch.stallTimeout {
                        reason = .stalled
                    }
                    if let reason {
                        ended.withLock { $0 = $0 ?? reason }
                        let group = pgid.withLock { $0 }
                        if group > 0 { await ProcessGroup.terminate(group, grace: grace) }
                        return nil
                    }
                    let untilTimeout = timeoutAt - now
                    let untilStall = Duration.milliseconds(Int64(max(0, launch.stallTimeout * 1e9 - Double(silentNanos)) / 1e6))
                    let nap = min(untilTimeout, untilStall, .milliseconds(250))
                    await withTaskGroup(of: Void.self) { napGroup in
                        napGroup.addTask { try? await Task.sleep(for: max(nap, .milliseconds(5))) }
                        napGroup.addTask { await stopper.waitForStop() }
                        await napGroup.next()
                        napGroup.cancelAll()
                    }
                }
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            var status = first
            for await other in group where status == nil { status = other }
            return status
        }

        // The agent has exited. Anything still holding its output open is a leftover: give it
        // a moment to finish writing, then tear the group down so nothing outlives the attempt.
        var killedLeftovers = false
        let group = pgid.withLock { $0 }
        // The reader may not have seen the end of the output yet (a loaded machine): then the
        // output drains in a moment, and a member that does not hold it must still be found.
        let drained = pump.isDone ? true : await waitUntil(seconds: min(1, grace)) { pump.isDone }
        if group > 0 && (!drained || !ProcessGroup.liveMembers(group).isEmpty) {
            killedLeftovers = true
            await ProcessGroup.terminate(group, grace: grace)
        }
        await pump.finished()
        // The attempt is over: the watcher reads EOF, finds the group empty, and exits.
        gate.close()

        var end = ended.withLock { $0 }
        if end == nil, let status {
            switch status {
            case .exited(let code): end = .exited(code)
            case .signaled(let sig): end = .signaled(sig)
            }
        }
        let tail = sink.finish()
        return AttemptReport(
            end: end ?? .spawnFailed("no exit status"), tail: tail, claudeResultLine: sink.claudeResultLine,
            outputBytes: sink.bytesIn, killedLeftovers: killedLeftovers)
    }

    /// A close-on-exec pipe. (Children spawned by Subprocess close every inherited descriptor
    /// above 2, so the short window before FD_CLOEXEC is set leaks nothing to them.)
    static func makePipe(_ fds: inout [Int32]) -> Bool {
        guard pipe(&fds) == 0 else { return false }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        return true
    }

    /// Polls `condition` until it holds or `seconds` pass.
    static func waitUntil(seconds: Double, _ condition: () -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + .milliseconds(Int64(seconds * 1000))
        while ContinuousClock.now < deadline {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return condition()
    }
}

/// The daemon's end of the gate pipe, closed exactly once (the watcher's EOF).
final class GateEnd: Sendable {
    private let fd: Mutex<Int32>

    init(fd: Int32) { self.fd = Mutex(fd) }

    func close() {
        let open = fd.withLock { fd -> Int32 in
            defer { fd = -1 }
            return fd
        }
        if open >= 0 { _ = Glibc.close(open) }
    }
}
