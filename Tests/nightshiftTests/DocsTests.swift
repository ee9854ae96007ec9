import Foundation
import NightshiftTesting
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// README's and RUNBOOK's examples checked against what the code prints and serves.
@Suite("docs match the code", .serialized, .timeLimit(.minutes(3)))
struct DocsTests {
    static let root = NightshiftBinary.packageRoot

    static func read(_ path: String) throws -> String {
        try String(contentsOf: root.appendingPathComponent(path), encoding: .utf8)
    }

    /// Every match of `pattern`'s first capture group in `text`.
    static func captures(_ pattern: String, in text: String) throws -> [String] {
        let regex = try NSRegularExpression(pattern: pattern, options: [.anchorsMatchLines])
        return regex.matches(in: text, range: NSRange(text.startIndex..., in: text)).compactMap { m in
            Range(m.range(at: 1), in: text).map { String(text[$0]) }
        }
    }

    @Test("the config-error example is what serve prints for that value at that line of config/nightshift.yaml")
    func configErrorExample() throws {
        let pattern =
            #"`(nightshift: config error: runner\.workers: must be a whole number, got "two" \(config/nightshift\.yaml:\d+\))`"#
        let readme = try Self.captures(pattern, in: try Self.read("README.md"))
        let runbook = try Self.captures(pattern, in: try Self.read("docs/RUNBOOK.md"))
        let example = try #require(readme.first, "README.md shows the example")
        #expect(runbook == [example], "RUNBOOK shows the same example")

        // The shipped config with runner.workers set to "two" on its own line, at the same path.
        var lines = try Self.read("config/nightshift.yaml").components(separatedBy: "\n")
        let runner = try #require(lines.firstIndex(of: "runner:"))
        let workers = try #require(lines[runner...].firstIndex { $0.trimmingCharacters(in: .whitespaces).hasPrefix("workers:") })
        lines[workers] = lines[workers].replacingOccurrences(
            of: #"workers:\s*\S+"#, with: "workers: two", options: .regularExpression)
        let dir = try TemporaryDirectory(prefix: "nightshift-docs")
        try dir.write(lines.joined(separator: "\n"), to: "config/nightshift.yaml")
        let r = try NightshiftBinary.run(["serve", "--config", "config/nightshift.yaml"], cwd: dir.url.path)
        #expect(r.status == 2)
        #expect(r.err == example + "\n")
    }

    @Test("the drain time the docs give is the one the daemon uses when it stops with an attempt running")
    func drainTime() async throws {
        // The number of seconds each text gives running attempts to finish.
        let serveHelp = try NightshiftBinary.run(["serve", "--help"], environment: ["COLUMNS": "400"]).out
        let texts = [
            "serve --help": serveHelp, "README.md": try Self.read("README.md"),
            "docs/RUNBOOK.md": try Self.read("docs/RUNBOOK.md"),
        ]
        var documented: Set<String> = []
        for (name, text) in texts {
            let found = try Self.captures(#"attempts\s+(?:get\s+)?up\s+to\s+(\d+)\s+s\s+to\s+finish"#, in: text)
            #expect(!found.isEmpty, "\(name) gives the drain time")
            documented.formUnion(found)
        }
        #expect(documented.count == 1, "\(documented)")

        // A daemon stopping with one attempt running says how long it will wait for it.
        let dir = try TemporaryDirectory(prefix: "nightshift-docs")
        let release = dir.path("release")
        let agent = try dir.write("while [ ! -f \"\(release)\" ]; do sleep 0.05; done\n", to: "agent.sh")
        let config = try dir.write(
            "runner: { executors: { default: { command: \"/bin/sh \(agent)\" } } }\nproject_manager: { backlog: \"\" }\n",
            to: "nightshift.yaml")
        let daemon = try DaemonProcess(stateDir: dir.path("state"), arguments: ["--config", config])
        #expect(await daemon.waitUntilReady(), "\(daemon.stderr)")
        let created = try NightshiftBinary.run(["tasks", "create", "--type", "impl", "wait", "--url", daemon.url])
        let id = try #require(created.out.split(separator: " ").dropFirst().first.map(String.init))
        #expect(
            await waitFor {
                (try? NightshiftBinary.run(["tasks", "show", id, "--json", "--url", daemon.url]).out.contains("\"running\""))
                    == true
            })
        daemon.signal(SIGTERM)
        let log = dir.path("state/agent_runner.log")
        var said: [String] = []
        #expect(
            await waitFor {
                said =
                    (try? Self.captures(
                        #"draining 1 running attempt\(s\) for up to (\d+)s"#, in: String(contentsOfFile: log, encoding: .utf8)))
                    ?? []
                return !said.isEmpty
            })
        _ = FileManager.default.createFile(atPath: release, contents: nil)
        #expect(await daemon.waitForExit() == 0)
        #expect(
            said.first.map { [$0] } == documented.first.map { [$0] }, "the runner drains for \(said), the docs say \(documented)")
    }

    @Test("every RUNBOOK section a script cites exists, with the step it names")
    func scriptCitationsResolve() throws {
        let runbook = try Self.read("docs/RUNBOOK.md")
        let headings = runbook.components(separatedBy: "\n").filter { $0.hasPrefix("## ") }.map { String($0.dropFirst(3)) }
        let scripts = try FileManager.default.contentsOfDirectory(atPath: Self.root.appendingPathComponent("scripts").path).filter
        { $0.hasSuffix(".sh") }
        var cited = 0
        for script in scripts {
            let text = try Self.read("scripts/" + script)
            let regex = try NSRegularExpression(pattern: #"RUNBOOK(?:\.md)? "([^"]+)"(?:, step (\d+))?"#)
            for m in regex.matches(in: text, range: NSRange(text.startIndex..., in: text)) {
                cited += 1
                let section = String(text[Range(m.range(at: 1), in: text)!])
                #expect(headings.contains(section), "\(script) cites RUNBOOK \"\(section)\", which has no such section")
                guard let stepRange = Range(m.range(at: 2), in: text), let step = Int(text[stepRange]) else { continue }
                let body =
                    runbook.components(separatedBy: "\n## " + section + "\n").dropFirst().first?.components(separatedBy: "\n## ")
                    .first ?? ""
                #expect(body.contains("\n\(step). "), "\(script) cites step \(step) of \"\(section)\"")
            }
        }
        #expect(cited >= 2, "the scripts cite the RUNBOOK (ensure_effective_pipeline.sh, run_overnight_pipeline.sh)")
    }

    @Test("the RUNBOOK's endpoints table lists exactly the operations of api/openapi.yaml")
    func endpointsTable() throws {
        let runbook = try Self.read("docs/RUNBOOK.md")
        let section = try #require(
            runbook.components(separatedBy: "\n## Endpoints\n").dropFirst().first?.components(separatedBy: "\n## ").first)
        let table = Set(try Self.captures(#"^\| `((?:GET|POST|PATCH|PUT|DELETE) /[^`]*)` \|"#, in: section))
        // The contract's operations: a path at two spaces, its methods at four.
        var contract: Set<String> = []
        var path = ""
        for line in try Self.read("api/openapi.yaml").components(separatedBy: "\n") {
            if line.hasPrefix("  /"), line.hasSuffix(":"), !line.hasPrefix("   ") { path = String(line.dropFirst(2).dropLast()) }
            for method in ["get", "post", "patch", "put", "delete"] where !path.isEmpty && line == "    \(method):" {
                contract.insert("\(method.uppercased()) \(path)")
            }
            if line.hasPrefix("components:") { path = "" }
        }
        #expect(contract.count >= 20, "read the contract: \(contract)")
        #expect(
            table.subtracting(contract).isEmpty, "in the RUNBOOK but not the contract: \(table.subtracting(contract).sorted())")
        #expect(
            contract.subtracting(table).isEmpty, "in the contract but not the RUNBOOK: \(contract.subtracting(table).sorted())")
    }
}
