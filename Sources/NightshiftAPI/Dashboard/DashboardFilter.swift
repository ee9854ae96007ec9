import Foundation
import Hummingbird
import NightshiftCore
import NightshiftStore

/// The dashboard's filters, which live in the URL: `status`, `type`, `item`, `error_class` and
/// `run` (`?status=failed&type=impl`). The same filter narrows the tables, the live updates and
/// the bulk actions.
struct DashboardFilter: Sendable, Equatable {
    var statuses: [TaskStatus] = []
    var types: [TaskType] = []
    var item: String?
    var errorClass: String?
    var run: String?

    /// The query parameters a filter reads, in the order it writes them.
    static let names = ["status", "type", "item", "error_class", "run"]

    /// Reads the filter from a query; unknown values are a 422 naming the parameter.
    static func parse(_ q: [String: String], knownTypes: [TaskType]) throws -> DashboardFilter {
        var f = DashboardFilter()
        var errors: [Problem.FieldError] = []
        func value(_ name: String) -> String? {
            guard let v = q[name]?.trimmingCharacters(in: .whitespaces), !v.isEmpty else { return nil }
            return v
        }
        if let s = value("status") {
            for part in s.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) {
                if let st = TaskStatus(rawValue: part) {
                    f.statuses.append(st)
                } else {
                    errors.append(.init(field: "status", message: "unknown status \"\(part)\""))
                }
            }
        }
        if let t = value("type") {
            for part in t.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) {
                if knownTypes.contains(TaskType(part)) {
                    f.types.append(TaskType(part))
                } else {
                    errors.append(.init(field: "type", message: "unknown task type \"\(part)\""))
                }
            }
        }
        f.item = value("item")
        f.errorClass = value("error_class")
        if let r = value("run") {
            if RunID.isValid(r) {
                f.run = r
            } else {
                errors.append(.init(field: "run", message: RunID.problem(r) ?? "bad run id"))
            }
        }
        for (name, v) in [("item", f.item), ("error_class", f.errorClass)] where (v?.count ?? 0) > 200 {
            errors.append(.init(field: name, message: "at most 200 characters"))
        }
        if !errors.isEmpty { throw Problem.invalid(errors) }
        return f
    }

    var isEmpty: Bool { self == DashboardFilter() }

    /// The filter as query pairs (empty ones left out).
    var pairs: [(String, String)] {
        var out: [(String, String)] = []
        if !statuses.isEmpty { out.append(("status", statuses.map(\.rawValue).joined(separator: ","))) }
        if !types.isEmpty { out.append(("type", types.map(\.rawValue).joined(separator: ","))) }
        if let item { out.append(("item", item)) }
        if let errorClass { out.append(("error_class", errorClass)) }
        if let run { out.append(("run", run)) }
        return out
    }

    var queryString: String { FormBody.encode(pairs) }

    /// Whether a section of these statuses shows anything under the filter.
    func allows(_ status: TaskStatus) -> Bool { statuses.isEmpty || statuses.contains(status) }

    /// The store query of one section: its statuses that the filter allows, and the rest.
    func query(_ section: [TaskStatus], limit: Int) -> TaskQuery? {
        let wanted = section.filter(allows)
        guard !wanted.isEmpty else { return nil }
        var q = TaskQuery(statuses: wanted, taskTypes: types, backlogItem: item, limit: limit)
        q.errorClass = errorClass
        q.runID = run
        return q
    }

    /// Whether one task passes the filter (for the live updates of single rows).
    func matches(_ t: AgentTask) -> Bool {
        allows(t.status) && (types.isEmpty || types.contains(t.taskType)) && (item == nil || t.backlogItem == item)
            && (errorClass == nil || t.errorClass == errorClass) && (run == nil || t.runID == run)
    }
}

extension Request {
    /// The query as a dictionary (the last value of a repeated name wins).
    var queryDictionary: [String: String] {
        var out: [String: String] = [:]
        for (k, v) in uri.queryParameters { out[String(k)] = String(v) }
        return out
    }
}
