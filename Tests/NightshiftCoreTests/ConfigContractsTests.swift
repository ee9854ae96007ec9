import NightshiftCore
import Testing

/// `project_manager.contracts`: the shape, and every bad contract stopping startup with the
/// key's path, the reason and (for a value) its line.
@Suite("config: project_manager.contracts")
struct ConfigContractsTests {
    /// The error loading `yaml` throws (parse, then validate), or nil.
    func loadError(_ yaml: String) -> ConfigError? {
        do {
            try ConfigLoader.validate(try ConfigLoader.parse(yaml: yaml, file: "test.yaml"))
            return nil
        } catch {
            return error
        }
    }

    @Test("the default is no contracts")
    func defaultNone() throws {
        #expect(NightshiftConfig().projectManager.contracts.isEmpty)
        #expect(try ConfigLoader.parse(yaml: "project_manager:\n  contracts: {}\n").projectManager.contracts.isEmpty)
    }

    @Test("summary headings and patterns, and files with their own, in the order written")
    func parses() throws {
        let c = try ConfigLoader.parse(
            yaml: """
                project_manager:
                  contracts:
                    spec:
                      summary:
                        headings: ["## Verification", "## Risks", "## Known gaps"]
                        patterns: ["^Test plan:"]
                      files:
                        docs/spec.md: { headings: ["## Risks"] }
                        NOTES.md:
                        out/report.txt: { patterns: ['\\d+ passed'] }
                    review:
                      summary: { patterns: ["(?i)verdict"] }
                """)
        let contracts = c.projectManager.contracts
        #expect(contracts.keys.sorted() == ["review", "spec"])
        #expect(
            contracts["spec"]
                == PhaseContract(
                    summary: .init(headings: ["## Verification", "## Risks", "## Known gaps"], patterns: ["^Test plan:"]),
                    files: [
                        .init(path: "docs/spec.md", requirements: .init(headings: ["## Risks"])),
                        .init(path: "NOTES.md"),
                        .init(path: "out/report.txt", requirements: .init(patterns: ["\\d+ passed"])),
                    ]))
        #expect(contracts["review"] == PhaseContract(summary: .init(patterns: ["(?i)verdict"])))
        #expect(throws: Never.self) { try ConfigLoader.validate(c) }
    }

    @Test("a contract for a phase that is not in phases names the key and the phases")
    func unknownPhase() throws {
        let error = try #require(loadError("project_manager:\n  contracts:\n    deploy: { summary: { headings: [\"## X\"] } }\n"))
        #expect(error.path == "project_manager.contracts.deploy")
        #expect(error.reason == "not a phase (phases: spec, impl, test, review)")
        // heal is a task type, but not a phase.
        #expect(loadError("project_manager:\n  contracts: { heal: {} }\n")?.path == "project_manager.contracts.heal")
    }

    @Test("verify may have a contract when verify_command adds the phase, not otherwise")
    func verifyPhase() {
        #expect(loadError("project_manager:\n  contracts: { verify: {} }\n")?.path == "project_manager.contracts.verify")
        #expect(loadError("project_manager:\n  verify_command: make check\n  contracts: { verify: {} }\n") == nil)
    }

    @Test("an invalid regular expression names the entry and its line")
    func invalidPattern() throws {
        let error = try #require(
            loadError(
                """
                project_manager:
                  contracts:
                    spec:
                      summary:
                        patterns:
                          - "^ok"
                          - "(unclosed"
                """))
        #expect(error.path == "project_manager.contracts.spec.summary.patterns[1]")
        #expect(error.reason.hasPrefix("is not a valid regular expression"))
        #expect(error.location == "test.yaml:7")
    }

    @Test("a heading that is not a Markdown heading names the entry")
    func badHeading() throws {
        let error = try #require(
            loadError("project_manager:\n  contracts:\n    spec:\n      summary: { headings: [\"Verification\"] }\n"))
        #expect(error.path == "project_manager.contracts.spec.summary.headings[0]")
        #expect(error.reason.contains("must be a Markdown heading like \"## Verification\""))
        #expect(error.location == "test.yaml:4")
    }

    @Test(
        "a file path that is absolute, leaves the worktree or names no file is refused with its key and line",
        arguments: [
            ("/etc/spec.md", "must be relative to the item's worktree"), ("../spec.md", "no \"..\""),
            ("docs/../../spec.md", "no \"..\""), ("docs/", "must name a file"),
        ])
    func badPath(path: String, reason: String) throws {
        let error = try #require(
            loadError("project_manager:\n  contracts:\n    spec:\n      files:\n        \"\(path)\": {}\n"))
        #expect(error.path == "project_manager.contracts.spec.files.\(path)")
        #expect(error.reason.contains(reason), "\(error.reason)")
        #expect(error.location == "test.yaml:5")
    }

    @Test(
        "wrong types and unknown keys name their path",
        arguments: [
            ("project_manager:\n  contracts: [spec]\n", "project_manager.contracts", "must be a mapping"),
            (
                "project_manager:\n  contracts:\n    spec: \"## Verification\"\n", "project_manager.contracts.spec",
                "must be a mapping"
            ),
            (
                "project_manager:\n  contracts:\n    spec: { summary: { headings: \"## Verification\" } }\n",
                "project_manager.contracts.spec.summary.headings", "must be a list"
            ),
            (
                "project_manager:\n  contracts:\n    spec: { summary: { headings: [[\"## A\"]] } }\n",
                "project_manager.contracts.spec.summary.headings[0]", "must be text"
            ),
            (
                "project_manager:\n  contracts:\n    spec: { files: [docs/spec.md] }\n", "project_manager.contracts.spec.files",
                "must be a mapping"
            ),
            (
                "project_manager:\n  contracts:\n    spec: { headings: [\"## A\"] }\n", "project_manager.contracts.spec.headings",
                "unknown key"
            ),
            (
                "project_manager:\n  contracts:\n    spec: { summary: { heading: [\"## A\"] } }\n",
                "project_manager.contracts.spec.summary.heading", "unknown key"
            ),
            (
                "project_manager:\n  contracts:\n    spec: { summary: { patterns: [\"\"] } }\n",
                "project_manager.contracts.spec.summary.patterns[0]", "must not be empty"
            ),
        ])
    func wrongShapes(yaml: String, path: String, reason: String) throws {
        let error = try #require(loadError(yaml))
        #expect(error.path == path)
        #expect(error.reason.contains(reason), "\(error.reason)")
    }

    @Test("a bad contract stops loading with the key, like any config error")
    func stopsLoad() throws {
        let error = try #require(
            loadError(
                "project_manager:\n  phases: [spec, impl]\n  contracts:\n    review: { summary: { headings: [\"## R\"] } }\n"))
        #expect(error.description == "config error: project_manager.contracts.review: not a phase (phases: spec, impl)")
    }
}
