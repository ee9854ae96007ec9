import Foundation
import NightshiftCore

extension MorningReport {
    /// Text made safe for HTML element content and attribute values.
    public static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for c in text.unicodeScalars {
            switch c {
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "&": out += "&amp;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// Colour of an attempt's outcome in the waterfall (and its legend).
    static func colour(_ s: TaskStatus) -> String {
        switch s {
        case .completed: return "#3a9a5b"
        case .failed: return "#c9483b"
        case .pending: return "#e39b2d"
        case .needsDecision: return "#e3c52d"
        case .cancelled: return "#9aa0a6"
        case .running: return "#3b7bd6"
        }
    }

    /// `report.html`: one self-contained file (inline style and SVG, no script, no other
    /// request), readable offline.
    public func html() -> String {
        let e = Self.escape
        var h = """
            <!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
            <title>Morning report \(e(run.id))</title><style>
            body{font:14px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1100px;padding:1em 1.5em;color:#1d2430}
            h1{font-size:22px;margin-bottom:.2em}h2{font-size:16px;margin:1.4em 0 .4em;border-bottom:1px solid #e3e6ea}
            .meta{color:#667;font-size:12px}.headline p{font-size:15px;margin:.4em 0}.progress{background:#e8f0fe;padding:.4em .8em;border-radius:4px}
            table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.2em .5em;border-bottom:1px solid #eceef1;vertical-align:top}
            th{font-size:12px;color:#555}td.num{text-align:right;font-variant-numeric:tabular-nums}code{font-size:12px}
            .new{color:#c9483b;font-weight:600}.legend span{display:inline-block;margin-right:1em}.sw{display:inline-block;width:.9em;height:.9em;vertical-align:middle;margin-right:.3em}
            .over{color:#c9483b;font-weight:600}ul.steps li{margin:.3em 0}
            </style></head><body>
            <h1>Morning report</h1>
            <p class="meta">run <code>\(e(run.id))</code> · \(e(run.mode.rawValue)) · \(e(run.state.rawValue)) · started \(Timestamp.format(run.startedAt))\(run.endedAt.map { " · ended " + Timestamp.format($0) } ?? "") · generated \(Timestamp.format(generatedAt))</p>

            """
        if inProgress {
            h +=
                "<p class=\"progress\">This run is still going: running tasks are listed apart, and the figures are as of now.</p>\n"
        }
        h += "<section class=\"headline\" id=\"headline\">" + headline.map { "<p>\(e($0))</p>" }.joined() + "</section>\n"
        h += section("Needs you", id: "needs-you", needsYou.isEmpty ? "<p>Nothing.</p>" : list(needsYou))
        h += section(
            "Next steps", id: "next-steps", "<ul class=\"steps\">" + nextSteps.map { "<li>\(e($0))</li>" }.joined() + "</ul>")
        h += section("Waterfall", id: "waterfall", waterfallSVG())
        h += section("Cost", id: "cost", costHTML())
        h += section(
            "Shipped", id: "shipped",
            shipped.isEmpty ? "<p>No item finished.</p>" : list(shipped.map { "\($0.key): \($0.title)" }))
        h += section("Failed", id: "failed", taskTable(failed, empty: "Nothing failed."))
        h += section("Running and waiting", id: "running", taskTable(running, empty: "Nothing is running."))
        h += section("Decisions", id: "decisions", decisionsHTML())
        h += section("Error fingerprints", id: "fingerprints", fingerprintsHTML())
        h += section("All finished tasks", id: "finished", taskTable(Array(finished.prefix(500)), empty: "None yet."))
        h += "</body></html>\n"
        return h
    }

    func section(_ title: String, id: String, _ body: String) -> String {
        "<section id=\"\(id)\"><h2>\(Self.escape(title))</h2>\n\(body)\n</section>\n"
    }

    func list(_ items: [String]) -> String { "<ul>" + items.map { "<li>\(Self.escape($0))</li>" }.joined() + "</ul>" }

    func taskTable(_ lines: [TaskLine], empty: String) -> String {
        guard !lines.isEmpty else { return "<p>\(Self.escape(empty))</p>" }
        let e = Self.escape
        var t =
            "<table><thead><tr><th>task</th><th>item</th><th>phase</th><th>status</th><th>attempts</th><th>why</th></tr></thead><tbody>"
        for l in lines {
            t +=
                "<tr><td><code>\(e(l.id))</code></td><td>\(e(l.item ?? "—"))</td><td>\(e(l.phase))</td><td>\(e(l.status.rawValue))"
            t +=
                "\(l.errorClass.map { " · " + e($0) } ?? "")</td><td class=\"num\">\(l.attempts)</td><td>\(e(String((l.why ?? "").prefix(300))))</td></tr>"
        }
        return t + "</tbody></table>"
    }

    /// One lane per worker slot, one bar per attempt (coloured by outcome); the time it waited
    /// to be claimed is the thin grey line under it.
    public func waterfallSVG(width: Double = 1000) -> String {
        let bars = lanes.flatMap { $0 }
        guard let t0 = bars.map(\.waitingSince).min() else { return "<p>No attempt ran yet.</p>" }
        let t1 = max(bars.map { $0.end ?? generatedAt }.max() ?? generatedAt, t0.addingTimeInterval(1))
        let left = 70.0
        let laneH = 26.0
        let span = t1.timeIntervalSince(t0)
        func x(_ d: Date) -> Double { left + (width - left - 10) * d.timeIntervalSince(t0) / span }
        func f(_ v: Double) -> String { String(format: "%.1f", v) }
        let height = Double(lanes.count) * laneH + 24
        var s =
            "<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"waterfall-svg\" width=\"\(f(width))\" height=\"\(f(height))\" viewBox=\"0 0 \(f(width)) \(f(height))\" font-family=\"system-ui,sans-serif\" font-size=\"11\" role=\"img\" aria-label=\"attempts per worker lane\">"
        for (n, lane) in lanes.enumerated() {
            let y = Double(n) * laneH
            s += "<text x=\"4\" y=\"\(f(y + 15))\" fill=\"#555\">worker \(n + 1)</text>"
            s +=
                "<line x1=\"\(f(left))\" y1=\"\(f(y + laneH - 2))\" x2=\"\(f(width - 10))\" y2=\"\(f(y + laneH - 2))\" stroke=\"#eee\"/>"
            for b in lane {
                let x0 = x(b.start)
                let x1 = max(x(b.end ?? generatedAt), x0 + 2)
                let w0 = x(b.waitingSince)
                if x0 - w0 >= 1 {
                    s +=
                        "<rect class=\"wait\" x=\"\(f(w0))\" y=\"\(f(y + 20))\" width=\"\(f(x0 - w0))\" height=\"3\" fill=\"#b8bec6\"><title>waited \(RunSummary.formatMS(Int(b.start.timeIntervalSince(b.waitingSince) * 1000)))</title></rect>"
                }
                let tip =
                    "\(b.taskID) attempt \(b.attempt): \(b.outcome.rawValue), ran \(RunSummary.formatMS(Int((b.end ?? generatedAt).timeIntervalSince(b.start) * 1000)))\(b.why.map { " — " + $0 } ?? "")"
                s +=
                    "<g class=\"bar\" data-task=\"\(Self.escape(b.taskID))\"><rect x=\"\(f(x0))\" y=\"\(f(y + 3))\" width=\"\(f(x1 - x0))\" height=\"15\" rx=\"2\" fill=\"\(Self.colour(b.outcome))\"><title>\(Self.escape(tip))</title></rect>"
                if x1 - x0 > 40 {
                    s +=
                        "<text x=\"\(f(x0 + 3))\" y=\"\(f(y + 14))\" fill=\"#fff\">\(Self.escape(String(b.label.prefix(Int((x1 - x0) / 6)))))</text>"
                }
                s += "</g>"
            }
        }
        let axisY = Double(lanes.count) * laneH + 14
        s += "<text x=\"\(f(left))\" y=\"\(f(axisY))\" fill=\"#667\">\(Timestamp.format(t0))</text>"
        s +=
            "<text x=\"\(f(width - 10))\" y=\"\(f(axisY))\" fill=\"#667\" text-anchor=\"end\">\(Timestamp.format(t1)) (\(RunSummary.formatMS(Int(span * 1000))))</text>"
        s += "</svg>"
        let legend = [TaskStatus.completed, .failed, .pending, .needsDecision, .cancelled, .running].map {
            "<span><i class=\"sw\" style=\"background:\(Self.colour($0))\"></i>\($0 == .pending ? "failed, retried" : $0.rawValue)</span>"
        }.joined()
        return s
            + "<p class=\"legend meta\">\(legend)<span><i class=\"sw\" style=\"background:#b8bec6;height:.25em\"></i>waiting to be claimed</span></p>"
    }

    func costHTML() -> String {
        let e = Self.escape
        func rows(_ cs: [Cost]) -> String {
            cs.map { c in
                let over = c.capUSD.map { c.costUSD > $0 } ?? false
                return
                    "<tr><td>\(e(c.name))</td><td class=\"num\(over ? " over" : "")\">\(String(format: "$%.4f", c.costUSD))</td><td class=\"num\">\(c.capUSD.map { String(format: "$%.2f", $0) } ?? "—")</td><td class=\"num\">\(c.tokensIn)</td><td class=\"num\">\(c.tokensOut)</td><td class=\"num\">\(c.tasks)</td></tr>"
            }.joined()
        }
        let head = "<tr><th>name</th><th>$</th><th>cap</th><th>tokens in</th><th>tokens out</th><th>tasks</th></tr>"
        var h = "<table id=\"cost-total\"><thead>\(head)</thead><tbody>\(rows([cost.total]))</tbody></table>"
        h += "<h3>Per phase</h3><table><thead>\(head)</thead><tbody>\(rows(cost.byPhase))</tbody></table>"
        h += "<h3>Per executor</h3><table><thead>\(head)</thead><tbody>\(rows(cost.byExecutor))</tbody></table>"
        h += "<h3>Per task (most expensive first)</h3>"
        h +=
            cost.byTask.isEmpty
            ? "<p>No task reported a cost.</p>" : "<table><thead>\(head)</thead><tbody>\(rows(cost.byTask))</tbody></table>"
        return h
    }

    func decisionsHTML() -> String {
        guard !decisions.isEmpty else { return "<p>No choice was made overnight: no retry, no restart, no human decision.</p>" }
        let e = Self.escape
        var t = "<table><thead><tr><th>at</th><th>kind</th><th>task</th><th>by</th><th>what</th></tr></thead><tbody>"
        for d in decisions.prefix(1000) {
            t +=
                "<tr><td>\(Timestamp.format(d.at))</td><td>\(e(d.kind.rawValue))</td><td><code>\(e(d.taskID))</code></td><td>\(e(d.by))</td><td>\(e(d.what))</td></tr>"
        }
        return t + "</tbody></table>"
    }

    func fingerprintsHTML() -> String {
        guard !fingerprints.isEmpty else { return "<p>No error fingerprint in this run's logs.</p>" }
        let e = Self.escape
        var t =
            "<table><thead><tr><th></th><th>count</th><th>severity</th><th>template</th><th>first seen</th><th>sources</th></tr></thead><tbody>"
        for p in fingerprints.prefix(200) {
            t +=
                "<tr><td>\(p.isNew ? "<span class=\"new\">new</span>" : "recurring")</td><td class=\"num\">\(p.count)</td><td>\(e(p.severity))</td><td><code>\(e(p.template))</code></td><td>\(Timestamp.format(p.firstSeen))</td><td>\(e(p.sources.joined(separator: ", ")))</td></tr>"
        }
        return t + "</tbody></table>"
    }
}
