import Foundation

/// The preflight (`nightshift doctor`, the watchdog's first start): is everything the night
/// needs there, before the first task? Each check is judged here from facts gathered elsewhere
/// (a binary's path, an exit status and its output, a free-space figure, an HTTP status), so
/// the judgement is tested without I/O. A FAIL stops the start (exit 2).
public enum Preflight {
    public enum Status: String, Codable, Sendable, Comparable {
        case pass = "PASS"
        case warn = "WARN"
        case fail = "FAIL"
        /// Not configured, so not checked.
        case skip = "SKIP"

        var rank: Int { [.skip: 0, .pass: 1, .warn: 2, .fail: 3][self] ?? 0 }
        public static func < (a: Status, b: Status) -> Bool { a.rank < b.rank }
    }

    /// One check: what was checked, what was found, and how to fix it.
    public struct Check: Codable, Sendable, Equatable {
        public var status: Status
        /// e.g. `executor default`, `state_dir`, `webhook https://…`.
        public var name: String
        public var detail: String
        /// What to do; set for WARN and FAIL.
        public var fix: String?
        /// The provider's answer told apart, when a smoke command failed on it.
        public var providerFailure: ProviderFailure?

        enum CodingKeys: String, CodingKey {
            case status, name, detail, fix
            case providerFailure = "provider_failure"
        }

        public init(
            _ status: Status, _ name: String, _ detail: String, fix: String? = nil, providerFailure: ProviderFailure? = nil
        ) {
            self.status = status
            self.name = name
            self.detail = detail
            self.fix = fix
            self.providerFailure = providerFailure
        }
    }

    public struct Report: Codable, Sendable, Equatable {
        public var checks: [Check]
        public var passed: Bool
        public var failures: Int
        public var warnings: Int

        public init(checks: [Check]) {
            self.checks = checks
            failures = checks.filter { $0.status == .fail }.count
            warnings = checks.filter { $0.status == .warn }.count
            passed = failures == 0
        }

        /// One line a check (`FAIL  executor claude  claude not found on PATH — fix: …`), then a
        /// verdict line.
        public func render() -> String {
            let width = min(30, checks.map(\.name.count).max() ?? 0)
            var lines = checks.map { c in
                var line =
                    "\(c.status.rawValue)  \(c.name.padding(toLength: max(width, c.name.count), withPad: " ", startingAt: 0))  \(c.detail)"
                if let fix = c.fix, c.status == .warn || c.status == .fail { line += " — fix: \(fix)" }
                return line
            }
            lines.append(
                passed
                    ? "preflight: PASS" + (warnings > 0 ? " with \(warnings) warning(s)" : "")
                    : "preflight: FAIL (\(failures) check(s) failing)")
            return lines.joined(separator: "\n")
        }
    }

    // MARK: - Executors

    /// The program an executor's command runs first, and the script it hands to an interpreter
    /// (`bash scripts/demo_agent.sh {direction}` → `bash`, `scripts/demo_agent.sh`). Leading
    /// `VAR=value` words, `env`, `exec`, `nice` and `nohup` are skipped. Nil for an empty command.
    public static func program(of command: String) -> (program: String, script: String?)? {
        var words = shellWords(command)[...]
        while let w = words.first, isAssignment(w) || ["env", "exec", "nice", "nohup", "command"].contains(w) {
            words = words.dropFirst()
        }
        guard let program = words.first else { return nil }
        let interpreters: Set<String> = ["bash", "sh", "zsh", "dash", "python", "python3", "node", "ruby", "perl", "deno", "bun"]
        let name = (program as NSString).lastPathComponent
        var script: String?
        if interpreters.contains(name), let next = words.dropFirst().first, !next.hasPrefix("-"), !next.contains("{") {
            script = next
        }
        return (program, script)
    }

    /// Splits a command line into words the way a POSIX shell quotes them (single and double
    /// quotes, backslashes); stops at the first operator (`|`, `;`, `&`, `<`, `>`).
    static func shellWords(_ command: String) -> [String] {
        var words: [String] = []
        var current = ""
        var inWord = false
        var quote: Character?
        var escaped = false
        for ch in command {
            if escaped {
                current.append(ch)
                escaped = false
                continue
            }
            if let q = quote {
                if ch == q {
                    quote = nil
                } else if ch == "\\" && q == "\"" {
                    escaped = true
                } else {
                    current.append(ch)
                }
                continue
            }
            switch ch {
            case "'", "\"":
                quote = ch
                inWord = true
            case "\\":
                escaped = true
                inWord = true
            case " ", "\t", "\n":
                if inWord { words.append(current) }
                current = ""
                inWord = false
            case "|", ";", "&", "<", ">", "(", ")":
                if inWord { words.append(current) }
                return words
            default:
                current.append(ch)
                inWord = true
            }
        }
        if inWord { words.append(current) }
        return words
    }

    static func isAssignment(_ word: String) -> Bool {
        guard let eq = word.firstIndex(of: "="), eq != word.startIndex else { return false }
        return word[..<eq].allSatisfy { $0 == "_" || $0.isLetter || $0.isNumber }
    }

