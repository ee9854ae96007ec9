import ArgumentParser
import Foundation
import NightshiftCore

/// `nightshift status`: what is running, pending, waiting for a decision, recently done, the
/// fatal issues and the components' health (the seed's check_pipeline.py).
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "Show what the daemon is doing and how healthy it is.",
        discussion: """
            Exit code 0 whenever the daemon answers, whatever it reports (fatal issues included: \
            they are listed, and nightshift fatal and the start gate fail on them); 1 when it is down.
            """)

    @OptionGroup var client: ClientCommandOptions

    func run() async throws {
        try await runReporting {
            let api = try client.client()
            let health = try await api.call("GET", "/api/health")
            let pipeline = try await api.call("GET", "/api/agent/pipeline-status")
            let recent = try await api.call("GET", "/api/agent/tasks?status=completed,failed,cancelled&limit=5")
            let metrics = try await api.call("GET", "/api/agent/metrics")
            let fatal = try await api.call("GET", "/api/agent/fatal-issues")
            if client.json {
                var combined: [String: JSONValue] = [:]
                combined["health"] = health.json
                combined["pipeline"] = pipeline.json
                combined["recent"] = recent.json?.objectValue?["tasks"]
                combined["metrics"] = metrics.json
                combined["fatal"] = fatal.json?.objectValue?["issues"]
                printJSON(try JSONEncoder().encode(combined))
                return
            }
            let h = health.json?.objectValue ?? [:]
            let p = pipeline.json?.objectValue ?? [:]
            let uptime = h["uptime_seconds"]?.doubleValue.map { ConfigValues.formatDuration($0.rounded()) } ?? "?"
            print("daemon    \(api.base)  pid \(Self.num(h["pid"]))  version \(h["version"]?.stringValue ?? "?")  up \(uptime)")
            let counts = p["counts"]?.objectValue ?? [:]
            print(
                "tasks     "
                    + TaskStatus.allCases.map { "\($0.rawValue) \(Self.num(counts[$0.rawValue]))" }.joined(separator: "  "))
            let m = metrics.json?.objectValue ?? [:]
            if let rate = m["success_rate"]?.doubleValue {
                print("recent    success \(Int((rate * 100).rounded()))% of \(Self.num(m["finished"]))")
            }
            Self.budgetSection(p["budget"]?.objectValue ?? [:], paused: p["paused_executors"]?.arrayValue ?? [])
            Self.fatalSection(fatal.json?.objectValue?["issues"]?.arrayValue ?? [])
            let running = p["running"]?.arrayValue ?? []
            Self.section(
                "running", running, ["ID", "ITEM", "PHASE", "ATTEMPT", "TURNS", "TOKENS", "COST", "LAST EVENT", "DIRECTION"],
                flexible: ["DIRECTION"]
            ) { t in
                [
                    Self.text(t["id"]), Cells.item(t), Cells.phase(t), Self.num(t["attempt"]), Self.num(t["turns"]),
                    Self.tokens(t), Self.cost(t), Self.lastEvent(t), Self.text(t["direction"]),
                ]
            }
            let waiting = p["needs_decision"]?.arrayValue ?? []
            Self.section("needs a decision", waiting, ["ID", "ITEM", "PROMPT"], flexible: ["PROMPT"]) { t in
                [Self.text(t["id"]), Cells.item(t), Self.text(t["decision_prompt"])]
            }
            if !waiting.isEmpty { print("  → answer with: nightshift tasks decide <id> <decision>") }
            let done = recent.json?.objectValue?["tasks"]?.arrayValue ?? []
            Self.section("recently done", done, ["ID", "STATUS", "ITEM", "PHASE", "ERROR"], flexible: ["ERROR"]) { t in
                [Self.text(t["id"]), Self.text(t["status"]), Cells.item(t), Cells.phase(t), Cells.error(t)]
            }
            let components = p["components"]?.objectValue ?? [:]
            if !components.isEmpty {
                print("components")
                let rows = components.sorted(by: { $0.key < $1.key }).map { name, c in
                    [name, "last beat \(Self.num(c.objectValue?["age_seconds"]))s ago"]
                }
                print(Table.render(["COMPONENT", "HEARTBEAT"], rows, indent: 2))
            }
        }
    }

    /// The fatal issues, one line each and never cut (there are few, and each needs a human); a
    /// state file that cannot be read is one of them, naming the file and the error, so an
    /// unreadable file never looks like "no issues".
    static func fatalSection(_ issues: [JSONValue]) {
        print("fatal (\(issues.count))")
        guard !issues.isEmpty else { return }
        for i in issues {
            let o = i.objectValue ?? [:]
            let condition = text(o["condition"])
            let reason = text(o["reason"])
            print("  \(condition) (\(text(o["source"])), seen \(num(o["count"]))×)" + (reason == condition ? "" : ": \(reason)"))
        }
        print("  → what to do, and output tails: nightshift fatal")
    }

    /// The caps, what is spent, whether new work waits, how each cap is held, and paused executors.
    static func budgetSection(_ b: [String: JSONValue], paused: [JSONValue]) {
        let caps = [("task", "per_task_usd"), ("run", "per_run_usd"), ("day", "per_day_usd")].compactMap { name, key in
            b[key]?.doubleValue.map { "\(name) \(usd($0))" }
        }
        let mode = text(b["enforcement"])
        if caps.isEmpty {
            print("budget    no cap")
        } else {
            print(
                "budget    caps \(caps.joined(separator: ", ")) (\(mode))  spent run \(usd(b["run_spent_usd"]?.doubleValue ?? 0)), "
                    + "today \(usd(b["day_spent_usd"]?.doubleValue ?? 0)), reserved \(usd(b["reserved_usd"]?.doubleValue ?? 0))")
            print("          worst-case overshoot: \(text(b["worst_case_overshoot"]))")
        }
        if let state = b["state"]?.stringValue, state != "ok" {
            print("          \(state == "exhausted" ? "EXHAUSTED" : "waiting"): \(text(b["reason"]))")
        }
        for p in paused { print("paused    \(text(p.objectValue?["line"]))") }
    }

    static func usd(_ v: Double) -> String { String(format: "$%.2f", v) }

    static func cost(_ t: [String: JSONValue]) -> String {
        guard let c = t["cost_usd"]?.doubleValue else { return "-" }
        return String(format: "$%.4f", c) + (t["cost_source"]?.stringValue == "estimated" ? "~" : "")
    }

    static func tokens(_ t: [String: JSONValue]) -> String {
        guard t["tokens_in"]?.doubleValue != nil || t["tokens_out"]?.doubleValue != nil else { return "-" }
        return "\(num(t["tokens_in"]))/\(num(t["tokens_out"]))"
    }

    static func lastEvent(_ t: [String: JSONValue]) -> String {
        guard let at = t["last_event_at"]?.stringValue.flatMap(Timestamp.parse) else { return "-" }
        let ago = ConfigValues.formatDuration(max(0, Date().timeIntervalSince(at)).rounded())
        return (t["last_tool"]?.stringValue.map { "\($0) " } ?? "") + "\(ago) ago"
    }

    /// A titled table of `items`, indented under its title; just the title when there are none.
    static func section(
        _ title: String, _ items: [JSONValue], _ header: [String], flexible: Set<String>, _ row: ([String: JSONValue]) -> [String]
    ) {
        print("\(title) (\(items.count))")
        guard !items.isEmpty else { return }
        print(Table.render(header, items.map { row($0.objectValue ?? [:]) }, flexible: flexible, indent: 2))
    }

    static func num(_ v: JSONValue?) -> String {
        guard let d = v?.doubleValue else { return "-" }
        return d.rounded() == d ? "\(Int(d))" : String(format: "%.1f", d)
    }

    static func text(_ v: JSONValue?) -> String { v?.stringValue ?? "" }
}
