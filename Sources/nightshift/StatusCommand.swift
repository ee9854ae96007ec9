import ArgumentParser
import Foundation
import NightshiftCore

/// `nightshift status`: what is running, pending, waiting for a decision, recently done, and
/// the components' health (the seed's check_pipeline.py).
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "Show what the daemon is doing and how healthy it is.")

    @OptionGroup var client: ClientOptions

    func run() async throws {
        try await runReporting {
            let api = try client.client()
            let health = try await api.call("GET", "/api/health")
            let pipeline = try await api.call("GET", "/api/agent/pipeline-status")
            let recent = try await api.call("GET", "/api/agent/tasks?status=completed,failed,cancelled&limit=5")
            let metrics = try await api.call("GET", "/api/agent/metrics")
            if client.json {
                var combined: [String: JSONValue] = [:]
                combined["health"] = health.json
                combined["pipeline"] = pipeline.json
                combined["recent"] = recent.json?.objectValue?["tasks"]
                combined["metrics"] = metrics.json
                printJSON(try JSONEncoder().encode(combined))
                return
            }
            let h = health.json?.objectValue ?? [:]
            let p = pipeline.json?.objectValue ?? [:]
            let uptime = h["uptime_seconds"]?.doubleValue.map { ConfigValues.formatDuration($0.rounded()) } ?? "?"
            print("daemon    \(api.base)  pid \(Self.num(h["pid"]))  version \(h["version"]?.stringValue ?? "?")  up \(uptime)")
            let counts = p["counts"]?.objectValue ?? [:]
            print("tasks     " + TaskStatus.allCases.map { "\($0.rawValue) \(Self.num(counts[$0.rawValue]))" }.joined(separator: "  "))
            let m = metrics.json?.objectValue ?? [:]
            if let rate = m["success_rate"]?.doubleValue {
                print("recent    success \(Int((rate * 100).rounded()))% of \(Self.num(m["finished"]))")
            }
            Self.section("running", p["running"]?.arrayValue ?? []) { t in
                "\(t["id"]?.stringValue ?? "")  \(t["task_type"]?.stringValue ?? "")  attempt \(Self.num(t["attempt"]))  \(Self.short(t["direction"]))"
            }
            Self.section("needs a decision", p["needs_decision"]?.arrayValue ?? []) { t in
                "\(t["id"]?.stringValue ?? "")  \(t["decision_prompt"]?.stringValue ?? "")   → nightshift tasks decide \(t["id"]?.stringValue ?? "") yes"
            }
            Self.section("recently done", recent.json?.objectValue?["tasks"]?.arrayValue ?? []) { t in
                "\(t["id"]?.stringValue ?? "")  \(t["task_type"]?.stringValue ?? "")  \(t["status"]?.stringValue ?? "")  \(t["error_class"]?.stringValue ?? "")"
            }
            let components = p["components"]?.objectValue ?? [:]
            if !components.isEmpty {
                print("components")
                for (name, c) in components.sorted(by: { $0.key < $1.key }) {
                    let o = c.objectValue ?? [:]
                    print("  \(name.padding(toLength: 14, withPad: " ", startingAt: 0)) last beat \(Self.num(o["age_seconds"]))s ago")
                }
            }
        }
    }

    static func section(_ title: String, _ items: [JSONValue], _ line: ([String: JSONValue]) -> String) {
        print("\(title) (\(items.count))")
        for i in items { print("  " + line(i.objectValue ?? [:])) }
    }

    static func num(_ v: JSONValue?) -> String {
        guard let d = v?.doubleValue else { return "-" }
        return d.rounded() == d ? "\(Int(d))" : String(format: "%.1f", d)
    }

    static func short(_ v: JSONValue?) -> String {
        String((v?.stringValue ?? "").replacingOccurrences(of: "\n", with: " ").prefix(60))
    }
}