    /// The arguments that show a program runs without doing anything: `--version`, except for
    /// the POSIX shells that have none.
    public static func probeArguments(for program: String) -> String {
        ["sh", "dash", "ash"].contains((program as NSString).lastPathComponent) ? "-c true" : "--version"
    }

    /// What became of `<program> --version` (or `probeArguments`).
    public enum VersionRun: Sendable, Equatable {
        /// Not run: a script of the project, which may not know `--version` and would start work.
        case notRun
        case exited(Int32, output: String, arguments: String)
        case failedToRun(String)
    }

    /// The executor's binary: found, executable, and answering `--version`.
    public static func executor(
        name: String, command: String, resolved: String?, script: (path: String, exists: Bool)?, version: VersionRun
    ) -> Check {
        let label = "executor \(name)"
        guard let prog = program(of: command) else {
            return Check(.fail, label, "runner.executors.\(name).command is empty", fix: "set the command that runs the agent")
        }
        guard let path = resolved else {
            let whereTo =
                prog.program.contains("/")
                ? "\(prog.program) does not exist or is not executable"
                : "\(prog.program) is not on PATH"
            return Check(
                .fail, label, whereTo,
                fix:
                    "install \(prog.program), or set runner.executors.\(name).command to its full path (or PATH in runner.executors.\(name).env)"
            )
        }
        if let script, !script.exists {
            return Check(
                .fail, label, "\(prog.program) is found at \(path) but its script \(script.path) does not exist",
                fix: "commit the script to the workspace, or fix runner.executors.\(name).command")
        }
        let scriptNote = script.map { ", script \($0.path)" } ?? ""
        switch version {
        case .notRun:
            return Check(.pass, label, "\(path) is executable\(scriptNote) (not run: a script of the project)")
        case .failedToRun(let why):
            return Check(.fail, label, "\(path) does not run: \(why)", fix: "reinstall \(prog.program) or check its permissions")
        case .exited(let status, let output, let arguments):
            let first = firstLine(output)
            if status == 0 {
                return Check(.pass, label, "\(path)\(scriptNote): \(first.isEmpty ? "runs" : first)")
            }
            if status == 126 || status == 127 {
                return Check(
                    .fail, label, "\(path) \(arguments) exited \(status): \(first)",
                    fix: "reinstall \(prog.program); it cannot start (missing interpreter or library?)")
            }
            return Check(
                .warn, label, "\(path) \(arguments) exited \(status)\(first.isEmpty ? "" : ": \(first)")",
                fix: "check that \(prog.program) runs by hand; it may not know \(arguments)")
        }
    }

    /// How a smoke command ended.
    public enum SmokeEnd: Sendable, Equatable {
        case exited(Int32)
        case signaled(Int32)
        case timedOut(Double)
        case failedToRun(String)
    }

    /// The executor's `smoke_command` (a cheap real request, e.g. a one-line authenticated prompt).
    public static func smoke(name: String, command: String, end: SmokeEnd, output: String, log: String) -> Check {
        let label = "smoke \(name)"
        guard !command.isEmpty else {
            return Check(
                .skip, label, "no runner.executors.\(name).smoke_command (an authenticated one-line prompt costs a few cents)")
        }
        let failure = ProviderFailure.classify(output)
        let tail = lastLine(output)
        let seeLog = " (output: \(log))"
        switch end {
        case .exited(0):
            // A zero exit that still printed a usage limit or rate limit means the night would stall.
            if let failure, failure != .authentication {
                return Check(
                    .warn, label, "passed, but said: \(tail)", fix: failure.fix(executor: name), providerFailure: failure)
            }
            return Check(.pass, label, "passed" + (tail.isEmpty ? "" : ": \(tail)"))
        case .exited(let status):
            let what = "exited \(status)" + (tail.isEmpty ? "" : ": \(tail)") + seeLog
            guard let failure else {
                return Check(.fail, label, what, fix: "run the smoke command by hand and fix what it prints")
            }
            return Check(
                failure == .authentication ? .fail : .warn, label, "\(failure.rawValue): \(what)",
                fix: failure.fix(executor: name),
                providerFailure: failure)
        case .signaled(let signal):
            return Check(.fail, label, "killed by signal \(signal)\(seeLog)", fix: "run the smoke command by hand")
        case .timedOut(let seconds):
            return Check(
                .fail, label, "no answer within \(ConfigValues.formatDuration(seconds))\(seeLog)",
                fix: "check the network and the provider's status (a proxy? DNS?), then run the smoke command by hand")
        case .failedToRun(let why):
            return Check(.fail, label, "could not start: \(why)", fix: "fix runner.executors.\(name).smoke_command")
        }
    }

    // MARK: - Files and money

    /// The state dir must take writes and have room for the night's logs: below this it fails;
    /// below `monitor.thresholds.disk_min_free` (where the monitor raises an issue) it warns.
    public static let minimumFreeBytes: Int64 = 100 * 1024 * 1024

