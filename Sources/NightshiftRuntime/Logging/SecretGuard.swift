import Foundation
import Subprocess
import SystemPackage

/// One secret `nightshift guard` found: where, by which rule, and the value masked.
public struct SecretFinding: Codable, Sendable, Equatable {
    /// The file, relative to the state dir (`tasks/task_….log`, `runs/…/run.tar.gz`,
    /// `worktrees/<slug>/<path>`).
    public var file: String
    /// The file inside an archive, for a finding in one.
    public var member: String?
    public var line: Int
    public var rule: SecretRule
    /// What the rule keeps of the match (`sk-`, `Bearer `, `API_KEY=`) then `****`.
    public var masked: String

    public init(file: String, member: String? = nil, line: Int, rule: SecretRule, masked: String) {
        self.file = file
        self.member = member
        self.line = line
        self.rule = rule
        self.masked = masked
    }

    /// `file:line`, or `archive:member:line`.
    public var location: String { [file, member].compactMap { $0 }.joined(separator: ":") + ":\(line)" }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(file, forKey: .file)
        try c.encode(member, forKey: .member)
        try c.encode(line, forKey: .line)
        try c.encode(rule, forKey: .rule)
        try c.encode(masked, forKey: .masked)
    }
}

/// What one guard run looked at and found.
public struct SecretScan: Codable, Sendable, Equatable {
    public var stateDir: String
    public var findings: [SecretFinding] = []
    /// Plain files read (logs, reports, exports, result files).
    public var files = 0
    /// `.tar.gz` archives read, and the files inside them.
    public var archives = 0
    public var archivedFiles = 0
    /// Item worktrees whose uncommitted diff and untracked files were read.
    public var worktrees = 0
    /// What could not be read, and why (nothing is skipped silently).
    public var unreadable: [String] = []

    enum CodingKeys: String, CodingKey {
        case findings, files, archives, worktrees, unreadable
        case stateDir = "state_dir"
        case archivedFiles = "archived_files"
    }

    public init(stateDir: String) { self.stateDir = stateDir }
}

/// Looks for secrets the redactor would mask in what the daemon and its agents left in the
/// state dir: every text file (binary files and the database are skipped), the files inside
/// `.tar.gz` archives (run archives), and, in each item worktree under `worktrees/`, the lines
/// `git diff HEAD` adds and the untracked files. Same rules as the redactor (`SecretRule`).
public struct SecretGuard: Sendable {
    let redactor: Redactor
    let stateDir: String

    /// Lines longer than this are read in pieces (as the task log writer cuts them).
    static let maxLine = 64 * 1024
    /// Files of the state dir the guard never reads: the store and its lock.
    static let skippedNames: Set<String> = [
        "nightshift.sqlite", "nightshift.sqlite-wal", "nightshift.sqlite-shm", "nightshift.sqlite-journal", "nightshift.lock",
    ]

    public init(stateDir: String, redactor: Redactor) {
        self.stateDir = stateDir
        self.redactor = redactor
    }

    public func run() async -> SecretScan {
        var scan = SecretScan(stateDir: stateDir)
        let root = URL(fileURLWithPath: stateDir).standardizedFileURL.path
        let fm = FileManager.default
        var files: [String] = []
        if let walker = fm.enumerator(atPath: root) {
            while let rel = walker.nextObject() as? String {
                let path = (root as NSString).appendingPathComponent(rel)
                let type = (try? fm.attributesOfItem(atPath: path))?[.type] as? FileAttributeType
                if type == .typeDirectory {
                    if rel == "worktrees" || (rel as NSString).lastPathComponent == ".git" { walker.skipDescendants() }
                    continue
                }
                guard type == .typeRegular, !Self.skippedNames.contains(rel) else { continue }
                files.append(rel)
            }
        }
        for rel in files.sorted() {
            let path = (root as NSString).appendingPathComponent(rel)
            if rel.hasSuffix(".tar.gz") || rel.hasSuffix(".tgz") {
                await scanArchive(path, as: rel, into: &scan)
            } else {
                switch scanFile(path, as: rel) {
                case .text(let found):
                    scan.files += 1
                    scan.findings += found
                case .binary: break
                case .unreadable(let why): scan.unreadable.append("\(rel): \(why)")
                }
            }
        }
        let worktrees = (root as NSString).appendingPathComponent("worktrees")
        for slug in ((try? fm.contentsOfDirectory(atPath: worktrees)) ?? []).sorted() {
            let dir = (worktrees as NSString).appendingPathComponent(slug)
            guard fm.fileExists(atPath: (dir as NSString).appendingPathComponent(".git")) else { continue }
            await scanWorktree(dir, as: "worktrees/" + slug, into: &scan)
        }
        return scan
    }

