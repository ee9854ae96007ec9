import Dispatch
import Foundation
import NightshiftCore
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// How far a capture has durably written: lines and bytes in all, and where in the current
/// file. It moves only after a write and its fsync succeeded (seed 000: "retrying without
/// advancing cursor").
public struct CaptureCursor: Codable, Sendable, Equatable {
    public var lines = 0
    public var bytes = 0
    /// The current file (`name.log`) and its durable size.
    public var file: String = ""
    public var offset = 0
    public var attempt = 0
    public init() {}
}

/// The files of one capture: `name.log`, rotated to `name.log.1` … `name.log.K` when the next
/// line would take it past `maxBytes`; each created 0600. `write` makes whole lines durable
/// (write, then fsync) and only then advances the cursor; a write that fails is cut back off
/// the file (ftruncate to the durable size), so a retry neither loses nor repeats a line.
public final class CaptureFile: @unchecked Sendable {
    public let path: String
    let maxBytes: Int
    let backups: Int
    /// `write(2)` by default; tests put a failing one in.
    let writeBytes: (Int32, UnsafeRawPointer, Int) -> Int
    private var fd: Int32 = -1
    public private(set) var cursor = CaptureCursor()
    /// Why the last write failed.
    public private(set) var lastError: String?

    public init(
        path: String, maxBytes: Int, backups: Int,
        writeBytes: @escaping (Int32, UnsafeRawPointer, Int) -> Int = { Glibc.write($0, $1, $2) }
    ) throws {
        self.path = path
        self.maxBytes = max(1, maxBytes)
        self.backups = max(0, backups)
        self.writeBytes = writeBytes
        try reopen()
    }

    deinit { if fd >= 0 { close(fd) } }

    private func reopen() throws {
        if fd >= 0 { close(fd) }
        fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw AtomicFile.WriteError(path: path, reason: String(cString: strerror(errno)))
        }
        fchmod(fd, 0o600)
        var st = stat()
        fstat(fd, &st)
        cursor.offset = Int(st.st_size)
        cursor.file = (path as NSString).lastPathComponent
    }

    private func rotate() throws {
        close(fd)
        fd = -1
        if backups > 0 {
            unlink("\(path).\(backups)")
            for i in stride(from: backups - 1, through: 1, by: -1) { rename("\(path).\(i)", "\(path).\(i + 1)") }
            rename(path, "\(path).1")
        } else {
            unlink(path)
        }
        try reopen()
    }

    /// Writes `bytes` (whole lines) at the durable end and fsyncs; on failure cuts the file
    /// back to the durable size and says why.
    private func writeDurably(_ bytes: [UInt8]) -> Bool {
        var done = 0
        let ok = bytes.withUnsafeBytes { raw -> Bool in
            while done < raw.count {
                let n = writeBytes(fd, raw.baseAddress! + done, raw.count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    lastError = String(cString: strerror(errno))
                    return false
                }
                if n == 0 {
                    lastError = "short write"
                    return false
                }
                done += n
            }
            if fsync(fd) != 0 {
                lastError = "fsync: " + String(cString: strerror(errno))
                return false
            }
            return true
        }
        if !ok {
            // What reached the file past the cursor is not counted: remove it, so the retry
            // writes it exactly once.
            _ = ftruncate(fd, off_t(cursor.offset))
            return false
        }
        return true
    }

    /// Makes as many of `lines` (each without its newline) durable as it can, in order;
    /// returns how many. The cursor covers exactly those.
    public func write(_ lines: ArraySlice<[UInt8]>) -> Int {
        var written = 0
        var segment: [UInt8] = []
        var segmentLines = 0
        func flush() -> Bool {
            guard segmentLines > 0 else { return true }
            guard writeDurably(segment) else { return false }
            cursor.lines += segmentLines
            cursor.bytes += segment.count
            cursor.offset += segment.count
            written += segmentLines
            segment.removeAll(keepingCapacity: true)
            segmentLines = 0
            return true
        }
        for line in lines {
            let size = line.count + 1
            if cursor.offset + segment.count > 0 && cursor.offset + segment.count + size > maxBytes {
                guard flush() else { return written }
                if cursor.offset > 0 {
                    do { try rotate() } catch {
                        lastError = "\(error)"
                        return written
                    }
                }
            }
            segment.append(contentsOf: line)
            segment.append(0x0A)
            segmentLines += 1
        }
        _ = flush()
        return written
    }
}

