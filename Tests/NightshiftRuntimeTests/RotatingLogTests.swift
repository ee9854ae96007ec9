import Foundation
import Logging
import NightshiftCore
import NightshiftRuntime
import NightshiftTesting
import Testing

/// Size-based rotation of component logs, file modes, and redaction on the way in.
@Suite("RotatingFile and ComponentLogs")
struct RotatingLogTests {
    func mode(_ path: String) throws -> Int? {
        try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
    }

    func read(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }

    /// 40-byte lines, "line 00 ....\n".
    func line(_ i: Int) -> String {
        let head = String(format: "line %02d ", i)
        return head + String(repeating: ".", count: 39 - head.count) + "\n"
    }

    @Test("rotation at maxBytes keeps exactly `backups` older files, newest content in the base file")
    func rotation() throws {
        let tmp = try TemporaryDirectory()
        let path = tmp.path("agent_runner.log")
        let file = try RotatingFile(path: path, maxBytes: 100, backups: 2)
        for i in 0..<10 { file.append(line(i)) }
        // Two 40-byte lines fit in 100 bytes; the third rotates.
        #expect(read(path) == line(8) + line(9))
        #expect(read(path + ".1") == line(6) + line(7))
        #expect(read(path + ".2") == line(4) + line(5))
        #expect(!FileManager.default.fileExists(atPath: path + ".3"))
        let names = try FileManager.default.contentsOfDirectory(atPath: tmp.path).sorted()
        #expect(names == ["agent_runner.log", "agent_runner.log.1", "agent_runner.log.2"])
        for p in [path, path + ".1", path + ".2"] { #expect(try mode(p) == 0o600, "\(p)") }
    }

    @Test("backups 0: the file starts over at maxBytes")
    func noBackups() throws {
        let tmp = try TemporaryDirectory()
        let path = tmp.path("x.log")
        let file = try RotatingFile(path: path, maxBytes: 100, backups: 0)
        for i in 0..<5 { file.append(line(i)) }
        #expect(read(path) == line(4))
        #expect(try FileManager.default.contentsOfDirectory(atPath: tmp.path) == ["x.log"])
    }

    @Test("a reopened file keeps counting from its current size")
    func reopen() throws {
        let tmp = try TemporaryDirectory()
        let path = tmp.path("x.log")
        try RotatingFile(path: path, maxBytes: 100, backups: 1).append(line(0) + line(1))
        let again = try RotatingFile(path: path, maxBytes: 100, backups: 1)
        again.append(line(2))
        #expect(read(path) == line(2))
        #expect(read(path + ".1") == line(0) + line(1))
    }

    @Test("a message bigger than maxBytes is written whole into a fresh file")
    func oversized() throws {
        let tmp = try TemporaryDirectory()
        let path = tmp.path("x.log")
        let file = try RotatingFile(path: path, maxBytes: 100, backups: 1)
        file.append(line(0))
        let big = String(repeating: "b", count: 250) + "\n"
        file.append(big)
        #expect(read(path) == big)
        #expect(read(path + ".1") == line(0))
    }

    @Test("concurrent appends lose no line")
    func concurrent() async throws {
        let tmp = try TemporaryDirectory()
        let path = tmp.path("x.log")
        let file = try RotatingFile(path: path, maxBytes: 1 << 20, backups: 1)
        await withTaskGroup(of: Void.self) { group in
            for t in 0..<4 {
                group.addTask { for i in 0..<250 { file.append("writer \(t) line \(i)\n") } }
            }
        }
        let lines = read(path).split(separator: "\n")
        #expect(lines.count == 1000)
        #expect(Set(lines).count == 1000)
    }

    @Test("ComponentLogs writes one redacted line per message, metadata included, into a 0600 file")
    func componentLogs() throws {
        let tmp = try TemporaryDirectory()
        let paths = StatePaths(root: tmp.path("state"))
        try paths.prepare()
        let logs = ComponentLogs(
            paths: paths, maxBytes: 1 << 20, backups: 2, redactor: Redactor(secretValues: ["literal-secret-1"]), echo: false)
        let logger = logs.logger("agent_runner")
        logger.info(
            "agent printed sk-abcdefghijklmnopqrstuv and literal-secret-1", metadata: ["task.id": "task_00000000000000ee"])
        logger.warning("retrying", metadata: ["url": "https://x/?token=abc123&y=2"])
        logger.debug("below the level")
        let text = read(paths.componentLog("agent_runner"))
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines.count == 2)
        #expect(lines[0].contains("INFO [agent_runner] agent printed sk-[REDACTED] and [REDACTED]"))
        #expect(lines[0].contains("service=agent_runner"))
        #expect(lines[0].contains("task.id=task_00000000000000ee"))
        #expect(lines[1].contains("WARNING [agent_runner] retrying"))
        #expect(lines[1].contains("?token=[REDACTED]&y=2"))
        for secret in ["abcdefghijklmnopqrstuv", "literal-secret-1", "abc123"] { #expect(!text.contains(secret)) }
        #expect(try mode(paths.componentLog("agent_runner")) == 0o600)
    }

    @Test("ComponentLogs rotates at logs.max_bytes and shares one file per component")
    func componentLogsRotate() throws {
        let tmp = try TemporaryDirectory()
        let paths = StatePaths(root: tmp.path("state"))
        try paths.prepare()
        let logs = ComponentLogs(paths: paths, maxBytes: 300, backups: 2, redactor: Redactor(), echo: false)
        let a = logs.logger("monitor")
        let b = logs.logger("monitor")
        for i in 0..<30 { (i.isMultiple(of: 2) ? a : b).info("message number \(i)") }
        let base = paths.componentLog("monitor")
        let fm = FileManager.default
        #expect(fm.fileExists(atPath: base + ".1"))
        #expect(fm.fileExists(atPath: base + ".2"))
        #expect(!fm.fileExists(atPath: base + ".3"))
        #expect(read(base).contains("message number 29"))
        for p in [base, base + ".1", base + ".2"] {
            let size = try #require(try fm.attributesOfItem(atPath: p)[.size] as? Int)
            #expect(size <= 300)
        }
    }

    @Test("StatePaths.prepare creates private (0700) directories")
    func privateDirectories() throws {
        let tmp = try TemporaryDirectory()
        let paths = StatePaths(root: tmp.path("state"))
        try paths.prepare()
        for dir in [paths.root, paths.tasksDir, paths.resultsDir] { #expect(try mode(dir) == 0o700, "\(dir)") }
    }
}

@Suite("repeat filter")
struct RepeatFilterTests {
    @Test("a repeated message passes once per window, then says how often it repeated")
    func window() {
        let f = RepeatFilter(window: 60)
        let t0 = Date(timeIntervalSince1970: 1_000_000)
        #expect(f.admit("disk full", now: t0) == "disk full")
        #expect(f.admit("disk full", now: t0.addingTimeInterval(1)) == nil)
        #expect(f.admit("disk full", now: t0.addingTimeInterval(30)) == nil)
        #expect(f.admit("other", now: t0.addingTimeInterval(31)) == "other")
        #expect(f.admit("disk full", now: t0.addingTimeInterval(61)) == "disk full (repeated 2 more time(s) in the last 60s)")
        #expect(f.admit("disk full", now: t0.addingTimeInterval(62)) == nil)
    }
}