    /// What reading one file gave.
    enum FileScan {
        case text([SecretFinding])
        /// A NUL in its first 8 KiB: not text, not read.
        case binary
        case unreadable(String)
    }

    /// The findings of one file.
    func scanFile(_ path: String, as name: String) -> FileScan {
        guard let handle = FileHandle(forReadingAtPath: path) else { return .unreadable("cannot open it") }
        defer { try? handle.close() }
        var lines = LineScanner(guardian: self, file: name, member: nil, firstLine: 1)
        var first = true
        while true {
            let chunk: Data
            do {
                guard let read = try handle.read(upToCount: 256 * 1024), !read.isEmpty else { break }
                chunk = read
            } catch {
                return .unreadable("\(error)")
            }
            if first {
                first = false
                if chunk.prefix(8192).contains(0) { return .binary }
            }
            chunk.withUnsafeBytes { lines.feed($0.bindMemory(to: UInt8.self)) }
        }
        return .text(lines.finish())
    }

    /// The files inside a gzip'd tar archive, read in one pass from `gzip -dc`.
    func scanArchive(_ path: String, as name: String, into scan: inout SecretScan) async {
        final class Box: @unchecked Sendable {
            var findings: [SecretFinding] = []
            var files = 0
            var lines: LineScanner?
            var binary = false
            var failure: String?
        }
        let box = Box()
        let guardian = self
        var tar = TarStream(
            onFile: { member in
                box.files += 1
                box.binary = false
                box.lines = LineScanner(guardian: guardian, file: name, member: member, firstLine: 1)
            },
            onData: { bytes in
                guard !box.binary else { return }
                if box.lines?.line == 1, box.lines?.fed == 0, bytes.prefix(8192).contains(0) {
                    box.binary = true
                    return
                }
                box.lines?.feed(bytes)
            },
            onEnd: {
                if !box.binary, let found = box.lines?.finish() { box.findings += found }
                box.lines = nil
            })
        do {
            let result = try await Subprocess.run(
                .name("gzip"), arguments: ["-dc", path], input: .none, output: .sequence, error: .string(limit: 4096)
            ) { execution in
                for try await buffer in execution.standardOutput {
                    try buffer.withUnsafeBytes { try tar.feed($0.bindMemory(to: UInt8.self)) }
                }
                try tar.finish()
            }
            if result.terminationStatus != .exited(0) {
                let said = result.standardError.trimmingCharacters(in: .whitespacesAndNewlines)
                box.failure = "gzip -dc failed: \(said.isEmpty ? "\(result.terminationStatus)" : said)"
            }
        } catch {
            box.failure = "\(error)"
        }
        scan.archives += 1
        scan.archivedFiles += box.files
        scan.findings += box.findings
        if let failure = box.failure { scan.unreadable.append("\(name): \(failure)") }
    }

    /// The lines `git diff HEAD` adds in an item worktree (staged or not), at their line in the
    /// working file, and every line of its untracked files.
    func scanWorktree(_ dir: String, as name: String, into scan: inout SecretScan) async {
        do {
            let diff = try await Self.git(["diff", "HEAD", "--no-color", "--no-ext-diff", "--unified=0"], in: dir)
            scan.findings += scanDiff(diff, under: name)
            let untracked = try await Self.git(["ls-files", "--others", "--exclude-standard", "-z"], in: dir)
            for file in untracked.split(separator: 0).map({ String(decoding: $0, as: UTF8.self) }).sorted() {
                switch scanFile((dir as NSString).appendingPathComponent(file), as: name + "/" + file) {
                case .text(let found): scan.findings += found
                case .binary: break
                case .unreadable(let why): scan.unreadable.append("\(name)/\(file): \(why)")
                }
            }
            scan.worktrees += 1
        } catch {
            scan.unreadable.append("\(name): \(error)")
        }
    }

