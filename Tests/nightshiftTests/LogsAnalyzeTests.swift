import Foundation
import NightshiftTesting
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `nightshift logs stats` and `logs extract` on real files: the exact lines, the same bytes
/// every time, files chosen by name or mtime, and a private output file.
@Suite("logs stats and extract")
struct LogsAnalyzeTests {
    /// Three log files whose names and mtimes sort in opposite orders.
    static func files() throws -> TemporaryDirectory {
        let dir = try TemporaryDirectory()
        let contents = [
            ("a.log", "req rid=r1 took 10ms\nreq rid=r2 took 30ms\nnoise\n", 100.0),
            ("b.log", "req rid=r1 took 20ms\nreq rid=r3 took 5.5ms\n", 200.0),
            ("c.log", "req rid=r1 took 40ms\n", 300.0),
        ]
        for (name, text, age) in contents {
            let path = try dir.write(text, to: name)
            try FileManager.default.setAttributes(
                [.modificationDate: Date(timeIntervalSince1970: 1_764_000_000 - age)], ofItemAtPath: path)
        }
        return dir
    }

    @Test("stats prints the header, the FILES line and one SUMMARY line a group, byte for byte the same each run")
    func stats() throws {
        let dir = try Self.files()
        let glob = dir.path("*.log")
        let r = try NightshiftBinary.run(["logs", "stats", "--glob", glob])
        #expect(r.status == 0, "\(r.err)")
        #expect(
            r.out == """
                files=3 sort_by=name events=5
                FILES a.log b.log c.log
                SUMMARY ms count=5 min=5.5 p50=20 p90=40 max=40 mean=21.1 median=20

                """)
        #expect(try NightshiftBinary.run(["logs", "stats", "--glob", glob]).out == r.out, "the same bytes again")
        let last = try NightshiftBinary.run(["logs", "stats", "--glob", glob, "--sort-by", "mtime", "--last-files", "2"])
        #expect(last.out.hasPrefix("files=2 sort_by=mtime events=4\nFILES b.log a.log\n"), "\(last.out)")
        let rid = try NightshiftBinary.run([
            "logs", "stats", "--glob", glob, "--rid", "rid=r1", "--pattern", #"took (?<took>\d+)ms"#,
        ])
        #expect(rid.out.contains("SUMMARY took count=3 min=10 p50=20 p90=40 max=40 mean=23.3 median=20"), "\(rid.out)")
        let bad = try NightshiftBinary.run(["logs", "stats", "--glob", glob, "--pattern", "(unclosed"])
        #expect(bad.status == 2)
        #expect(try NightshiftBinary.run(["logs", "stats", "--glob", glob, "--pattern", #"\d+ms"#]).status == 2)
    }

    @Test("extract writes one id's lines in file order to a 0600 file and says how many")
    func extract() throws {
        let dir = try Self.files()
        let out = dir.path("r1.txt")
        let r = try NightshiftBinary.run(["logs", "extract", "--glob", dir.path("*.log"), "--rid", "rid=r1", "--out", out])
        #expect(r.status == 0, "\(r.err)")
        #expect(r.out == "Wrote 3 lines to \(out) (files=3 sort_by=name last_files=0)\n")
        #expect(
            try String(contentsOfFile: out, encoding: .utf8)
                == "req rid=r1 took 10ms\nreq rid=r1 took 20ms\nreq rid=r1 took 40ms\n")
        let mode = try FileManager.default.attributesOfItem(atPath: out)[.posixPermissions] as? Int
        #expect(mode == 0o600)
    }
}
