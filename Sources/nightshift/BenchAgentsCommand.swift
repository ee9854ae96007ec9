import ArgumentParser
import Foundation
import NightshiftCore
import NightshiftRuntime

#if canImport(Glibc)
    import Glibc
#endif

/// `nightshift bench agents`: issue 12's figures. Parser throughput on a stream-json
/// transcript (events/s, MiB/s, RSS), alone and through a real agent process's output path;
/// the time from the metered cost crossing a cap to the agent's process group being gone
/// (p50/p99); and the worst overshoot past the cap, in dollars, on a fake agent.
struct AgentsBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agents", abstract: "Structured-agent figures: parser throughput, cap-to-teardown time, overshoot.")
    @Option(help: "Size of the transcript, MiB.") var mib = 100
    @Option(help: "Budget stops timed.") var tries = 20
    @Option(help: "Cost of one model call of the fake agent, USD.") var callUSD = 0.03
    @Option(help: "Seconds between the fake agent's calls.") var interval = 0.005
    @Option(help: "Directory for temporary files.") var dir = FileManager.default.temporaryDirectory.path

    static func maxRSSMiB() -> Double {
        var u = rusage()
        getrusage(RUSAGE_SELF.rawValue, &u)
        return Double(u.ru_maxrss) / 1024
    }

    /// One assistant event of sonnet whose input tokens cost `usd`.
    static func call(_ n: Int, usd: Double) -> String {
        let tokens = Int((usd / 3 * 1_000_000).rounded())
        return
            #"{"type":"assistant","message":{"id":"msg_\#(n)","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[{"type":"tool_use","id":"toolu_\#(n)","name":"Bash","input":{"command":"swift test --filter Retry"}}],"stop_reason":"tool_use","usage":{"input_tokens":\#(tokens),"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":0}},"parent_tool_use_id":null,"session_id":"s"}"#
    }

    func run() async throws {
        try await runReporting {
            guard mib > 0, tries > 0, callUSD > 0, interval >= 0 else {
                throw CLIFailure(message: "--mib, --tries and --call-usd must be positive", code: 2)
            }
            let root = (dir as NSString).appendingPathComponent("nightshift-bench-agents-\(getpid())")
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: root) }
            try await parser(root)
            try await budgetStops(root)
        }
    }

    /// The transcript through a real process's output path (`cat` → pipe → reader thread →
    /// redaction → task log → parser), then the parser alone over the file read in 1 MiB
    /// chunks. The transcript is written in pieces and never held whole, so the RSS is the
    /// parser's.
    func parser(_ root: String) async throws {
        let path = (root as NSString).appendingPathComponent("transcript.jsonl")
        FileManager.default.createFile(atPath: path, contents: nil)
        let out = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        let result =
            #"{"type":"user","message":{"role":"user","content":[{"tool_use_id":"toolu_01A","type":"tool_result","content":"Sources/Retry.swift:12: func delay(afterAttempt:)"}]},"parent_tool_use_id":null,"session_id":"s"}"#
        var written = 0
        var lines = 0
        let target = mib * 1024 * 1024
        while written < target {
            var chunk = ""
            for _ in 0..<1000 {
                chunk += (lines % 2 == 0 ? Self.call(lines, usd: 0.001) : result) + "\n"
                lines += 1
            }
            try out.write(contentsOf: Data(chunk.utf8))
            written += chunk.utf8.count
        }
        try out.close()
        let size = Double(written) / 1_048_576
        let before = Self.maxRSSMiB()
        let clock = ContinuousClock()

        let stopper = AttemptStopper()
        let session = AgentSession(
            format: .claudeStreamJSON, task: AgentTask(taskType: .impl, direction: "bench", now: Date()), model: nil,
            prices: .builtIn, capUSD: nil, maxTurns: 0, stopper: stopper, now: { Date() })
        let launch = AgentLaunch(
            taskID: "task_bench", command: "cat \(CommandTemplate.shellQuote(path))",
            environment: ProcessInfo.processInfo.environment, workingDirectory: root,
            logPath: (root as NSString).appendingPathComponent("task.log"), timeout: 3600, stallTimeout: 3600, killGrace: 1,
            tailBytes: 8192, onLine: { bytes, complete in session.line(bytes, complete: complete) })
        let piped = try await clock.measure {
            let report = await AgentProcess.run(launch, redactor: Redactor(), stopper: stopper, header: "bench") { _ in true }
            guard case .exited(0) = report.end else { throw CLIFailure(message: "cat ended \(report.end)", code: 1) }
        }
        print(
            String(
                format:
                    "through the agent output path (cat → pipe → redaction → task log → parser): %.0f MiB in %.2f s, %.1f MiB/s, %d turns metered; max RSS %.0f MiB (%.0f before)",
                size, piped.inSeconds, size / piped.inSeconds, session.meter.turns, Self.maxRSSMiB(), before))

        let parse = AgentStreamParser(format: .claudeStreamJSON)
        var meter = AgentMeter()
        var events = 0
        let now = Date()
        let input = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
        defer { try? input.close() }
        var carry: [UInt8] = []
        let elapsed = try clock.measure {
            while let data = try input.read(upToCount: 1 << 20), !data.isEmpty {
                carry.append(contentsOf: data)
                var start = 0
                carry.withUnsafeBufferPointer { buf in
                    while let nl = buf[start...].firstIndex(of: 0x0A) {
                        for e in parse.parse(UnsafeBufferPointer(rebasing: buf[start..<nl])) {
                            meter.apply(e, at: now)
                            events += 1
                        }
                        start = nl + 1
                    }
                }
                carry.removeFirst(start)
            }
        }
        print(
            String(
                format: "parser alone: %d lines, %d events in %.2f s: %.0f events/s, %.1f MiB/s; max RSS %.0f MiB",
                lines, events, elapsed.inSeconds, Double(events) / elapsed.inSeconds, size / elapsed.inSeconds,
                Self.maxRSSMiB()))
    }

    /// A fake agent printing calls of `callUSD` every `interval` s under a cap of 10 calls:
    /// how long from the crossing to its group gone, and how far past the cap it got.
    func budgetStops(_ root: String) async throws {
        let script = (root as NSString).appendingPathComponent("spend.sh")
        // Each call its own message id (one id is one message, counted once).
        let parts = Self.call(7_777_777, usd: callUSD).components(separatedBy: "7777777")
        try Data(
            """
            #!/bin/sh
            n=0
            while true; do
              n=$((n+1))
              printf '%s%d%s%d%s\\n' '\(parts[0])' "$n" '\(parts[1])' "$n" '\(parts[2])'
              sleep \(interval)
            done

            """.utf8
        ).write(to: URL(fileURLWithPath: script))
        let cap = callUSD * 9.5
        var teardown: [Double] = []
        var overshoot: [Double] = []
        for i in 0..<tries {
            let stopper = AttemptStopper()
            let crossed = Locked<ContinuousClock.Instant?>(nil)
            let session = AgentSession(
                format: .claudeStreamJSON, task: AgentTask(taskType: .impl, direction: "bench", now: Date()), model: nil,
                prices: .builtIn, capUSD: cap, maxTurns: 0, stopper: stopper, now: { Date() })
            let pgid = Locked<Int32>(0)
            let launch = AgentLaunch(
                taskID: "task_bench\(i)", command: "/bin/sh \(CommandTemplate.shellQuote(script))",
                environment: ProcessInfo.processInfo.environment, workingDirectory: root,
                logPath: (root as NSString).appendingPathComponent("spend-\(i).log"), timeout: 120, stallTimeout: 120,
                killGrace: 2, tailBytes: 4096,
                onLine: { bytes, complete in
                    session.line(bytes, complete: complete)
                    if stopper.halted != nil { crossed.withLock { $0 = $0 ?? ContinuousClock.now } }
                })
            // Polls the group from the moment of the crossing until no member is left.
            let watcher = Task { () -> ContinuousClock.Instant? in
                while !Task.isCancelled {
                    if crossed.value != nil, pgid.value > 0, ProcessGroup.liveMembers(pgid.value).isEmpty {
                        return ContinuousClock.now
                    }
                    try? await Task.sleep(for: .microseconds(500))
                }
                return nil
            }
            let report = await AgentProcess.run(launch, redactor: Redactor(), stopper: stopper, header: "bench") { pid in
                pgid.withLock { $0 = pid }
                return true
            }
            let gone = await watcher.value
            guard case .halted(.budget) = report.end, let at = crossed.value, let gone else {
                throw CLIFailure(message: "try \(i): the fake agent was not stopped at its cap (\(report.end))", code: 1)
            }
            teardown.append((gone - at).inSeconds * 1000)
            overshoot.append(session.meter.costUSD - cap)
        }
        teardown.sort()
        func pct(_ p: Double) -> Double { teardown[min(teardown.count - 1, Int((Double(teardown.count) * p).rounded(.up)) - 1)] }
        print(
            String(
                format:
                    "budget stop: cap $%.4f, calls of $%.4f every %.0f ms; crossing → process group gone over %d tries: p50 %.1f ms, p99 %.1f ms, max %.1f ms",
                cap, callUSD, interval * 1000, tries, pct(0.5), pct(0.99), teardown.last ?? 0))
        print(
            String(
                format: "overshoot past the cap: worst $%.4f (%.1f calls), mean $%.4f", overshoot.max() ?? 0,
                (overshoot.max() ?? 0) / callUSD, overshoot.reduce(0, +) / Double(overshoot.count)))
    }
}
