import Foundation
import NightshiftTesting
import Testing

/// Bad usage and `--help` through the real binary: one exit code for bad usage everywhere (the
/// one `gate --help` and `nightshift --help` document), and help texts whose sentences are not
/// broken by hard line breaks.
@Suite("usage and help")
struct UsageTests {
    /// Every command, as typed.
    static let commands: [[String]] = [
        [], ["serve"], ["watchdog"], ["status"], ["tasks"], ["tasks", "list"], ["tasks", "show"], ["tasks", "create"],
        ["tasks", "decide"], ["tasks", "cancel"], ["tasks", "retry"], ["tasks", "log"], ["pm"], ["pm", "status"],
        ["pm", "pause"],
        ["pm", "resume"], ["issues"], ["fatal"], ["gate"], ["bench"], ["bench", "store"], ["bench", "runner"],
        ["bench", "monitor"],
        ["bench", "watchdog"],
    ]

    /// The exit code a help text documents for bad usage ("2 = bad usage").
    static func documentedUsageCode(_ help: String) -> Int32? {
        guard let r = help.range(of: #"(\d+) = bad usage"#, options: .regularExpression) else { return nil }
        return Int32(help[r].prefix { $0.isNumber })
    }

    @Test("usage errors exit with the code gate --help and nightshift --help document, in one line naming the help to read")
    func usageErrorsAgreeWithHelp() throws {
        let gateHelp = try NightshiftBinary.run(["gate", "--help"], environment: ["COLUMNS": "300"])
        #expect(gateHelp.status == 0)
        let documented = try #require(
            Self.documentedUsageCode(gateHelp.out), "gate --help names its bad-usage code: \(gateHelp.out)")
        #expect(Self.documentedUsageCode(try NightshiftBinary.run(["--help"], environment: ["COLUMNS": "300"]).out) == documented)

        let cases: [([String], String)] = [
            (["gate", "--bogus"], "nightshift: unknown option '--bogus' (see: nightshift gate --help)"),
            (["tasks", "show"], "nightshift: missing expected argument '<id>' (see: nightshift tasks show --help)"),
            (
                ["tasks", "list", "--limit", "many"],
                "nightshift: the value 'many' is invalid for '--limit <limit>' (see: nightshift tasks list --help)"
            ),
            (["frobnicate"], "nightshift: unexpected argument 'frobnicate' (see: nightshift --help)"),
            (["fatal", "--url"], "nightshift: missing value for '--url <url>' (see: nightshift fatal --help)"),
        ]
        for (args, line) in cases {
            let r = try NightshiftBinary.run(args)
            #expect(r.status == documented, "\(args): \(r.err)")
            #expect(r.err == line + "\n", "\(args)")
            #expect(r.out.isEmpty)
        }
        // A usage failure found by a command itself exits the same way.
        let badID = try NightshiftBinary.run(["tasks", "show", "nope", "--url", "http://127.0.0.1:9"])
        #expect(badID.status == documented)
    }

    @Test("--help and --version succeed")
    func helpSucceeds() throws {
        for args in Self.commands {
            let r = try NightshiftBinary.run(args + ["--help"])
            #expect(r.status == 0, "\(args)")
            #expect(r.out.contains("USAGE: nightshift"), "\(args)")
        }
        #expect(try NightshiftBinary.run(["--version"]).status == 0)
    }

    /// Lines of the overview and discussion that end mid-sentence although the terminal is wide
    /// enough for the whole paragraph: a hard line break in the source text.
    static func brokenLines(_ help: String) -> [String] {
        let prose = help.components(separatedBy: "\n").prefix { !$0.hasPrefix("USAGE:") }
        var broken: [String] = []
        for (line, next) in zip(prose, prose.dropFirst()) where !line.isEmpty && !next.isEmpty {
            guard let last = line.last, !".:!?)".contains(last) else { continue }
            broken.append(line)
        }
        return broken
    }

    @Test("help texts do not break mid-sentence: each paragraph is one line on a wide terminal")
    func helpParagraphsAreWhole() throws {
        for args in Self.commands {
            let help = try NightshiftBinary.run(args + ["--help"], environment: ["COLUMNS": "5000"]).out
            let broken = Self.brokenLines(help)
            #expect(broken.isEmpty, "nightshift \(args.joined(separator: " ")) --help: \(broken)")
        }
    }
}
