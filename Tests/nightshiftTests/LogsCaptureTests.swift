import Foundation
import NightshiftTesting
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `nightshift logs capture` with real subprocesses (seed 000): rotation at the byte limit with
/// K backups, 0600 files, a planted secret redacted, a command that fails twice retried
/// without a line lost or repeated, teardown of the group on SIGTERM, and bad flags.
@Suite("logs capture")
struct LogsCaptureTests {
    static func lines(_ path: String) -> [String] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
        return text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
    }

    static func mode(_ path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path)[.posixPermissions]) as? Int) ?? -1
    }

    @Test("rotation at the byte limit keeps K backups; files are 0600; lines are whole and in order")
    func rotation() throws {
        let dir = try TemporaryDirectory(prefix: "nightshift-capture")
        let out = dir.path("logs")
        // 40 lines of 19 bytes (18 + newline): 760 bytes; 100-byte files hold 5 lines each.
        let r = try NightshiftBinary.run([
            "logs", "capture", "--dir", out, "--rotate-bytes", "100", "--backups", "2", "--",
            "/bin/sh", "-c", #"i=1; while [ $i -le 40 ]; do printf 'line %03d padding..\n' $i; i=$((i+1)); done"#,
        ])
        #expect(r.status == 0, "\(r.err)")
        #expect(r.out.contains("captured lines=40 bytes=760 attempts=1 exit=0"), "\(r.out)")
        let base = out + "/capture.log"
        let files = [base + ".2", base + ".1", base]
        for f in files {
            #expect(Self.mode(f) == 0o600, "\(f) is \(String(Self.mode(f), radix: 8))")
            let size = (try FileManager.default.attributesOfItem(atPath: f)[.size] as? Int) ?? 0
            #expect(size <= 100, "\(f) has \(size) bytes")
        }
        #expect(!FileManager.default.fileExists(atPath: base + ".3"), "only 2 backups are kept")
        #expect(Self.mode(out + "/capture.cursor") == 0o600)
        // The newest 15 lines, oldest file first, whole and in order.
        let kept = files.flatMap(Self.lines)
        #expect(kept == (26...40).map { String(format: "line %03d padding..", $0) }, "\(kept)")
    }

    @Test("a planted secret is redacted, in the output and in the environment's secret values")
    func redaction() throws {
        let dir = try TemporaryDirectory(prefix: "nightshift-capture")
        let r = try NightshiftBinary.run(
            [
                "logs", "capture", "--dir", dir.path("logs"), "--",
                "/bin/sh", "-c",
                #"echo "calling with Authorization: Bearer abcdefghijklmnopqrstuvwx123"; echo "db token is $MY_SERVICE_TOKEN"; echo done"#,
            ], environment: ["MY_SERVICE_TOKEN": "plantedvalue-0123456789"])
        #expect(r.status == 0, "\(r.err)")
        let text = try String(contentsOfFile: dir.path("logs/capture.log"), encoding: .utf8)
        #expect(!text.contains("abcdefghijklmnopqrstuvwx123"), "\(text)")
        #expect(!text.contains("plantedvalue-0123456789"), "\(text)")
        #expect(text.contains("[REDACTED]"))
        #expect(text.hasSuffix("done\n"))
    }

    @Test("a command that fails twice is retried; each line is in the files exactly once, in order")
    func retry() throws {
        let dir = try TemporaryDirectory(prefix: "nightshift-capture")
        // Prints lines from the cursor on; the first two runs die after three more lines; the
        // last says so on stderr (captured too).
        let script = try dir.script(
            "flaky.sh",
            """
            i=$((NIGHTSHIFT_CAPTURE_CURSOR + 1))
            n=0
            while [ $i -le 10 ]; do
              echo "event $i"
              i=$((i + 1)); n=$((n + 1))
              if [ "$NIGHTSHIFT_CAPTURE_ATTEMPT" -lt 3 ] && [ $n -ge 3 ]; then exit 3; fi
            done
            echo "finished on attempt $NIGHTSHIFT_CAPTURE_ATTEMPT" >&2
            """)
        let r = try NightshiftBinary.run([
            "logs", "capture", "--dir", dir.path("logs"), "--backoff", "0.01", "--max-attempts", "4", "--", script,
        ])
        #expect(r.status == 0, "\(r.err)")
        #expect(r.out.contains("attempts=3 exit=0"), "\(r.out)")
        #expect(r.err.contains("exited 3 (attempt 1/4)") && r.err.contains("(attempt 2/4)"), "\(r.err)")
        let expected = (1...10).map { "event \($0)" } + ["finished on attempt 3"]
        #expect(Self.lines(dir.path("logs/capture.log")) == expected)

        // --replay: a command that prints everything again each run; the repeats are skipped.
        let replay = try dir.script(
            "replay.sh",
            """
            for i in 1 2 3 4 5 6; do
              echo "row $i"
              if [ $i -eq $((NIGHTSHIFT_CAPTURE_ATTEMPT * 2)) ] && [ "$NIGHTSHIFT_CAPTURE_ATTEMPT" -lt 3 ]; then exit 1; fi
            done
            """)
        let r2 = try NightshiftBinary.run([
            "logs", "capture", "--dir", dir.path("replay"), "--replay", "--backoff", "0", "--", replay,
        ])
        #expect(r2.status == 0, "\(r2.err)")
        #expect(Self.lines(dir.path("replay/capture.log")) == (1...6).map { "row \($0)" })
    }

    @Test("attempts run out: the exit code is the command's last one; a missing command is 127")
    func exhausted() throws {
        let dir = try TemporaryDirectory(prefix: "nightshift-capture")
        let r = try NightshiftBinary.run([
            "logs", "capture", "--dir", dir.path("logs"), "--backoff", "0", "--max-attempts", "2", "--",
            "/bin/sh", "-c", "echo try $NIGHTSHIFT_CAPTURE_ATTEMPT; exit 7",
        ])
        #expect(r.status == 7, "\(r.err)")
        #expect(Self.lines(dir.path("logs/capture.log")) == ["try 1", "try 2"])
        let missing = try NightshiftBinary.run([
            "logs", "capture", "--dir", dir.path("m"), "--", dir.path("no-such-program"),
        ])
        #expect(missing.status == 127, "\(missing.err)")
        #expect(missing.err.contains("cannot run"), "\(missing.err)")
    }

    @Test("bad flags exit 2 with one line")
    func badFlags() throws {
        for args in [
            ["logs", "capture", "--rotate-bytes", "0", "--", "true"],
            ["logs", "capture", "--rotate-bytes", "lots", "--", "true"],
            ["logs", "capture", "--max-attempts", "0", "--", "true"],
            ["logs", "capture", "--backoff", "-1", "--", "true"],
            ["logs", "capture", "--name", "a/b", "--", "true"],
            ["logs", "capture"],
        ] {
            let r = try NightshiftBinary.run(args)
            #expect(r.status == 2, "\(args): \(r.err)")
            #expect(r.err.split(separator: "\n").count == 1, "\(args): \(r.err)")
        }
    }

    @Test("SIGTERM to capture tears the command's whole group down and exits 143")
    func teardown() async throws {
        let dir = try TemporaryDirectory(prefix: "nightshift-capture")
        let pidFile = dir.path("pgid")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: NightshiftBinary.path)
        p.arguments = [
            "logs", "capture", "--dir", dir.path("logs"), "--",
            "/bin/sh", "-c", "echo $$ > \(pidFile); sleep 300 & echo started; sleep 300",
        ]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        let started = await waitFor(timeout: 20) {
            Self.lines(dir.path("logs/capture.log")).contains("started")
        }
        #expect(started)
        let pgid = try #require(
            Int32((try String(contentsOfFile: pidFile, encoding: .utf8)).trimmingCharacters(in: .whitespacesAndNewlines)))
        kill(p.processIdentifier, SIGTERM)
        #expect(await waitFor(timeout: 20) { !p.isRunning })
        #expect(p.terminationStatus == 143)
        #expect(await waitFor(timeout: 10) { Self.liveMembers(pgid).isEmpty }, "the group outlived capture")
    }

    static func liveMembers(_ pgid: Int32) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { e -> Int32? in
            guard let pid = Int32(e), let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                let close = text.lastIndex(of: ")")
            else { return nil }
            let f = text[text.index(after: close)...].split(separator: " ")
            guard f.count > 2, f[0] != "Z", Int32(f[2]) == pgid else { return nil }
            return pid
        }
    }
}
