import Foundation

/// PASS/WARN/FAIL gates on a run's figures (seed 004): each gate bounds one metric and has a
/// priority. Any P0 breach fails the run, P1 breaches warn, P2 rows only inform.
public enum RunGates {
    public enum Priority: String, Codable, Sendable, CaseIterable {
        case p0 = "P0"
        case p1 = "P1"
        case p2 = "P2"
    }

    public enum Status: String, Codable, Sendable {
        case pass = "PASS"
        case warn = "WARN"
        case fail = "FAIL"
        /// A P2 row, or a gate with nothing to compare (no budget).
        case info = "INFO"
    }

    /// The figures gates can bound (the session report's KEY names, lowercased).
    public enum Metric: String, Codable, Sendable, CaseIterable {
        case casesTotal = "cases_total"
        case passRate = "pass_rate"
        case failedForGood = "failed_for_good"
        /// Spend over the budget, in USD (0 within it); skipped when there is no budget.
        case overBudgetUSD = "over_budget_usd"
        case p95MS = "p95_ms"
        case warnings
        /// Dead letters added since the previous run.
        case dlqGrowth = "dlq_growth"
        case costPerTask = "cost_per_task"
        case durationMS = "duration_ms"
        case costUSD = "cost_usd"
    }

    /// One gate: `metric` must be at least `min` and at most `max`.
    public struct Gate: Codable, Sendable, Equatable {
        public var metric: Metric
        public var priority: Priority
        public var min: Double?
        public var max: Double?

        public init(_ metric: Metric, _ priority: Priority, min: Double? = nil, max: Double? = nil) {
            self.metric = metric
            self.priority = priority
            self.min = min
            self.max = max
        }

        /// `>= 1`, `<= 0`, `≥ 0.8 and ≤ 1`, or `—`.
        public var threshold: String {
            switch (min, max) {
            case (let lo?, let hi?): return ">= \(RunGates.format(lo, metric)) and <= \(RunGates.format(hi, metric))"
            case (let lo?, nil): return ">= \(RunGates.format(lo, metric))"
            case (nil, let hi?): return "<= \(RunGates.format(hi, metric))"
            case (nil, nil): return "—"
            }
        }
    }

    /// The gates of a profile when `report.gates` says nothing else.
    public static let defaults: [Gate] = [
        Gate(.casesTotal, .p0, min: 1),
        Gate(.failedForGood, .p0, max: 0),
        Gate(.overBudgetUSD, .p0, max: 0),
        Gate(.passRate, .p1, min: 0.8),
        Gate(.p95MS, .p1, max: 1_800_000),
        Gate(.warnings, .p1, max: 0),
        Gate(.dlqGrowth, .p1, max: 0),
        Gate(.costPerTask, .p2),
        Gate(.durationMS, .p2),
    ]

    /// The gates for `profile`: the defaults, with `report.gates.default` and then
    /// `report.gates.<profile>` replacing the gates of the metrics they name.
    public static func gates(profile: String, overrides: [String: [Gate]]) -> [Gate] {
        var gates = defaults
        for key in ["default", profile] {
            for g in overrides[key] ?? [] {
                if let i = gates.firstIndex(where: { $0.metric == g.metric }) { gates[i] = g } else { gates.append(g) }
            }
        }
        return gates
    }

    /// One row of the threshold table.
    public struct Row: Codable, Sendable, Equatable {
        public var metric: Metric
        public var priority: Priority
        public var threshold: String
        public var current: Double?
        public var previous: Double?
        public var status: Status

        public var delta: Double? {
            guard let c = current, let p = previous else { return nil }
            return c - p
        }
    }

    public struct Verdict: Codable, Sendable, Equatable {
        public var result: RunResult
        public var rows: [Row]
        /// The metrics whose gates were breached, P0 first.
        public var breaches: [Metric]
    }

    /// Judges `current` (metric → value; a missing value skips its gate) against `gates`.
    public static func evaluate(_ gates: [Gate], current: [Metric: Double], previous: [Metric: Double]?) -> Verdict {
        var rows: [Row] = []
        var p0: [Metric] = []
        var p1: [Metric] = []
        for g in gates {
            let value = current[g.metric]
            var status = Status.info
            if g.priority != .p2, let value, g.min != nil || g.max != nil {
                let ok = (g.min.map { value >= $0 } ?? true) && (g.max.map { value <= $0 } ?? true)
                if ok {
                    status = .pass
                } else if g.priority == .p0 {
                    status = .fail
                    p0.append(g.metric)
                } else {
                    status = .warn
                    p1.append(g.metric)
                }
            }
            rows.append(
                Row(
                    metric: g.metric, priority: g.priority, threshold: g.threshold, current: value,
                    previous: previous?[g.metric], status: status))
        }
        return Verdict(result: !p0.isEmpty ? .fail : (!p1.isEmpty ? .warn : .pass), rows: rows, breaches: p0 + p1)
    }

    /// A metric's value as the report shows it.
    public static func format(_ v: Double, _ metric: Metric) -> String {
        switch metric {
        case .passRate: return String(format: "%.1f%%", v * 100)
        case .overBudgetUSD, .costPerTask, .costUSD: return String(format: "%.4f", v)
        case .p95MS, .durationMS: return RunSummary.formatMS(Int(v))
        default: return v == v.rounded() ? String(Int(v)) : String(format: "%.2f", v)
        }
    }
}

/// A run's verdict (`RESULT`).
public enum RunResult: String, Codable, Sendable {
    case pass = "PASS"
    case warn = "WARN"
    case fail = "FAIL"
}

/// `▁▂▃▄▅▆▇` sparklines of a KPI over the last runs.
public enum Sparkline {
    static let bars = Array("▁▂▃▄▅▆▇")

    /// One bar per value, scaled between their min and max (all the same → the middle bar).
    public static func render(_ values: [Double]) -> String {
        guard let lo = values.min(), let hi = values.max() else { return "" }
        return String(
            values.map { v -> Character in
                guard hi > lo else { return bars[bars.count / 2] }
                let i = Int(((v - lo) / (hi - lo) * Double(bars.count - 1)).rounded())
                return bars[Swift.min(bars.count - 1, Swift.max(0, i))]
            })
    }

    /// `pass rate   ▁▃▇  min 50.0% median 80.0% max 100.0%`, or "not enough history".
    public static func line(_ label: String, _ values: [Double], format: (Double) -> String) -> String {
        let name = label.padding(toLength: 14, withPad: " ", startingAt: 0)
        guard values.count >= 2 else { return "\(name)not enough history (\(values.count) run)" }
        let sorted = values.sorted()
        let median =
            sorted.count % 2 == 1
            ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
        return
            "\(name)\(render(values))  min \(format(sorted.first!)) median \(format(median)) max \(format(sorted.last!))"
    }
}
