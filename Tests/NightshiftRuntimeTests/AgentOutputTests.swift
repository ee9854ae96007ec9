import Foundation
import NightshiftCore
import NightshiftTesting
import Testing

@testable import NightshiftRuntime

/// What an attempt's output becomes: the task log, the tail, the Claude Code result line.
@Suite("AgentProcess: output capture", .timeLimit(.minutes(2)))
struct AgentOutputTests {
    @Test("the tail keeps only the last tailBytes of output")
    func tail() async throws {
        let h = try RuntimeHarness()
        let agent = try h.script("agent.sh", #"i=1; while [ $i -le 500 ]; do echo "line $i"; i=$((i+1)); done"#)
        let run = await h.runAgent(h.launch("/bin/sh \(agent)", tailBytes: 64))
        #expect(run.report.end == .exited(0))
        #expect(run.report.tail.utf8.count == 64)
        #expect(run.report.tail.hasSuffix("line 499\nline 500\n"))
        #expect(run.log.hasSuffix(run.report.tail))
        #expect(run.outputLines.count == 500)
        #expect(run.outputLines.first == "line 1")
    }

    @Test("a Claude Code result line is captured as claudeResultLine, the last one wins")
    func claudeResultLine() async throws {
        let h = try RuntimeHarness()
        let first = #"{"type":"result","subtype":"error_max_turns","is_error":true}"#
        try h.tmp.write("progress\n\(first)\n\(claudeFixtureLine)\nbye\n", to: "claude.out")
        let run = await h.runAgent(h.launch("cat '\(h.path("claude.out"))'"))
        #expect(run.report.end == .exited(0))
        #expect(run.report.claudeResultLine == claudeFixtureLine)
        let line = try #require(run.report.claudeResultLine)
        let parsed = try #require(ClaudeCodeResult.parse(line))
        #expect(parsed.cost == 0.1873)
        #expect(parsed.tokensIn == 18234 + 5120 + 40960)
        #expect(parsed.usage?.outputTokens == 2311)
        #expect(parsed.isError == false)
    }

    @Test("no result line: claudeResultLine is nil")
    func noClaudeLine() async throws {
        let h = try RuntimeHarness()
        let run = await h.runAgent(h.launch(#"echo '{"type":"assistant"}'; echo ' {"type":"result"}'"#))
        #expect(run.report.claudeResultLine == nil)
    }

    @Test("secrets are redacted in the task log and in the tail")
    func redaction() async throws {
        let h = try RuntimeHarness()
        let line =
            #"key sk-abcdefghijklmnopqrstu h Authorization: Bearer abcdefgh12345678 pw password=hunter2 url ?token=xyz123&x=1 json "api_key": "k-123456" env literal-s3cr3t-value"#
        try h.tmp.write(line + "\n", to: "secrets.out")
        let redactor = Redactor(secretValues: ["literal-s3cr3t-value"])
        let run = await h.runAgent(
            h.launch("cat '\(h.path("secrets.out"))'; cat '\(h.path("secrets.out"))' >&2"), redactor: redactor)
        let expected =
            #"key sk-[REDACTED] h Authorization: Bearer [REDACTED] pw password=[REDACTED] url ?token=[REDACTED]&x=1 json "api_key": "[REDACTED]" env [REDACTED]"#
        #expect(run.outputLines == [expected, expected])
        #expect(run.report.tail == expected + "\n" + expected + "\n")
        for secret in ["abcdefghijklmnopqrstu", "abcdefgh12345678", "hunter2", "xyz123", "k-123456", "s3cr3t"] {
            #expect(!run.log.contains(secret), "log leaks \(secret)")
            #expect(!run.report.tail.contains(secret), "tail leaks \(secret)")
        }
    }

    @Test("a private key block the agent prints over several lines is masked whole in the log and the tail")
    func privateKeyBlock() async throws {
        let h = try RuntimeHarness()
        // One echo per line: the sink carries the open block from line to line.
        let script = """
            echo 'writing the deploy key:'; echo '-----BEGIN RSA PRIVATE KEY-----'
            echo 'MIIEowIBAAKCAQEA7VxsecretlineONE'; echo 'ZZZZsecretlineTWO'
            echo '-----END RSA PRIVATE KEY-----'; echo 'done'
            """
        let run = await h.runAgent(h.launch(script))
        #expect(
            run.outputLines == [
                "writing the deploy key:", "-----BEGIN RSA PRIVATE KEY-----[REDACTED]", "[REDACTED]", "[REDACTED]",
                "-----END RSA PRIVATE KEY-----", "done",
            ])
        #expect(!run.log.contains("secretline") && !run.report.tail.contains("secretline"))
    }

    @Test("a 200 KB line without newline is written in pieces and no byte is lost")
    func hugeLine() async throws {
        let h = try RuntimeHarness()
        let size = 200 * 1024
        let run = await h.runAgent(h.launch("head -c \(size) /dev/zero | tr '\\000' a", tailBytes: 100))
        #expect(run.report.end == .exited(0))
        #expect(run.report.outputBytes == size)
        let pieces = run.outputLines
        #expect(pieces.count >= 2, "a line past the 64 KiB limit is cut")
        #expect(pieces.allSatisfy { !$0.isEmpty && $0.utf8.allSatisfy { $0 == UInt8(ascii: "a") } })
        #expect(pieces.reduce(0) { $0 + $1.utf8.count } == size)
        #expect(pieces.allSatisfy { $0.utf8.count <= 2 * TaskOutputSink.maxLine })
        #expect(run.report.tail == String(repeating: "a", count: 99) + "\n")
    }

    @Test("output reaches the task log while the agent still runs (tasks log -f)")
    func streamsWhileRunning() async throws {
        let h = try RuntimeHarness()
        let go = h.path("go")
        let agent = try h.script(
            "agent.sh",
            """
            echo "first line"
            i=0
            while [ ! -e '\(go)' ] && [ $i -lt 1500 ]; do sleep 0.02; i=$((i+1)); done
            echo "second line"
            """)
        let launch = h.launch("/bin/sh \(agent)")
        async let attempt = h.runAgent(launch)
        let streamed: Bool
        do {
            try await waitUntil("the first line in the task log", timeout: 10) { h.read(launch.logPath).contains("first line") }
            streamed = true
        } catch {
            streamed = false
        }
        _ = FileManager.default.createFile(atPath: go, contents: nil)
        let run = await attempt
        #expect(streamed, "the task log stays empty until the agent exits")
        #expect(run.report.end == .exited(0))
        #expect(run.outputLines == ["first line", "second line"])
    }

    @Test("the task log is appended to across attempts")
    func appendsAcrossAttempts() async throws {
        let h = try RuntimeHarness()
        _ = await h.runAgent(h.launch("echo one"))
        let second = await h.runAgent(h.launch("echo two"))
        #expect(second.log == "\(RuntimeHarness.header)\none\n\(RuntimeHarness.header)\ntwo\n")
        #expect(second.report.tail == "two\n")
    }
}