    public static func stateDir(path: String, writeError: String?, freeBytes: Int64?, warnBelow: Int64) -> Check {
        if let writeError {
            return Check(
                .fail, "state_dir", "\(path) is not writable: \(writeError)",
                fix: "make it writable by this user (chmod/chown), or point --state-dir / state_dir elsewhere")
        }
        guard let free = freeBytes else { return Check(.warn, "state_dir", "\(path) is writable; free space unknown") }
        let shown = formatBytes(free)
        if free < minimumFreeBytes {
            return Check(
                .fail, "state_dir", "\(path) is writable but only \(shown) free",
                fix: "free at least \(formatBytes(minimumFreeBytes)) (old runs, logs/) or use another disk")
        }
        if free < warnBelow {
            return Check(
                .warn, "state_dir",
                "\(path) is writable; \(shown) free, under monitor.thresholds.disk_min_free (\(formatBytes(warnBelow)))",
                fix: "free space: the monitor will raise a disk issue all night")
        }
        return Check(.pass, "state_dir", "\(path) is writable; \(shown) free")
    }

    /// The smallest budget the prod profile accepts.
    public static let prodMinimumBudget = 0.10

    /// A budget that makes sense for the profile: prod must have one of at least 0.10 USD.
    public static func budget(profile: String, usd: Double?) -> Check {
        switch (profile, usd) {
        case ("prod", nil):
            return Check(
                .fail, "budget", "profile prod has no budget",
                fix: "give --budget USD (at least \(formatUSD(prodMinimumBudget))) so a night cannot spend without limit")
        case ("prod", let b?) where b < prodMinimumBudget:
            return Check(
                .fail, "budget", "profile prod with a budget of \(formatUSD(b)) USD",
                fix: "the prod profile needs at least \(formatUSD(prodMinimumBudget)) USD")
        case ("stage", nil):
            return Check(.warn, "budget", "profile stage has no budget", fix: "give --budget USD to cap the night's spend")
        case (_, nil):
            return Check(.pass, "budget", "profile \(profile), no budget (fine for dev and demo agents)")
        case (_, let b?):
            return Check(.pass, "budget", "profile \(profile), budget \(formatUSD(b)) USD")
        }
    }

    // MARK: - Notifiers

    /// A webhook answered with `status`, or could not be reached (`error`). Any HTTP answer
    /// proves the address is reachable (a receiver may refuse HEAD); 5xx warns.
    public static func webhook(url: String, status: Int?, error: String?) -> Check {
        let label = "webhook \(redactedURL(url))"
        guard let status else {
            return Check(
                .fail, label, "unreachable: \(error ?? "no answer")",
                fix: "check notify.webhooks (address, port, DNS, proxy); alerts would be lost tonight")
        }
        if status >= 500 {
            return Check(.warn, label, "answered HTTP \(status)", fix: "the receiver is up but failing; check it")
        }
        return Check(.pass, label, "reachable (HTTP \(status))")
    }

    /// Telegram's `getMe` answered `status` with `body`.
    public static func telegram(status: Int?, body: JSONValue?, error: String?, chatIDs: Int) -> Check {
        guard let status else {
            return Check(
                .fail, "telegram", "api.telegram.org unreachable: \(error ?? "no answer")",
                fix: "check the network or notify.telegram.api_base")
        }
        if status == 401 || status == 404 {
            return Check(
                .fail, "telegram", "getMe answered HTTP \(status): the bot token is rejected",
                fix: "set notify.telegram.token to the token @BotFather gave")
        }
        guard status == 200, body?.objectValue?["ok"] == .bool(true) else {
            return Check(.fail, "telegram", "getMe answered HTTP \(status)", fix: "check notify.telegram.token and api_base")
        }
        let user = body?.objectValue?["result"]?.objectValue?["username"]?.stringValue.map { "@\($0)" } ?? "the bot"
        if chatIDs == 0 {
            return Check(.warn, "telegram", "\(user) answers, but no chat_ids are set", fix: "add notify.telegram.chat_ids")
        }
        return Check(.pass, "telegram", "\(user) answers; \(chatIDs) chat(s)")
    }

    // MARK: - Helpers

    /// The URL without its user info, query and (for Telegram-style tokens) long path segments.
    static func redactedURL(_ url: String) -> String {
        guard var c = URLComponents(string: url) else { return url }
        c.user = nil
        c.password = nil
        if c.query != nil { c.query = "…" }
        return c.string ?? url
    }

    static func firstLine(_ text: String) -> String {
        String(text.split(whereSeparator: \.isNewline).first { !$0.allSatisfy(\.isWhitespace) }?.prefix(160) ?? "")
            .trimmingCharacters(in: .whitespaces)
    }

    static func lastLine(_ text: String) -> String {
        String(text.split(whereSeparator: \.isNewline).last { !$0.allSatisfy(\.isWhitespace) }?.prefix(200) ?? "")
            .trimmingCharacters(in: .whitespaces)
    }

    public static func formatBytes(_ n: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var v = Double(n)
        var i = 0
        while v >= 1024 && i < units.count - 1 {
            v /= 1024
            i += 1
        }
        return i == 0 ? "\(n) B" : String(format: "%.1f", v) + " " + units[i]
    }

    static func formatUSD(_ v: Double) -> String { String(format: "%.2f", v) }
}
