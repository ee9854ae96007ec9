import NightshiftCore
import Testing

/// `PhaseContract`: which required headings, patterns and files an output misses, named
/// exactly; and the validation the config reader applies to a contract's values.
@Suite("PhaseContract")
struct PhaseContractTests {
    static func summaryContract(headings: [String] = [], patterns: [String] = []) -> PhaseContract {
        PhaseContract(summary: .init(headings: headings, patterns: patterns))
    }

    static func missing(
        _ contract: PhaseContract, _ summary: String?, files: [String: PhaseContract.FileText] = [:]
    )
        -> [String]
    {
        contract.missing(summary: summary, files: files)
    }

    @Test(
        "a heading matches a heading line of the same level, ignoring case, spacing, a closing # run and up to 3 spaces of indent",
        arguments: [
            "## Verification", "## verification", "##   Verification   ", "## VERIFICATION\t", "## Verification ##",
            "   ## Verification", "##\tVerification",
        ])
    func headingMatches(line: String) {
        let text = "# Spec\n\nSome text.\n\(line)\nswift test\n"
        #expect(Self.missing(Self.summaryContract(headings: ["## Verification"]), text).isEmpty, "\(line)")
    }

    @Test(
        "a heading does not match another level, a longer title, text without a space after #, 4 spaces of indent, or a mention in prose",
        arguments: [
            "### Verification", "# Verification", "## Verification plan", "##Verification", "    ## Verification",
            "See ## Verification below", "Verification", "- ## Verification",
        ])
    func headingDoesNotMatch(line: String) {
        let text = "# Spec\n\(line)\n"
        #expect(
            Self.missing(Self.summaryContract(headings: ["## Verification"]), text) == [
                "heading \"## Verification\" in the summary"
            ], "\(line)")
    }

    @Test("a heading inside a fenced code block does not count; after the fence closes it does")
    func fencedCode() {
        let contract = Self.summaryContract(headings: ["## Risks"])
        #expect(Self.missing(contract, "```markdown\n## Risks\n```\n") == ["heading \"## Risks\" in the summary"])
        #expect(Self.missing(contract, "~~~\n## Risks\n~~~\n") == ["heading \"## Risks\" in the summary"])
        #expect(Self.missing(contract, "```\ncode\n```\n## Risks\n").isEmpty)
        // A ~~~ line inside a ``` fence does not close it.
        #expect(Self.missing(contract, "```\n~~~\n## Risks\n```\n") == ["heading \"## Risks\" in the summary"])
    }

    @Test("Windows line ends and a heading on the last line without a newline still match")
    func lineEnds() {
        let contract = Self.summaryContract(headings: ["## Risks", "## Known gaps"])
        #expect(Self.missing(contract, "intro\r\n## Risks\r\nnone\r\n## Known gaps").isEmpty)
    }

    @Test("every missing heading and pattern is named, in the contract's order; present ones are not")
    func namesEachMissingPart() {
        let contract = Self.summaryContract(
            headings: ["## Verification", "## Risks", "## Known gaps"], patterns: ["^Test plan:", "swift test"])
        let summary = "Did the thing.\n\n## Risks\nnone\n\nRan swift test."
        #expect(
            Self.missing(contract, summary) == [
                "heading \"## Verification\" in the summary", "heading \"## Known gaps\" in the summary",
                "pattern /^Test plan:/ in the summary",
            ])
        #expect(contract.check(summary: summary, files: [:]) == .unmet(Self.missing(contract, summary)))
        let complete = "## Verification\nTest plan: run it\n## Risks\n## Known gaps\nswift test"
        #expect(contract.check(summary: complete, files: [:]) == .met)
    }

    @Test("no summary at all misses every summary requirement")
    func noSummary() {
        let contract = Self.summaryContract(headings: ["## Verification"], patterns: ["."])
        #expect(
            Self.missing(contract, nil) == ["heading \"## Verification\" in the summary", "pattern /./ in the summary"])
    }

    @Test("patterns: ^ and $ match at every line, matching is case-sensitive unless (?i) says otherwise")
    func patterns() {
        let text = "first line\nTest plan: unit tests\nlast"
        #expect(Self.missing(Self.summaryContract(patterns: ["^Test plan:", "tests$", "^last$"]), text).isEmpty)
        #expect(Self.missing(Self.summaryContract(patterns: ["^test plan:"]), text) == ["pattern /^test plan:/ in the summary"])
        #expect(Self.missing(Self.summaryContract(patterns: ["(?i)^test plan:"]), text).isEmpty)
        #expect(Self.missing(Self.summaryContract(patterns: ["\\d+ tests? passed"]), "12 tests passed").isEmpty)
    }

    @Test("files: a missing file is named with each of its requirements; a directory is not a file; a present file is checked")
    func files() {
        let contract = PhaseContract(
            summary: .init(headings: ["## Verification"]),
            files: [
                .init(path: "docs/spec.md", requirements: .init(headings: ["## Risks"], patterns: ["^Test plan:"])),
                .init(path: "NOTES.md"),
                .init(path: "out"),
            ])
        let missing = contract.missing(
            summary: "## Verification\n",
            files: ["docs/spec.md": .text("# Spec\nTest plan: x\n"), "NOTES.md": .notFound, "out": .directory])
        #expect(
            missing == [
                "heading \"## Risks\" in docs/spec.md", "file NOTES.md (not found)", "file out (a directory, not a file)",
            ])
        let gone = contract.missing(summary: "## Verification\n", files: [:])
        #expect(
            gone == [
                "file docs/spec.md (not found)", "heading \"## Risks\" in docs/spec.md", "pattern /^Test plan:/ in docs/spec.md",
                "file NOTES.md (not found)", "file out (not found)",
            ])
        #expect(
            contract.check(
                summary: "## Verification",
                files: ["docs/spec.md": .text("## Risks\nTest plan: y"), "NOTES.md": .text(""), "out": .text("")])
                == .met)
    }

    @Test("the error is one line naming every missing part")
    func errorText() {
        let error = PhaseContract.error(
            phase: "spec", missing: ["heading \"## Verification\" in the summary", "file a.md (not found)"])
        #expect(
            error
                == "the spec output does not meet its contract; missing: heading \"## Verification\" in the summary; file a.md (not found)"
        )
        #expect(!error.contains("\n"))
    }

    @Test("an empty contract is met by anything")
    func emptyContract() {
        #expect(PhaseContract().isEmpty)
        #expect(PhaseContract().check(summary: nil, files: [:]) == .met)
        #expect(!Self.summaryContract(patterns: ["x"]).isEmpty)
        #expect(!PhaseContract(files: [.init(path: "a")]).isEmpty)
    }

    @Test("valid headings", arguments: ["# Title", "## Verification", "###### Six", "## Known gaps", "## C#"])
    func validHeadings(heading: String) {
        #expect(PhaseContract.headingProblem(heading) == nil)
    }

    @Test(
        "invalid headings: no #, more than 6, no space, no title, several lines",
        arguments: ["Verification", "####### Seven", "##Verification", "##", "## ", "## A\n## B", ""])
    func invalidHeadings(heading: String) {
        #expect(PhaseContract.headingProblem(heading)?.contains("must be a Markdown heading") == true, "\(heading)")
    }

    @Test("patterns must compile and not be empty")
    func patternValidation() {
        #expect(PhaseContract.patternProblem("^## (Risks|Gaps)$") == nil)
        #expect(PhaseContract.patternProblem("(unclosed")?.contains("not a valid regular expression") == true)
        #expect(PhaseContract.patternProblem("[z-a]")?.contains("not a valid regular expression") == true)
        #expect(PhaseContract.patternProblem("") == "must not be empty")
    }

    @Test("file paths must be relative, inside the worktree, and name a file")
    func pathValidation() {
        for ok in ["docs/spec.md", "SPEC.md", "./docs/spec.md", "a/b/c.txt", ".nightshift/spec"] {
            #expect(PhaseContract.pathProblem(ok) == nil, "\(ok)")
        }
        #expect(PhaseContract.pathProblem("/etc/passwd")?.contains("relative") == true)
        #expect(PhaseContract.pathProblem("~/spec.md")?.contains("relative") == true)
        #expect(PhaseContract.pathProblem("../spec.md")?.contains("no \"..\"") == true)
        #expect(PhaseContract.pathProblem("docs/../../x")?.contains("no \"..\"") == true)
        #expect(PhaseContract.pathProblem("docs/")?.contains("must name a file") == true)
        #expect(PhaseContract.pathProblem("docs//spec.md")?.contains("must name a file") == true)
        #expect(PhaseContract.pathProblem(".")?.contains("must name a file") == true)
        #expect(PhaseContract.pathProblem("") == "must not be empty")
    }
}
