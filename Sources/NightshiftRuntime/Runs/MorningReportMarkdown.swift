import Foundation
import NightshiftCore

extension MorningReport {
    /// `report.md` is kept under this size, to paste into a pull request, a chat or a mail.
    public static let markdownLimit = 1 << 20

    /// `report.md`: the same report as Markdown, lists cut to fit under `markdownLimit`.
    public func markdown() -> String {
        func cell(_ s: String) -> String {
            String(s.prefix(200)).replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "\n", with: " ")
        }
        var m = "# Morning report — \(run.id)\n\n"
        m += "\(run.mode.rawValue) · \(run.state.rawValue) · started \(Timestamp.format(run.startedAt))"
        m += (run.endedAt.map { " · ended " + Timestamp.format($0) } ?? " · still running") + "\n\n"
        for p in headline { m += p + "\n\n" }
        m +=
            "## Needs you\n\n" + (needsYou.isEmpty ? "Nothing.\n" : needsYou.prefix(100).map { "- \(cell($0))\n" }.joined())
            + "\n"
        m += "## Next steps\n\n" + nextSteps.map { "- \($0)\n" }.joined() + "\n"
        m += "## Cost\n\n| group | $ | cap | tokens in | tokens out | tasks |\n|---|---|---|---|---|---|\n"
        for c in [cost.total] + cost.byPhase
            + cost.byExecutor.map({
                var c = $0
                c.name = "executor " + c.name
                return c
            })
        {
            m +=
                "| \(cell(c.name)) | \(String(format: "%.4f", c.costUSD)) | \(c.capUSD.map { String(format: "%.2f", $0) } ?? "—") | \(c.tokensIn) | \(c.tokensOut) | \(c.tasks) |\n"
        }
        m += "\n## Failed\n\n"
        m += failed.isEmpty ? "Nothing failed.\n" : taskRows(Array(failed.prefix(200)), cell) + more(failed.count, 200)
        m += "\n## Running and waiting\n\n"
        m += running.isEmpty ? "Nothing is running.\n" : taskRows(Array(running.prefix(200)), cell) + more(running.count, 200)
        m += "\n## Decisions\n\n"
        if decisions.isEmpty {
            m += "No choice was made overnight.\n"
        } else {
            m += "| at | kind | task | by | what |\n|---|---|---|---|---|\n"
            for d in decisions.prefix(300) {
                m += "| \(Timestamp.format(d.at)) | \(d.kind.rawValue) | `\(d.taskID)` | \(cell(d.by)) | \(cell(d.what)) |\n"
            }
            m += more(decisions.count, 300)
        }
        m += "\n## Error fingerprints\n\n"
        if fingerprints.isEmpty {
            m += "None.\n"
        } else {
            m += "| | count | severity | template |\n|---|---|---|---|\n"
            for f in fingerprints.prefix(100) {
                m += "| \(f.isNew ? "**new**" : "recurring") | \(f.count) | \(f.severity) | `\(cell(f.template))` |\n"
            }
            m += more(fingerprints.count, 100)
        }
        m += "\nShipped: " + (shipped.isEmpty ? "none" : shipped.prefix(50).map { "\($0.key)" }.joined(separator: ", ")) + "\n"
        if m.utf8.count > Self.markdownLimit {
            m =
                String(decoding: Array(m.utf8.prefix(Self.markdownLimit - 200)), as: UTF8.self)
                + "\n\n… cut to stay under 1 MiB; report.json has everything.\n"
        }
        return m
    }

    func taskRows(_ lines: [TaskLine], _ cell: (String) -> String) -> String {
        var m = "| task | item | phase | status | attempts | why |\n|---|---|---|---|---|---|\n"
        for l in lines {
            m +=
                "| `\(l.id)` | \(cell(l.item ?? "—")) | \(cell(l.phase)) | \(l.status.rawValue)\(l.errorClass.map { " · \($0)" } ?? "") | \(l.attempts) | \(cell(l.why ?? "")) |\n"
        }
        return m
    }

    func more(_ count: Int, _ shown: Int) -> String { count > shown ? "\n… and \(count - shown) more (report.json).\n" : "" }
}
