import Foundation

/// A run's tasks as flat records (`reports/export/<run_id>.csv|json`): what a spreadsheet or a
/// script reads. The JSON form follows `api/task_export.schema.json`.
public struct TaskExport: Codable, Sendable, Equatable {
    public struct Record: Codable, Sendable, Equatable {
        public var runID: String
        public var taskID: String
        public var item: String?
        public var phase: String
        public var taskType: String
        public var status: String
        public var attempts: Int
        public var retries: Int
        public var durationMS: Int?
        public var costUSD: Double
        public var tokensIn: Int
        public var tokensOut: Int
        public var errorClass: String?

        enum CodingKeys: String, CodingKey {
            case item, phase, status, attempts, retries
            case runID = "run_id"
            case taskID = "task_id"
            case taskType = "task_type"
            case durationMS = "duration_ms"
            case costUSD = "cost_usd"
            case tokensIn = "tokens_in"
            case tokensOut = "tokens_out"
            case errorClass = "error_class"
        }

        /// Every key, nulls included: the schema requires them all.
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(runID, forKey: .runID)
            try c.encode(taskID, forKey: .taskID)
            try c.encode(item, forKey: .item)
            try c.encode(phase, forKey: .phase)
            try c.encode(taskType, forKey: .taskType)
            try c.encode(status, forKey: .status)
            try c.encode(attempts, forKey: .attempts)
            try c.encode(retries, forKey: .retries)
            try c.encode(durationMS, forKey: .durationMS)
            try c.encode(costUSD, forKey: .costUSD)
            try c.encode(tokensIn, forKey: .tokensIn)
            try c.encode(tokensOut, forKey: .tokensOut)
            try c.encode(errorClass, forKey: .errorClass)
        }
    }

    public var runID: String
    public var generatedAt: Date
    public var tasks: [Record]

    enum CodingKeys: String, CodingKey {
        case tasks
        case runID = "run_id"
        case generatedAt = "generated_at"
    }

    public init(summary: RunSummary) {
        runID = summary.run.id
        generatedAt = summary.generatedAt
        tasks = summary.tasks.map {
            Record(
                runID: summary.run.id, taskID: $0.id, item: $0.item, phase: $0.phase, taskType: $0.taskType,
                status: $0.status.rawValue, attempts: $0.attempts, retries: $0.retries, durationMS: $0.durationMS,
                costUSD: $0.costUSD, tokensIn: $0.tokensIn, tokensOut: $0.tokensOut, errorClass: $0.errorClass)
        }
    }

    public static let csvColumns = [
        "run_id", "task_id", "item", "phase", "task_type", "status", "attempts", "retries", "duration_ms", "cost_usd",
        "tokens_in", "tokens_out", "error_class",
    ]

    /// RFC 4180 CSV with a header row and CRLF line ends, every text field quoted (quotes
    /// doubled), so Excel and scripts read it alike. A text that starts with `=`, `+`, `-` or `@`
    /// gets a leading `'` so a spreadsheet never runs it as a formula.
    public func csv() -> String {
        var out = Self.csvColumns.joined(separator: ",") + "\r\n"
        for r in tasks {
            let fields: [String] = [
                Self.quote(r.runID), Self.quote(r.taskID), r.item.map(Self.quote) ?? "", Self.quote(r.phase),
                Self.quote(r.taskType), Self.quote(r.status), "\(r.attempts)", "\(r.retries)",
                r.durationMS.map { "\($0)" } ?? "", String(format: "%.6f", r.costUSD), "\(r.tokensIn)", "\(r.tokensOut)",
                r.errorClass.map(Self.quote) ?? "",
            ]
            out += fields.joined(separator: ",") + "\r\n"
        }
        return out
    }

    static func quote(_ text: String) -> String {
        var t = text
        if let first = t.first, "=+-@".contains(first) { t = "'" + t }
        return "\"" + t.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