/// `nightshift logs capture`: runs a command in its own process group, writes its merged
/// stdout and stderr line by line to a `CaptureFile` after the `Redactor`, and runs it again
/// with backoff when it fails, up to `maxAttempts`, without losing or repeating a line already
/// written: the command sees the cursor in `NIGHTSHIFT_CAPTURE_CURSOR` (lines written so far)
/// to resume from, and with `replay` (a command that prints everything again each time) the
/// lines a retry repeats are skipped.
public final class LogCapture: @unchecked Sendable {
    public struct Options: Sendable {
        public var command: [String]
        public var directory: String
        public var name = "capture"
        public var rotateBytes = 10 << 20
        public var backups = 5
        public var maxAttempts = 5
        /// Seconds before the first retry; doubled for each next one, up to `backoffMax`.
        public var backoff = 1.0
        public var backoffMax = 60.0
        public var replay = false
        /// Seconds between SIGTERM and SIGKILL of the group when capture is stopped.
        public var killGrace = 5.0
        public init(command: [String], directory: String) {
            self.command = command
            self.directory = directory
        }
    }

    /// How a capture ended.
    public struct Outcome: Sendable, Equatable {
        public var attempts: Int
        /// The command's last exit code (128 + the signal when a signal ended it; 127 when it
        /// could not be started).
        public var exitCode: Int32
        public var cursor: CaptureCursor
        /// Lines read but not durably written (the disk stayed full).
        public var unwritten: Int
        public var unwrittenReason: String?
        /// The signal (SIGINT, SIGTERM) that stopped the capture, if one did.
        public var stoppedBy: Int32?
        public var spawnError: String?
    }

    let options: Options
    let redactor: Redactor
    let file: CaptureFile
    /// Notes for the operator (retries), one line each, on stderr by default.
    let note: @Sendable (String) -> Void
    private let stopSignal = Mutex<Int32?>(nil)
    private let wake = DispatchSemaphore(value: 0)
    private let group = Mutex<Int32>(0)

