import Foundation
import NightshiftCore
import NightshiftStore
import NightshiftTesting
import Testing

@testable import NightshiftRuntime

/// `OutputContract`: which tasks a contract applies to, how the runner reads the contract's
/// files from a worktree, and the outcome it records.
@Suite("OutputContract")
struct OutputContractTests {
    static let contract = PhaseContract(
        summary: .init(headings: ["## Verification"]),
        files: [.init(path: "docs/spec.md", requirements: .init(headings: ["## Risks"]))])

    static func config(_ contracts: [String: PhaseContract]) -> NightshiftConfig {
        var c = NightshiftConfig()
        c.projectManager.contracts = contracts
        return c
    }

    @Test("only pipeline tasks of a phase with a non-empty contract are checked")
    func whichTasks() {
        let config = Self.config(["spec": Self.contract, "impl": PhaseContract()])
        let spec = AgentTask.make(type: .spec, backlogItem: "1", phase: "spec", iteration: 1)
        #expect(OutputContract.contract(for: spec, config: config) == Self.contract)
        let adHoc = AgentTask.make(type: .spec)
        #expect(OutputContract.contract(for: adHoc, config: config) == nil, "a task outside the pipeline has no phase contract")
        let impl = AgentTask.make(type: .impl, backlogItem: "1", phase: "impl", iteration: 1)
        #expect(OutputContract.contract(for: impl, config: config) == nil, "an empty contract is none")
        #expect(OutputContract.contract(for: spec, config: NightshiftConfig()) == nil, "the default has none")
    }

    @Test("reading contract files: a file's text, a missing file, a directory")
    func reading() throws {
        let dir = try TemporaryDirectory(prefix: "nightshift-contract")
        try dir.write("## Risks\nnone\n", to: "docs/spec.md")
        try FileManager.default.createDirectory(atPath: dir.path("out"), withIntermediateDirectories: true)
        #expect(OutputContract.read("docs/spec.md", in: dir.path) == .text("## Risks\nnone\n"))
        #expect(OutputContract.read("./docs/spec.md", in: dir.path) == .text("## Risks\nnone\n"))
        #expect(OutputContract.read("docs/other.md", in: dir.path) == .notFound)
        #expect(OutputContract.read("out", in: dir.path) == .directory)
    }

    @Test("met: the outcome stays completed and says so; unmet: failed with contract_unmet, not retried, the parts named")
    func outcomes() throws {
        let dir = try TemporaryDirectory(prefix: "nightshift-contract")
        let completed = AttemptOutcome(.completed, exitCode: 0, summary: "## Verification\nswift test")
        let notYet = OutputContract.apply(Self.contract, to: completed, phase: "spec", workdir: dir.path)
        let missing = ["file docs/spec.md (not found)", "heading \"## Risks\" in docs/spec.md"]
        #expect(notYet.contract == .unmet(missing))
        #expect(
            notYet.kind
                == .failed(
                    errorClass: .contractUnmet, error: PhaseContract.error(phase: "spec", missing: missing), retryDelay: nil))
        #expect(notYet.summary == completed.summary && notYet.exitCode == 0, "the rest of the outcome is kept")

        try dir.write("# Spec\n\n## Risks\nnone\n", to: "docs/spec.md")
        let met = OutputContract.apply(Self.contract, to: completed, phase: "spec", workdir: dir.path)
        #expect(met.kind == .completed)
        #expect(met.contract == .met)
    }
}
