import ArgumentParser
import Foundation
import NightshiftBench
import NightshiftRuntime

/// `nightshift bench redactor`: the redactor alone, on lines like an agent's output (build
/// steps, stream-json events, shell traces; one line in forty holds a secret), so a change to
/// its rules shows in MB/s without the pipe and the disk of `bench runner`'s capture figure.
struct RedactorBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "redactor", abstract: "Redaction throughput (MB/s of agent-like output, one core).")

    @Option(help: "MiB of output redacted per run.") var mib = 256
    @Option(help: "Runs of each case; the best is printed.") var runs = 5

    /// Lines an agent prints, most without a secret.
    static let sample: [String] = [
        "2026-11-21 build step 0042 compiled module Foo in 0.8s (cache hit) ............",
        #"{"type":"assistant","message":{"id":"msg_01","content":[{"type":"text","text":"Reading Sources/Foo/Bar.swift to see how the store opens"}]},"session_id":"5f1c"}"#,
        "+ swift build --build-tests --configuration debug 2>&1 | tee build.log",
        "Test Suite 'StoreTests' passed at 2026-11-21 03:14:15.926: Executed 42 tests, with 0 failures (0 unexpected) in 1.234 seconds",
        "remote: Counting objects: 100% (12/12), done. Compressing objects: 100% (7/7), done.",
        "    let session = URLSession(configuration: .ephemeral); request.setValue(\"application/json\", forHTTPHeaderField: \"Accept\")",
        "warning: var 'status' was never mutated; consider changing to 'let' constant [Sources/Runner/Attempt.swift:88:13]",
        #"{"type":"result","subtype":"success","is_error":false,"duration_ms":81234,"total_cost_usd":0.4211,"usage":{"input_tokens":18234,"output_tokens":2311}}"#,
        "Fetching https://github.com/apple/swift-log from cache; resolved at 1.16.2 (0.12s)",
        "export PATH=/usr/local/bin:/usr/bin:/bin HOME=/home/agent LANG=C.UTF-8 TERM=dumb",
    ]
    /// One of these goes in after every 39 plain lines.
    static let secrets: [String] = [
        "export OPENAI_API_KEY=sk-proj-abcdefghijklmnopqrstuvwxyz0123456789",
        "curl -H 'Authorization: Bearer ghp_0123456789abcdefghijklmnopqrstuvwxyz' https://api.github.com/user",
        #"{"api_key": "k-1234567890abcdef", "region": "eu-west-1"}"#,
        "DATABASE_URL=postgres://app:s3cr3t-pass@db.internal:5432/app",
    ]

    func run() async throws {
        try await runReporting {
            guard mib > 0, runs > 0 else { throw CLIFailure(message: "--mib and --runs must be positive", code: 2) }
            var lines: [[UInt8]] = []
            var bytes = 0
            var i = 0
            while bytes < mib << 20 {
                let line = i % 40 == 39 ? Self.secrets[(i / 40) % Self.secrets.count] : Self.sample[i % Self.sample.count]
                lines.append(Array(line.utf8))
                bytes += line.utf8.count + 1
                i += 1
            }
            let literals = ["configured-token-0123", "hunter2-telegram-secret", "executor-env-value-xyz"]
            for (label, redactor) in [
                ("rules only", Redactor()), ("rules + 3 configured values", Redactor(secretValues: literals)),
            ] {
                var best = Double.infinity
                var masked = 0
                for _ in 0..<runs {
                    var out: [UInt8] = []
                    out.reserveCapacity(64 * 1024)
                    masked = 0
                    let t0 = Measure.processCPUSeconds()
                    for line in lines {
                        line.withUnsafeBufferPointer { redactor.redact($0, into: &out) }
                        if out.count != line.count { masked += 1 }
                        out.removeAll(keepingCapacity: true)
                    }
                    best = min(best, Measure.processCPUSeconds() - t0)
                }
                print(
                    label.padding(toLength: 30, withPad: " ", startingAt: 0)
                        + String(
                            format: "%8.1f MB/s  %6.1f ns/line  (%d MiB, %d lines, %d changed; best of %d)",
                            Double(bytes) / best / 1e6, best / Double(lines.count) * 1e9, bytes >> 20, lines.count, masked, runs)
                )
            }
        }
    }
}