    public init(
        options: Options, redactor: Redactor, file: CaptureFile? = nil,
        note: @escaping @Sendable (String) -> Void = { StandardStreams.writeError("nightshift: capture: \($0)\n") }
    ) throws {
        self.options = options
        self.redactor = redactor
        try FileManager.default.createDirectory(
            atPath: options.directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        self.file =
            try file
            ?? CaptureFile(
                path: (options.directory as NSString).appendingPathComponent("\(options.name).log"),
                maxBytes: options.rotateBytes, backups: options.backups)
        self.note = note
    }

    public var cursorPath: String { (options.directory as NSString).appendingPathComponent("\(options.name).cursor") }

    /// Stops the capture (a signal arrived): the group gets SIGTERM, then SIGKILL after the
    /// grace, and no retry follows.
    public func stop(signal: Int32) {
        let first = stopSignal.withLock { s -> Bool in
            guard s == nil else { return false }
            s = signal
            return true
        }
        guard first else { return }
        wake.signal()
        let pgid = group.withLock { $0 }
        if pgid > 1 {
            kill(-pgid, SIGTERM)
            let grace = options.killGrace
            DispatchQueue.global().asyncAfter(deadline: .now() + grace) { kill(-pgid, SIGKILL) }
        }
    }

    var stopped: Int32? { stopSignal.withLock { $0 } }

    /// Runs the command until it succeeds, attempts run out, or `stop` is called. Blocking.
    public func run() -> Outcome {
        var pending: [[UInt8]] = []
        var accepted = 0  // lines read and kept (durable + pending)
        var attempt = 0
        var exitCode: Int32 = 0
        var spawnError: String?
        var delay = options.backoff
        while attempt < options.maxAttempts && stopped == nil {
            attempt += 1
            let skip = options.replay && attempt > 1 ? accepted : 0
            let r = runOnce(attempt: attempt, cursorLines: accepted, skip: skip, pending: &pending, accepted: &accepted)
            exitCode = r.code
            spawnError = r.spawnError
            var c = file.cursor
            c.attempt = attempt
            try? AtomicFile.writeJSON(c, to: cursorPath)
            if exitCode == 0 || spawnError != nil || stopped != nil { break }
            guard attempt < options.maxAttempts else { break }
            note(
                "\(options.command.joined(separator: " ")) exited \(exitCode) (attempt \(attempt)/\(options.maxAttempts)); retrying in \(ConfigValues.formatDuration(delay)) from line \(accepted) without advancing the cursor"
            )
            if wake.wait(timeout: .now() + delay) == .success { break }  // stopped while waiting
            delay = min(options.backoffMax, max(delay * 2, 0.001))
        }
        // Lines still pending (writes failed): a few more tries with backoff.
        var tries = 0
        while !pending.isEmpty && tries < 5 {
            let n = file.write(pending[...])
            pending.removeFirst(n)
            if pending.isEmpty { break }
            tries += 1
            _ = wake.wait(timeout: .now() + min(1.0, 0.05 * Double(1 << tries)))
        }
        var c = file.cursor
        c.attempt = attempt
        try? AtomicFile.writeJSON(c, to: cursorPath)
        return Outcome(
            attempts: attempt, exitCode: exitCode, cursor: c, unwritten: pending.count,
            unwrittenReason: pending.isEmpty ? nil : file.lastError, stoppedBy: stopped, spawnError: spawnError)
    }

    /// One run of the command; its lines are redacted, appended to `pending` and written.
    func runOnce(
        attempt: Int, cursorLines: Int, skip: Int, pending: inout [[UInt8]], accepted: inout Int
    ) -> (code: Int32, spawnError: String?) {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { return (127, "pipe: \(String(cString: strerror(errno)))") }
        // Neither end leaks into the command: it gets the write end as its stdout and stderr.
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        var environment = ProcessInfo.processInfo.environment
        environment["NIGHTSHIFT_CAPTURE_CURSOR"] = "\(cursorLines)"
        environment["NIGHTSHIFT_CAPTURE_ATTEMPT"] = "\(attempt)"
        let spawned = Self.spawn(options.command, environment: environment, output: fds[1])
        close(fds[1])
        let pid: pid_t
        switch spawned {
        case .failure(let why):
            close(fds[0])
            return (127, why.message)
        case .success(let p): pid = p
        }
        group.withLock { $0 = pid }
        if let sig = stopped {  // a signal arrived while it started
            kill(-pid, sig == SIGKILL ? SIGKILL : SIGTERM)
        }
        var carry = Redactor.Carry()
        var partial: [UInt8] = []
        var seen = 0
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        func take(_ line: ArraySlice<UInt8>) {
            seen += 1
            var out: [UInt8] = []
            out.reserveCapacity(line.count)
            line.withUnsafeBufferPointer { redactor.redact($0, into: &out, carry: &carry) }
            // A retry of a command that starts over repeats what is already captured.
            if seen <= skip { return }
            pending.append(out)
            accepted += 1
        }
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fds[0], $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            var start = 0
            buffer.withUnsafeBufferPointer { b in
                for i in 0..<n where b[i] == 0x0A {
                    if partial.isEmpty {
                        take(ArraySlice(b[start..<i]))
                    } else {
                        partial.append(contentsOf: b[start..<i])
                        take(partial[...])
                        partial.removeAll(keepingCapacity: true)
                    }
                    start = i + 1
                }
                if start < n { partial.append(contentsOf: b[start..<n]) }
            }
            // A line with no end in sight is cut, so memory stays bounded.
            if partial.count > 1 << 20 {
                take(partial[...])
                partial.removeAll(keepingCapacity: true)
            }
            if !pending.isEmpty { pending.removeFirst(file.write(pending[...])) }
        }
        close(fds[0])
        if !partial.isEmpty { take(partial[...]) }
        if !pending.isEmpty { pending.removeFirst(file.write(pending[...])) }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        group.withLock { $0 = 0 }
        // Leftovers of the group (a background child holding nothing) go with it.
        kill(-pid, SIGKILL)
        let code: Int32 = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return (code, nil)
    }

    /// posix_spawnp of `argv` in a new process group, stdin from /dev/null, stdout and stderr
    /// to `output`, signals at their defaults.
    struct SpawnFailure: Error { var message: String }

    static func spawn(_ argv: [String], environment: [String: String], output: Int32) -> Result<pid_t, SpawnFailure> {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, output, 1)
        posix_spawn_file_actions_adddup2(&actions, output, 2)
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        posix_spawnattr_setpgroup(&attr, 0)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for s in [SIGINT, SIGTERM, SIGPIPE, SIGHUP, SIGQUIT] { sigaddset(&defaults, s) }
        posix_spawnattr_setsigdefault(&attr, &defaults)
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attr, &empty)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))
        let args = argv.map { strdup($0) } + [nil]
        let env = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for p in args { free(p) }
            for p in env { free(p) }
        }
        var pid: pid_t = 0
        let rc = posix_spawnp(&pid, argv[0], &actions, &attr, args, env)
        guard rc == 0 else { return .failure(SpawnFailure(message: "cannot run \(argv[0]): \(String(cString: strerror(rc)))")) }
        return .success(pid)
    }
}
