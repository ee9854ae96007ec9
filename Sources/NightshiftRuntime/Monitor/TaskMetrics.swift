import Foundation
import NightshiftCore
import NightshiftStore

/// Success rate and duration percentiles over recent finished tasks (`/api/agent/metrics`).
public struct TaskMetrics: Encodable, Sendable, Equatable {
    public struct Durations: Encodable, Sendable, Equatable {
        public var p50: Double?
        public var p95: Double?
        public var max: Double?
        // Unknown values are null, not missing.
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(p50, forKey: .p50)
            try c.encode(p95, forKey: .p95)
            try c.encode(max, forKey: .max)
        }
        enum CodingKeys: String, CodingKey { case p50, p95, max }
    }

    public struct ByType: Encodable, Sendable, Equatable {
        public var finished: Int
        public var completed: Int
        public var failed: Int
        public var successRate: Double?
        public var p50: Double?
        public var p95: Double?
        enum CodingKeys: String, CodingKey {
            case finished, completed, failed, p50, p95
            case successRate = "success_rate"
        }
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(finished, forKey: .finished)
            try c.encode(completed, forKey: .completed)
            try c.encode(failed, forKey: .failed)
            try c.encode(successRate, forKey: .successRate)
            try c.encode(p50, forKey: .p50)
            try c.encode(p95, forKey: .p95)
        }
    }

    public var windowSize: Int
    public var finished: Int
    public var completed: Int
    public var failed: Int
    public var successRate: Double?
    public var durationSeconds: Durations
    public var costUSDTotal: Double
    public var byType: [String: ByType]

    enum CodingKeys: String, CodingKey {
        case finished, completed, failed
        case windowSize = "window_size"
        case successRate = "success_rate"
        case durationSeconds = "duration_seconds"
        case costUSDTotal = "cost_usd_total"
        case byType = "by_type"
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(windowSize, forKey: .windowSize)
        try c.encode(finished, forKey: .finished)
        try c.encode(completed, forKey: .completed)
        try c.encode(failed, forKey: .failed)
        try c.encode(successRate, forKey: .successRate)
        try c.encode(durationSeconds, forKey: .durationSeconds)
        try c.encode(costUSDTotal, forKey: .costUSDTotal)
        try c.encode(byType, forKey: .byType)
    }

    /// Nearest-rank percentile of sorted values.
    public static func percentile(_ sorted: [Double], _ p: Double) -> Double? {
        guard !sorted.isEmpty else { return nil }
        let rank = Int((p / 100 * Double(sorted.count)).rounded(.up))
        return sorted[min(max(rank, 1), sorted.count) - 1]
    }

    public static func compute(_ samples: [FinishedSample], windowSize: Int) -> TaskMetrics {
        func rate(_ c: Int, _ f: Int) -> Double? { c + f == 0 ? nil : Double(c) / Double(c + f) }
        let completed = samples.filter { $0.status == .completed }.count
        let durations = samples.compactMap(\.durationSeconds).sorted()
        var byType: [String: ByType] = [:]
        for (type, group) in Dictionary(grouping: samples, by: { $0.taskType.rawValue }) {
            let c = group.filter { $0.status == .completed }.count
            let d = group.compactMap(\.durationSeconds).sorted()
            byType[type] = ByType(
                finished: group.count, completed: c, failed: group.count - c, successRate: rate(c, group.count - c),
                p50: percentile(d, 50), p95: percentile(d, 95))
        }
        return TaskMetrics(
            windowSize: windowSize, finished: samples.count, completed: completed, failed: samples.count - completed,
            successRate: rate(completed, samples.count - completed),
            durationSeconds: Durations(p50: percentile(durations, 50), p95: percentile(durations, 95), max: durations.last),
            costUSDTotal: samples.compactMap(\.costUSD).reduce(0, +), byType: byType)
    }
}