    /// Findings in the added lines of a unified diff, numbered as in the new file.
    func scanDiff(_ diff: [UInt8], under name: String) -> [SecretFinding] {
        var findings: [SecretFinding] = []
        var file: String?
        var line = 0
        var carry = Redactor.Carry()
        for raw in diff.split(separator: 0x0A, omittingEmptySubsequences: false) {
            if raw.starts(with: Array("+++ ".utf8)) {
                let path = String(decoding: raw.dropFirst(4), as: UTF8.self)
                file = path == "/dev/null" ? nil : String(path.hasPrefix("b/") ? path.dropFirst(2) : Substring(path))
                carry = Redactor.Carry()
            } else if raw.starts(with: Array("@@ ".utf8)) {
                // "@@ -a,b +c,d @@": the first added line is line c of the new file.
                let text = String(decoding: raw, as: UTF8.self)
                let plus = text.split(separator: " ").first { $0.hasPrefix("+") }
                line = Int(plus?.dropFirst().split(separator: ",").first ?? "") ?? 0
                carry = Redactor.Carry()
            } else if raw.first == UInt8(ascii: "+"), let file {
                Array(raw.dropFirst()).withUnsafeBufferPointer { content in
                    findings += self.findings(in: content, carry: &carry, file: name + "/" + file, member: nil, line: line)
                }
                line += 1
            }
        }
        return findings
    }

    /// The findings of one line, each with its value masked.
    func findings(
        in line: UnsafeBufferPointer<UInt8>, carry: inout Redactor.Carry, file: String, member: String?, line number: Int
    ) -> [SecretFinding] {
        redactor.matches(in: line, carry: &carry).filter { !$0.continued }.map { m in
            var lead = String(decoding: UnsafeBufferPointer(rebasing: line[m.leadStart..<m.valueStart]), as: UTF8.self)
            while let last = lead.last, last == "\"" || last == "'" { lead.removeLast() }
            if lead.count > 60 { lead = "…" + lead.suffix(59) }
            return SecretFinding(file: file, member: member, line: number, rule: m.rule, masked: lead + "****")
        }
    }

    static func git(_ arguments: [String], in dir: String) async throws -> [UInt8] {
        let result = try await Subprocess.run(
            .name("git"), arguments: Arguments(["-c", "core.quotePath=false"] + arguments),
            environment: .inherit.updating(["GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"]), workingDirectory: FilePath(dir),
            output: .bytes(limit: 256 * 1024 * 1024), error: .string(limit: 4096))
        guard case .exited(0) = result.terminationStatus else {
            let said = result.standardError.trimmingCharacters(in: .whitespacesAndNewlines)
            throw Workspace.Failure(description: "git \(arguments.first ?? "") failed: \(said)")
        }
        return result.standardOutput
    }
}

/// Cuts a stream of bytes into lines and runs the guard's rules on each, carrying private key
/// blocks from line to line.
struct LineScanner {
    let guardian: SecretGuard
    let file: String
    let member: String?
    private(set) var line: Int
    private(set) var fed = 0
    private var partial: [UInt8] = []
    private var carry = Redactor.Carry()
    private var found: [SecretFinding] = []

    init(guardian: SecretGuard, file: String, member: String?, firstLine: Int) {
        self.guardian = guardian
        self.file = file
        self.member = member
        self.line = firstLine
    }

    mutating func feed(_ bytes: UnsafeBufferPointer<UInt8>) {
        fed += bytes.count
        var start = 0
        while start < bytes.count {
            guard let nl = bytes[start...].firstIndex(of: 0x0A) else {
                partial.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start...]))
                if partial.count >= SecretGuard.maxLine { emitPartial() }
                return
            }
            if partial.isEmpty {
                emit(UnsafeBufferPointer(rebasing: bytes[start..<nl]))
            } else {
                partial.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<nl]))
                emitPartial()
            }
            line += 1
            start = nl + 1
        }
    }

    /// The last line (without a newline) and every finding.
    mutating func finish() -> [SecretFinding] {
        if !partial.isEmpty { emitPartial() }
        return found
    }

    private mutating func emitPartial() {
        let bytes = partial
        partial.removeAll(keepingCapacity: true)
        bytes.withUnsafeBufferPointer { emit($0) }
    }

    private mutating func emit(_ content: UnsafeBufferPointer<UInt8>) {
        found += guardian.findings(in: content, carry: &carry, file: file, member: member, line: line)
    }
}
