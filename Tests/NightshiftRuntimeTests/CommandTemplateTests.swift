import Foundation
import NightshiftCore
import NightshiftRuntime
import NightshiftTesting
import Testing

/// Shell quoting of template values, proven by a real `/bin/sh`.
@Suite("CommandTemplate")
struct CommandTemplateTests {
    static let nasty: [String] = [
        "plain",
        "",
        "it's a 'quoted' string",
        #"say "hi" \"there\""#,
        "$(echo pwned) and ${HOME} and $HOME",
        "`id` and `echo pwned`",
        "line one\nline two\n\nlast",
        "; rm -rf / # && || | > < &",
        "-n",
        "%s %d \\n \\\\",
        "*?[a-z] ~ ~root",
        "tab\there\r\nand unicode ✓ 日本",
        "'",
        "''\\'",
    ]

    @Test("shellQuote round-trips through /bin/sh for nasty strings", arguments: nasty)
    func roundTrip(_ text: String) throws {
        let out = try shellOutput("printf %s \(CommandTemplate.shellQuote(text))")
        #expect(String(decoding: out, as: UTF8.self) == text)
    }

    @Test("render substitutes every placeholder as one quoted argument")
    func render() throws {
        var task = AgentTask.make(id: "task_0123456789abcdef", type: .review, direction: "fix `it`; it's $(broken)\nplease")
        task.decision = "yes \"do\" it; $(rm -rf /)"
        let command = CommandTemplate.render(
            "printf '%s\\0' {direction} {task_id} {task_type} {decision} {direction}", task: task)
        let parts = try shellOutput(command).split(separator: 0, omittingEmptySubsequences: false).dropLast()
            .map { String(decoding: $0, as: UTF8.self) }
        #expect(parts == [task.direction, "task_0123456789abcdef", "review", "yes \"do\" it; $(rm -rf /)", task.direction])
    }

    @Test("render: no decision yet gives an empty argument, not a missing one")
    func renderNoDecision() throws {
        let task = AgentTask.make(direction: "d")
        let parts = try shellOutput(CommandTemplate.render("printf '[%s]' {decision} {direction}", task: task))
        #expect(String(decoding: parts, as: UTF8.self) == "[][d]")
    }

    @Test("the executor is the task's own, else the one for its type, else default")
    func executorName() {
        var config = NightshiftConfig()
        config.runner.executorFor = ["review": "reviewer"]
        #expect(CommandTemplate.executorName(for: .make(type: .impl, executor: "claude"), config: config) == "claude")
        #expect(CommandTemplate.executorName(for: .make(type: .review), config: config) == "reviewer")
        #expect(CommandTemplate.executorName(for: .make(type: .impl), config: config) == "default")
    }
}
