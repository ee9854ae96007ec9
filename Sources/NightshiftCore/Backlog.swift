import Foundation

/// One item of the operator's backlog as written in the file (before import).
public struct BacklogEntry: Sendable, Equatable {
    /// Stable identity: the item's number (`3` for `3. text`) or its file name without `.md`.
    public var key: String
    public var position: Int
    public var title: String
    /// The full text the agents get.
    public var body: String
    /// Keys of items that must be done first (`after: 3`).
    public var after: [String]
    /// Where it came from, for error messages.
    public var file: String
    public var line: Int

    public init(key: String, position: Int, title: String, body: String, after: [String], file: String, line: Int) {
        self.key = key
        self.position = position
        self.title = title
        self.body = body
        self.after = after
        self.file = file
        self.line = line
    }
}

/// A malformed backlog: the file, the line and why. Nothing of it is imported.
public struct BacklogError: Error, Equatable, Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int?
    public var reason: String
    public init(file: String, line: Int?, reason: String) {
        self.file = file
        self.line = line
        self.reason = reason
    }
    public var description: String { "backlog error: \(file)\(line.map { ":\($0)" } ?? ""): \(reason)" }
}

/// Parses the two backlog forms: a markdown file of numbered lines (`1. text`, the seed's
/// format; indented lines continue an item; `(after: 1, 2)` declares dependencies), or a
/// directory of one markdown file per item (title = first heading; a line `after: 3`).
public enum BacklogParser {
    public static func parseNumbered(_ text: String, file: String) throws(BacklogError) -> [BacklogEntry] {
        var entries: [BacklogEntry] = []
        var inComment = false
        var seen: [String: Int] = [:]
        for (index, raw) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let lineNo = index + 1
            let line = raw.trimmingCharacters(in: .whitespaces)
            if inComment {
                if line.contains("-->") { inComment = false }
                continue
            }
            if line.hasPrefix("<!--") {
                inComment = !line.contains("-->")
                continue
            }
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(">") { continue }
            if let (number, rest) = numbered(line) {
                guard !rest.isEmpty else { throw BacklogError(file: file, line: lineNo, reason: "item \(number) has no text") }
                if let first = seen[number] {
                    throw BacklogError(
                        file: file, line: lineNo, reason: "item number \(number) is used twice (first on line \(first))")
                }
                seen[number] = lineNo
                let (title, after) = splitAfter(rest)
                entries.append(
                    BacklogEntry(
                        key: number, position: entries.count, title: title, body: title, after: after, file: file, line: lineNo))
            } else if raw.first == " " || raw.first == "\t", var last = entries.popLast() {
                last.body += "\n" + line
                entries.append(last)
            } else {
                throw BacklogError(
                    file: file, line: lineNo,
                    reason: "expected a numbered item like \"1. Add a --json flag\", got \"\(String(line.prefix(60)))\"")
            }
        }
        try checkDependencies(entries)
        return entries
    }

    /// `files` are (name, text) pairs of `*.md` files, in any order.
    public static func parseDirectory(
        _ files: [(name: String, text: String)], directory: String
    ) throws(BacklogError) -> [BacklogEntry] {
        var entries: [BacklogEntry] = []
        for (name, text) in files.sorted(by: { $0.name < $1.name }) {
            let key = (name as NSString).deletingPathExtension
            let path = (directory as NSString).appendingPathComponent(name)
            var title: String?
            var after: [String] = []
            for (i, raw) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
                let line = raw.trimmingCharacters(in: .whitespaces)
                if title == nil, line.hasPrefix("# ") { title = String(line.dropFirst(2)).trimmingCharacters(in: .whitespaces) }
                if line.lowercased().hasPrefix("after:") {
                    let list = line.dropFirst(6).split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter {
                        !$0.isEmpty
                    }
                    guard !list.isEmpty else { throw BacklogError(file: path, line: i + 1, reason: "\"after:\" names no item") }
                    after += list
                }
            }
            let body = text.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !body.isEmpty else { throw BacklogError(file: path, line: 1, reason: "the item file is empty") }
            entries.append(
                BacklogEntry(
                    key: key, position: entries.count, title: title ?? key, body: body, after: after, file: path, line: 1))
        }
        try checkDependencies(entries)
        return entries
    }

    /// `12. text` → ("12", "text").
    static func numbered(_ line: String) -> (String, String)? {
        let digits = line.prefix { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty, digits.count <= 6 else { return nil }
        let rest = line.dropFirst(digits.count)
        guard let dot = rest.first, dot == "." || dot == ")" else { return nil }
        let text = rest.dropFirst()
        guard text.isEmpty || text.first == " " || text.first == "\t" else { return nil }
        return (String(Int(digits)!), text.trimmingCharacters(in: .whitespaces))
    }

    /// `Do X (after: 1, 2)` → ("Do X", ["1", "2"]).
    static func splitAfter(_ text: String) -> (String, [String]) {
        guard text.hasSuffix(")"), let open = text.range(of: "(after:", options: [.backwards, .caseInsensitive]) else {
            return (text, [])
        }
        let inside = text[open.upperBound..<text.index(before: text.endIndex)]
        let keys = inside.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        return (text[..<open.lowerBound].trimmingCharacters(in: .whitespaces), keys.map { k in Int(k).map(String.init) ?? k })
    }

    /// Every `after` names an earlier item, so there can be no cycle.
    static func checkDependencies(_ entries: [BacklogEntry]) throws(BacklogError) {
        var earlier = Set<String>()
        for e in entries {
            for dep in e.after where !earlier.contains(dep) {
                let known = entries.contains { $0.key == dep }
                throw BacklogError(
                    file: e.file, line: e.line,
                    reason: known
                        ? "item \(e.key) waits for item \(dep), which comes later: an item may only wait for earlier ones"
                        : "item \(e.key) waits for item \(dep), which the backlog does not have")
            }
            earlier.insert(e.key)
        }
    }

    /// A branch- and path-safe name: `nightshift/<slug>`.
    public static func slug(key: String, title: String) -> String {
        var out = ""
        var dash = false
        for ch in title.lowercased().unicodeScalars {
            if ("a"..."z").contains(ch) || ("0"..."9").contains(ch) {
                out.unicodeScalars.append(ch)
                dash = false
            } else if !dash && !out.isEmpty {
                out += "-"
                dash = true
            }
            if out.count >= 40 { break }
        }
        while out.hasSuffix("-") { out.removeLast() }
        let safeKey = key.unicodeScalars.filter {
            ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "-" || $0 == "_"
        }
        return "\(String(String.UnicodeScalarView(safeKey)).lowercased())-\(out.isEmpty ? "item" : out)"
    }
}
