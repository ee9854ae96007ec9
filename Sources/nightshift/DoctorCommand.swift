import ArgumentParser
import Foundation
import NightshiftCore
import NightshiftRuntime

/// The preflight's knobs, shared by `doctor`, `watchdog` and `run`.
struct PreflightOptions: ParsableArguments {
    @Option(help: "Profile the budget is judged by: dev, stage or prod (prod needs --budget of at least 0.10 USD).")
    var profile: String = "dev"

    @Option(help: "The night's budget in USD, judged against the profile.")
    var budget: Double?

    @Flag(help: "Do not run the executors' smoke commands (they cost a little with a real agent).")
    var noSmoke = false

    func validate() throws {
        guard Doctor.profiles.contains(profile) else {
            throw ValidationError("--profile must be one of \(Doctor.profiles.joined(separator: ", ")), got \"\(profile)\"")
        }
        if let budget, !(budget.isFinite && budget >= 0) {
            throw ValidationError("--budget must be a number of USD, 0 or more, got \(budget)")
        }
    }

    var doctorOptions: Doctor.Options {
        var o = Doctor.Options()
        o.profile = profile
        o.budgetUSD = budget
        o.smoke = !noSmoke
        return o
    }
}

/// `nightshift doctor`: the preflight, one line a check.
struct DoctorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Check, before the night, that everything it needs is there; exit 2 when a check fails.",
        discussion: """
            One line a check, PASS/WARN/FAIL/SKIP, what was checked and how to fix it: each executor the \
            backlog's phases use (its binary is found and answers --version; a script it runs exists), \
            each executor's smoke_command when one is set (a failure says whether the provider refused \
            the credentials (401/403), is rate limiting (429), the usage limit is reached, or it is \
            overloaded (529)), the backlog parses, the workspace is a clean git repository, the state \
            dir is writable with room, the budget suits --profile, every webhook and the Telegram \
            bot (getMe) answer, and the log LLM endpoint (logs.llm.base_url, when set) answers. The watchdog runs the same checks before its first start. Output of the \
            runs is kept in <state_dir>/doctor/. Exit 0 = no FAIL (warnings allowed), 2 = a FAIL or bad usage.
            """)

    @Option(
        name: .long,
        help: "Config file (default: $NIGHTSHIFT_CONFIG, else config/nightshift.yaml when present, else built-in defaults).")
    var config: String?

    @Option(name: .long, help: "State dir to check (overrides state_dir).")
    var stateDir: String?

    @OptionGroup var preflight: PreflightOptions

    @Flag(help: "Print the checks as JSON.")
    var json = false

    func run() async throws {
        let report: Preflight.Report
        do {
            let loaded = try ConfigLoader.load(path: config, overrides: .init(stateDir: stateDir))
            report = await Doctor(
                config: loaded, paths: StatePaths(root: loaded.stateDir), options: preflight.doctorOptions
            ).run()
        } catch {
            report = Preflight.Report(checks: [
                Preflight.Check(.fail, "config", "\(error)", fix: "fix the key named; nothing can start with this config")
            ])
        }
        if json {
            print(String(decoding: try JSONEncoder.nightshift(pretty: true).encode(report), as: UTF8.self))
        } else {
            print(report.render())
        }
        if !report.passed { throw ExitCode(2) }
    }
}
