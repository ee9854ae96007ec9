import Foundation
import NightshiftTesting
import Testing

@testable import NightshiftRuntime

/// The secret guard over a real state dir: plain files, a real tar.gz, a real git worktree.
@Suite("SecretGuard")
struct SecretGuardTests {
    @Test("planted secrets are found in a log, inside a run archive and in a worktree's uncommitted changes, masked")
    func planted() async throws {
        let f = try SecretFixture()
        let scan = await SecretGuard(stateDir: f.stateDir, redactor: Redactor()).run()
        #expect(scan.unreadable.isEmpty, "\(scan.unreadable)")
        #expect(scan.findings.map(\.location) == SecretFixture.planted.map(\.location))
        #expect(scan.findings.map(\.rule.rawValue) == SecretFixture.planted.map(\.rule))
        #expect(scan.findings.map(\.masked) == SecretFixture.planted.map(\.masked))
        let shown = try String(decoding: JSONEncoder().encode(scan), as: UTF8.self)
        for value in SecretFixture.values { #expect(!shown.contains(value), "\(value) is never shown") }
        #expect(scan.archives == 1 && scan.archivedFiles == 2)
        #expect(scan.worktrees == 1)
        #expect(scan.files == 3, "the log, the component log and the result file; not the database")
    }

    @Test("the same places with nothing secret in them: no findings")
    func clean() async throws {
        let f = try SecretFixture(secrets: false)
        let scan = await SecretGuard(stateDir: f.stateDir, redactor: Redactor()).run()
        #expect(scan.findings.isEmpty, "\(scan.findings)")
        #expect(scan.unreadable.isEmpty, "\(scan.unreadable)")
        #expect(scan.archives == 1 && scan.worktrees == 1)
    }

    @Test("configured secret values are looked for too; binary files are skipped")
    func configuredValuesAndBinary() async throws {
        let dir = try TemporaryDirectory(prefix: "nightshift-guard")
        try dir.write("line one\nthe value literal-value-123 leaked\n", to: "exports/report.csv")
        var binary = Data("literal-value-123".utf8)
        binary.append(contentsOf: [0, 1, 2])
        try binary.write(to: dir.url.appendingPathComponent("blob.bin"))
        let scan = await SecretGuard(stateDir: dir.path, redactor: Redactor(secretValues: ["literal-value-123"])).run()
        #expect(scan.findings == [SecretFinding(file: "exports/report.csv", line: 2, rule: .configuredValue, masked: "****")])
        #expect(scan.files == 1)
    }

    @Test("an archive that is not gzip'd tar is reported as unreadable, not skipped")
    func badArchive() async throws {
        let dir = try TemporaryDirectory(prefix: "nightshift-guard")
        try dir.write("not an archive\n", to: "runs/r1/run.tar.gz")
        let scan = await SecretGuard(stateDir: dir.path, redactor: Redactor()).run()
        #expect(scan.unreadable.count == 1)
        #expect(scan.unreadable.first?.hasPrefix("runs/r1/run.tar.gz: ") == true, "\(scan.unreadable)")
    }

    @Test(
        "the tar reader gives the same files whatever the chunk size, with long names (GNU and pax)", arguments: ["gnu", "posix"])
    func tarChunks(_ format: String) throws {
        let dir = try TemporaryDirectory(prefix: "nightshift-tar")
        let long = String(repeating: "deep/", count: 30) + "file.txt"
        try dir.write("first\nsecond line\n", to: "src/" + long)
        try dir.write(String(repeating: "x", count: 1500) + "\n", to: "src/big.txt")
        try dir.write("", to: "src/empty.txt")
        let archive = dir.path("a.tar")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["tar", "--format=\(format)", "-cf", archive, "-C", dir.path("src"), "."]
        try p.runSerialized()
        p.waitUntilExit()
        try #require(p.terminationStatus == 0)
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: archive)))
        var reference: [String: String]?
        for chunk in [1, 7, 511, 512, 4096, bytes.count] {
            var files: [String: [UInt8]] = [:]
            var current = ""
            var tar = TarStream(
                onFile: {
                    current = $0
                    files[$0] = []
                }, onData: { files[current, default: []] += $0 }, onEnd: {})
            var i = 0
            while i < bytes.count {
                let end = min(i + chunk, bytes.count)
                try bytes[i..<end].withUnsafeBufferPointer { try tar.feed($0) }
                i = end
            }
            try tar.finish()
            let text = files.mapValues { String(decoding: $0, as: UTF8.self) }
            #expect(text[long] == "first\nsecond line\n", "chunk \(chunk): \(text.keys.sorted())")
            #expect(text["big.txt"]?.count == 1501)
            #expect(text["empty.txt"] == "")
            if let reference { #expect(text == reference, "chunk \(chunk)") } else { reference = text }
        }
        var cut = TarStream(onFile: { _ in }, onData: { _ in }, onEnd: {})
        try bytes[0..<1000].withUnsafeBufferPointer { try cut.feed($0) }
        #expect(throws: TarStream.Failure.truncated) { try cut.finish() }
    }

    @Test("a diff's added lines are numbered as in the new file, hunk by hunk; removed lines are not read")
    func diffLines() {
        let diff = """
            diff --git a/a.env b/a.env
            --- a/a.env
            +++ b/a.env
            @@ -2,0 +3,2 @@
            +plain
            +PASSWORD=hunter22
            @@ -10 +12 @@
            -TOKEN=old-value-1
            +TOKEN=new-value-2
            diff --git a/gone.txt b/gone.txt
            --- a/gone.txt
            +++ /dev/null
            @@ -1 +0,0 @@
            -SECRET=deleted-one
            """
        let g = SecretGuard(stateDir: "/", redactor: Redactor())
        let found = g.scanDiff(Array(diff.utf8), under: "worktrees/w")
        #expect(found.map(\.location) == ["worktrees/w/a.env:4", "worktrees/w/a.env:12"])
        #expect(found.map(\.masked) == ["PASSWORD=****", "TOKEN=****"])
    }
}
