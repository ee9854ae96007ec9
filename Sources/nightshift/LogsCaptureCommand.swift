import ArgumentParser
import Dispatch
import Foundation
import NightshiftRuntime

#if canImport(Glibc)
    import Glibc
#endif

/// `nightshift logs capture -- COMMAND...` (issue 13, point 7; seed 000): the command's output
/// in rotating, redacted, private files, and the command run again with backoff when it fails.
struct LogsCapture: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "capture",
        abstract: "Run a command and write its output to rotating, redacted, private (0600) files; retry it when it fails.",
        discussion: """
            The command runs in its own process group with stdin from /dev/null; its stdout and \
            stderr, line by line and redacted (bearer and basic credentials, sk- keys, secret-named \
            key=value pairs, URL passwords, private keys, and the values of --redact-env variables \
            and of environment variables named *TOKEN*, *SECRET*, *PASSWORD*, *API_KEY*), go to \
            DIR/NAME.log, rotated to NAME.log.1 … NAME.log.K before a line would take it past \
            --rotate-bytes. Files are 0600 and capture runs under umask 077.

            A line counts as written once it and its fsync succeeded; only then does the cursor \
            (DIR/NAME.cursor: lines, bytes, file, offset, attempt) advance. A failed write is cut \
            back off the file and tried again, so no line is lost or written twice. When the \
            command exits non-zero it is run again after --backoff seconds (doubling, at most \
            --backoff-max), up to --max-attempts runs in all; each run gets \
            NIGHTSHIFT_CAPTURE_CURSOR (lines written so far: resume after them) and \
            NIGHTSHIFT_CAPTURE_ATTEMPT. With --replay (a command that prints everything again on \
            each run) the lines a run repeats are skipped instead.

            SIGINT or SIGTERM stops the capture: the group gets SIGTERM, SIGKILL 5 s later, and \
            nothing is retried. Exit code: the command's last exit code (128 + N when signal N \
            ended it, 127 when it cannot be started); 128 + N when capture itself was stopped by \
            signal N; 1 when lines could not be written; 2 for bad usage.
            """)

    @Option(name: .long, help: "Directory of the files (created 0700).") var dir = "logs"
    @Option(name: .long, help: "File name: NAME.log, NAME.log.1, ... and NAME.cursor.") var name = "capture"
    @Option(name: .long, help: "Rotate before a line would take the file past this many bytes.") var rotateBytes = 10 << 20
    @Option(name: .long, help: "Rotated files kept (0: the file is started afresh).") var backups = 5
    @Option(name: .long, help: "Runs of the command in all, the first included (1-100).") var maxAttempts = 5
    @Option(name: .long, help: "Seconds before the first retry; doubled for each next one.") var backoff = 1.0
    @Option(name: .long, help: "Longest wait between two runs, seconds.") var backoffMax = 60.0
    @Flag(name: .long, help: "The command prints its whole output again on each run: skip the lines already written.")
    var replay = false
    @Option(name: .long, help: "An environment variable whose value is masked (repeatable).") var redactEnv: [String] = []
    @Argument(parsing: .postTerminator, help: "The command and its arguments, after --.") var command: [String] = []

    func validate() throws {
        guard !command.isEmpty else { throw ValidationError("a command to run is required after --") }
        guard rotateBytes >= 1 else { throw ValidationError("--rotate-bytes must be at least 1") }
        guard (0...1000).contains(backups) else { throw ValidationError("--backups must be 0 to 1000") }
        guard (1...100).contains(maxAttempts) else { throw ValidationError("--max-attempts must be 1 to 100") }
        guard backoff >= 0, backoff.isFinite else { throw ValidationError("--backoff must be a number of seconds ≥ 0") }
        guard backoffMax >= 0, backoffMax.isFinite else {
            throw ValidationError("--backoff-max must be a number of seconds ≥ 0")
        }
        guard !name.isEmpty, !name.contains("/"), name != ".", name != ".." else {
            throw ValidationError("--name must be a file name without /")
        }
    }

    /// Values of the environment that are secrets by their name, and of --redact-env.
    static func secrets(_ environment: [String: String], named: [String]) -> [String] {
        let marks = ["TOKEN", "SECRET", "PASSWORD", "PASSWD", "API_KEY", "APIKEY", "PRIVATE_KEY", "CREDENTIAL"]
        var out: [String] = named.compactMap { environment[$0] }
        for (k, v) in environment where v.count >= 8 && marks.contains(where: { k.uppercased().contains($0) }) {
            out.append(v)
        }
        return out
    }

    func run() async throws {
        try await runReporting {
            umask(0o077)
            var options = LogCapture.Options(command: command, directory: dir)
            options.name = name
            options.rotateBytes = rotateBytes
            options.backups = backups
            options.maxAttempts = maxAttempts
            options.backoff = backoff
            options.backoffMax = backoffMax
            options.replay = replay
            let redactor = Redactor(secretValues: Self.secrets(ProcessInfo.processInfo.environment, named: redactEnv))
            let capture: LogCapture
            do {
                capture = try LogCapture(options: options, redactor: redactor)
            } catch {
                throw CLIFailure(message: "cannot write to \(dir): \(error)")
            }
            signal(SIGINT, SIG_IGN)
            signal(SIGTERM, SIG_IGN)
            var sources: [any DispatchSourceSignal] = []
            for sig in [SIGINT, SIGTERM] {
                let s = DispatchSource.makeSignalSource(signal: sig, queue: .global())
                s.setEventHandler { capture.stop(signal: sig) }
                s.resume()
                sources.append(s)
            }
            let outcome = await withCheckedContinuation { (c: CheckedContinuation<LogCapture.Outcome, Never>) in
                Thread.detachNewThread { c.resume(returning: capture.run()) }
            }
            for s in sources { s.cancel() }
            let c = outcome.cursor
            print(
                "captured lines=\(c.lines) bytes=\(c.bytes) attempts=\(outcome.attempts) exit=\(outcome.exitCode) file=\((dir as NSString).appendingPathComponent("\(name).log"))"
            )
            if let sig = outcome.stoppedBy { throw ExitCode(128 + sig) }
            if let why = outcome.spawnError { throw CLIFailure(message: why, code: 127) }
            if outcome.unwritten > 0 {
                throw CLIFailure(
                    message:
                        "\(outcome.unwritten) line(s) could not be written to \(dir): \(outcome.unwrittenReason ?? "write failed")"
                )
            }
            if outcome.exitCode != 0 { throw ExitCode(outcome.exitCode) }
        }
    }
}
