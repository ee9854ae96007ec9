import Foundation
import NightshiftTesting
import Testing

/// `nightshift guard` as a real process over a real state dir (plain files, a tar.gz made by
/// tar, a git worktree with uncommitted changes).
@Suite("guard command", .serialized)
struct GuardCommandTests {
    @Test("planted secrets: each printed as file:line with its rule and the value masked, exit 1")
    func findsPlanted() throws {
        let f = try SecretFixture()
        let r = try NightshiftBinary.run(["guard", "--state-dir", f.stateDir])
        #expect(r.status == 1, "\(r.out) \(r.err)")
        let lines = r.out.split(separator: "\n").map(String.init)
        for p in SecretFixture.planted {
            #expect(lines.contains("\(f.stateDir)/\(p.location): \(p.rule): \(p.masked)"), "\(p.location) in:\n\(r.out)")
        }
        #expect(lines.last?.hasPrefix("guard: 4 secret(s) in 4 file(s) under \(f.stateDir)") == true, "\(r.out)")
        for value in SecretFixture.values {
            #expect(!r.out.contains(value) && !r.err.contains(value), "\(value) is never printed")
        }

        let json = try NightshiftBinary.run(["guard", "--state-dir", f.stateDir, "--json"])
        #expect(json.status == 1)
        let body = try #require(try JSONSerialization.jsonObject(with: Data(json.out.utf8)) as? [String: Any])
        let findings = try #require(body["findings"] as? [[String: Any]])
        #expect(findings.map { $0["rule"] as? String ?? "" } == SecretFixture.planted.map(\.rule))
        #expect(findings.first?["member"] as? String == "reports/session_report.md")
        #expect(findings.first?["file"] as? String == "runs/2026-12-01/run.tar.gz")
        #expect(findings.first?["line"] as? Int == 2)
        #expect(body["worktrees"] as? Int == 1 && body["archives"] as? Int == 1)
    }

    @Test("a clean state dir: says so, exit 0")
    func clean() throws {
        let f = try SecretFixture(secrets: false)
        let r = try NightshiftBinary.run(["guard", "--state-dir", f.stateDir])
        #expect(r.status == 0, "\(r.out) \(r.err)")
        #expect(
            r.out.hasPrefix("guard: no secrets found in \(f.stateDir) (3 file(s), 2 file(s) in 1 archive(s), 1 worktree(s))"),
            "\(r.out)")
    }

    @Test("the config's secret values are looked for: redact_env read from the environment")
    func configuredValue() throws {
        let dir = try TemporaryDirectory(prefix: "nightshift-guard")
        let state = dir.path("state")
        try dir.write("exported literal-value-123 here\n", to: "state/exports/out.csv")
        let config = try dir.write("runner: { redact_env: [GUARD_TEST_SECRET] }\n", to: "nightshift.yaml")
        let r = try NightshiftBinary.run(
            ["guard", "--state-dir", state, "--config", config], environment: ["GUARD_TEST_SECRET": "literal-value-123"])
        #expect(r.status == 1, "\(r.out) \(r.err)")
        #expect(r.out.contains("\(state)/exports/out.csv:1: configured_value: ****"), "\(r.out)")
        #expect(!r.out.contains("literal-value-123"))
    }

    @Test("bad usage: one line, exit 2")
    func badUsage() throws {
        let dir = try TemporaryDirectory(prefix: "nightshift-guard")
        for args in [
            ["guard", "--state-dir", dir.path("missing")], ["guard", "--no-such-flag"],
            ["guard", "--state-dir", dir.path, "--config", dir.path("missing.yaml")],
        ] {
            let r = try NightshiftBinary.run(args)
            #expect(r.status == 2, "\(args): \(r.out) \(r.err)")
            #expect(r.err.hasPrefix("nightshift: ") && r.err.split(separator: "\n").count == 1, "\(args): \(r.err)")
        }
    }
}
