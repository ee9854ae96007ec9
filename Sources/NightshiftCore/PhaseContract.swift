import Foundation

/// What a phase's output must contain before its item may advance
/// (`project_manager.contracts.<phase>`): headings and patterns in the agent's summary, and
/// files of the item's worktree with headings and patterns of their own. Pure: the runner
/// reads the files and hands their text in; `missing` names every part that is not there.
///
/// A required heading is an ATX heading (`## Verification`). A line of the text matches it
/// when it is a heading of the same level (up to 3 spaces, the same number of `#`, a space)
/// whose title equals the required one ignoring case, runs of spaces and a closing `#` run;
/// lines inside fenced code blocks do not count. So `##  verification ` matches, while
/// `### Verification`, `##Verification` and `## Verification plan` do not (use a pattern for
/// looser rules). A pattern is a regular expression (Swift `Regex` syntax, as in PCRE) that
/// must match somewhere in the text; `^` and `$` match at every line.
public struct PhaseContract: Sendable, Equatable {
    /// Headings and patterns one text (the summary, or one file) must contain.
    public struct Requirements: Sendable, Equatable {
        public var headings: [String]
        public var patterns: [String]
        public init(headings: [String] = [], patterns: [String] = []) {
            self.headings = headings
            self.patterns = patterns
        }
        public var isEmpty: Bool { headings.isEmpty && patterns.isEmpty }
    }

    /// A file that must exist in the worktree, relative to it, with what it must contain.
    public struct File: Sendable, Equatable {
        public var path: String
        public var requirements: Requirements
        public init(path: String, requirements: Requirements = Requirements()) {
            self.path = path
            self.requirements = requirements
        }
    }

    /// What the runner found when it held a completed attempt's output against the contract.
    public enum Check: Sendable, Equatable {
        case met
        /// Every part that is missing, as `missing` names them.
        case unmet([String])
    }

    /// A file as the runner found it in the worktree.
    public enum FileText: Sendable, Equatable {
        case text(String)
        case notFound
        case directory
    }

    public var summary: Requirements
    /// In the order the config gives them, so the missing parts are named in that order.
    public var files: [File]

    public init(summary: Requirements = Requirements(), files: [File] = []) {
        self.summary = summary
        self.files = files
    }

    public var isEmpty: Bool { summary.isEmpty && files.isEmpty }

    /// Every missing part, in contract order (the summary first, then each file), each named
    /// exactly as the config writes it: `heading "## Verification" in the summary`,
    /// `pattern /^Test plan:/ in docs/spec.md`, `file docs/spec.md (not found)`. `files` has the
    /// text of each contract file by path; a path it lacks counts as not found.
    public func missing(summary text: String?, files found: [String: FileText]) -> [String] {
        var out = Self.missing(summary, in: text ?? "", where: "the summary")
        for file in files {
            switch found[file.path] ?? .notFound {
            case .text(let contents): out += Self.missing(file.requirements, in: contents, where: file.path)
            case .notFound:
                out.append("file \(file.path) (not found)")
                out += Self.missing(file.requirements, in: "", where: file.path)
            case .directory:
                out.append("file \(file.path) (a directory, not a file)")
                out += Self.missing(file.requirements, in: "", where: file.path)
            }
        }
        return out
    }

    /// `.met`, or `.unmet` with the missing parts.
    public func check(summary text: String?, files found: [String: FileText]) -> Check {
        let parts = missing(summary: text, files: found)
        return parts.isEmpty ? .met : .unmet(parts)
    }

    /// The task's `error` for an unmet contract: one line that names every missing part.
    public static func error(phase: String, missing: [String]) -> String {
        "the \(phase) output does not meet its contract; missing: " + missing.joined(separator: "; ")
    }

    static func missing(_ r: Requirements, in text: String, where place: String) -> [String] {
        let headings = Self.headings(in: text)
        var out: [String] = []
        for h in r.headings {
            guard let wanted = Heading(h), !headings.contains(wanted) else { continue }
            out.append("heading \"\(h)\" in \(place)")
        }
        for p in r.patterns where !matches(p, text) {
            out.append("pattern /\(p)/ in \(place)")
        }
        return out
    }

    /// Whether `pattern` matches somewhere in `text`; a pattern that does not compile never does.
    static func matches(_ pattern: String, _ text: String) -> Bool {
        guard let regex = try? Regex(pattern) else { return false }
        return text.contains(regex.anchorsMatchLineEndings())
    }

    // MARK: Validation (the config reader reports these with the key's path and line)

    /// Why `text` cannot be a required heading, or nil when it can.
    public static func headingProblem(_ text: String) -> String? {
        guard text.contains(where: \.isNewline) || Heading(text) == nil else { return nil }
        return "must be a Markdown heading like \"## Verification\" (1 to 6 #, a space, then the title), got \"\(text)\""
    }

    /// Why `pattern` cannot be a contract pattern, or nil when it can.
    public static func patternProblem(_ pattern: String) -> String? {
        if pattern.isEmpty { return "must not be empty" }
        do {
            _ = try Regex(pattern)
            return nil
        } catch {
            return "is not a valid regular expression (\(error))"
        }
    }

    /// Why `path` cannot name a file of the worktree, or nil when it can.
    public static func pathProblem(_ path: String) -> String? {
        if path.isEmpty { return "must not be empty" }
        if path.hasPrefix("/") || path.hasPrefix("~") { return "must be relative to the item's worktree, got \"\(path)\"" }
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        if parts.contains("..") { return "must stay inside the item's worktree (no \"..\"), got \"\(path)\"" }
        if parts.contains(where: \.isEmpty) || parts.allSatisfy({ $0 == "." }) {
            return "must name a file, got \"\(path)\""
        }
        if path.contains(where: \.isNewline) || path.contains("\0") { return "must be one line" }
        return nil
    }

    // MARK: Headings

    /// An ATX heading: its level and its title, normalized for comparison.
    struct Heading: Hashable {
        var level: Int
        var title: String

        /// Parses a heading line (up to 3 leading spaces); nil when the line is not one.
        init?(_ line: Substring) {
            var rest = line
            var indent = 0
            while rest.first == " " && indent < 4 {
                rest = rest.dropFirst()
                indent += 1
            }
            guard indent < 4 else { return nil }
            let hashes = rest.prefix { $0 == "#" }.count
            guard (1...6).contains(hashes) else { return nil }
            rest = rest.dropFirst(hashes)
            guard let first = rest.first, first == " " || first == "\t" else { return nil }
            // A closing run of # counts only after a space ("## C#" keeps its #).
            var words = rest.split(whereSeparator: { $0 == " " || $0 == "\t" })
            if let last = words.last, last.allSatisfy({ $0 == "#" }) { words.removeLast() }
            guard !words.isEmpty else { return nil }
            level = hashes
            title = words.joined(separator: " ").lowercased()
        }

        init?(_ line: String) { self.init(line[...]) }
    }

    /// The headings of a Markdown text, outside fenced code blocks.
    static func headings(in text: String) -> Set<Heading> {
        var found = Set<Heading>()
        var fence: Character?
        for raw in text.split(omittingEmptySubsequences: true, whereSeparator: \.isNewline) {
            let line = raw.drop { $0 == " " }
            if let marker = line.first, marker == "`" || marker == "~", line.prefix(while: { $0 == marker }).count >= 3 {
                if fence == nil {
                    fence = marker
                } else if fence == marker {
                    fence = nil
                }
                continue
            }
            if fence == nil, let h = Heading(raw) { found.insert(h) }
        }
        return found
    }
}
