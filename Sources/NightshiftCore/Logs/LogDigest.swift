import Foundation

/// What a question about a run's logs is answered from (issue 13, point 6): the top
/// fingerprints with counts and examples, and the newest failure lines cut head and tail, in a
/// bounded number of characters. Pure, so the model's input and the extractive answer are
/// tested without a model.
public struct LogDigest: Sendable, Equatable {
    public var runID: String
    public var text: String
    /// The fingerprints the digest shows, in order.
    public var fingerprints: [String]

    /// Fingerprints shown at most.
    public static let topIssues = 10
    /// Characters of the failure block at most (head third + tail two thirds).
    public static let failureChars = 2400
    /// Characters of one example at most (head + tail).
    public static let exampleChars = 240

    public static func build(runID: String, issues: [LogIssue], failures: [LogEntry], totalLines: Int? = nil) -> LogDigest {
        var out = "run \(runID)"
        if let totalLines { out += ", \(totalLines) line(s)" }
        out += ", \(issues.count) fingerprint(s)\n"
        let top = Array(issues.prefix(topIssues))
        for (i, issue) in top.enumerated() {
            out +=
                "\(i + 1). \(issue.fingerprint) rule=\(issue.ruleID) severity=\(issue.severity.rawValue) count=\(issue.count) sources=\(issue.sources.prefix(5).joined(separator: ","))\n"
            out += "   template: \(cut(issue.template, exampleChars))\n"
            for e in issue.examples.prefix(LogIssue.maxExamples) { out += "   e.g. \(cut(e, exampleChars))\n" }
        }
        if !failures.isEmpty {
            let block = failures.map { "\(Timestamp.format($0.at)) \($0.level) \($0.source) \($0.message)" }
                .joined(separator: "\n")
            out += "newest failure lines:\n" + cut(block, failureChars) + "\n"
        }
        return LogDigest(runID: runID, text: out, fingerprints: top.map(\.fingerprint))
    }

    /// `text` in at most `limit` characters: the head third and the tail, with how much was cut.
    public static func cut(_ text: String, _ limit: Int) -> String {
        guard text.count > limit else { return text }
        let head = limit / 3
        let tail = limit - head
        return String(text.prefix(head)) + " …[\(text.count - limit) chars cut]… " + String(text.suffix(tail))
    }

    /// Tokens of a text, approximated as characters / 4 rounded up (what the budget counts
    /// when the server does not say).
    public static func estimateTokens(_ text: String) -> Int { (text.utf8.count + 3) / 4 }

    /// The answer without a model: the issues that best match the question's words (then the
    /// most seen), with counts, sources and an example each.
    public static func extractiveAnswer(question: String, issues: [LogIssue], runID: String) -> (String, [String]) {
        guard !issues.isEmpty else { return ("No fingerprinted problems in \(runID) so far.", []) }
        let words = Set(
            question.lowercased().split(whereSeparator: { !$0.isLetter && !$0.isNumber }).map(String.init).filter {
                $0.count >= 4
            })
        func score(_ i: LogIssue) -> Int {
            let hay = (i.ruleID + " " + i.template + " " + i.examples.joined(separator: " ")).lowercased()
            return words.filter { hay.contains($0) }.count
        }
        let ranked = issues.enumerated().sorted { a, b in
            let (sa, sb) = (score(a.element), score(b.element))
            return sa != sb ? sa > sb : a.offset < b.offset
        }.map(\.element)
        let picked = Array(ranked.prefix(3))
        var text = "\(issues.count) fingerprint(s) in \(runID). "
        text += picked.map { i in
            let example = i.examples.first.map { " e.g. \"\(cut($0, 160))\"" } ?? ""
            return
                "\(i.ruleID) (\(i.severity.rawValue)) ×\(i.count) from \(i.sources.prefix(3).joined(separator: ", ")): \(cut(i.template, 160)).\(example)"
        }.joined(separator: " ")
        return (text, picked.map(\.fingerprint))
    }
}
