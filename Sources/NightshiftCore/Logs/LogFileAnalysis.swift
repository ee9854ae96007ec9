import Foundation

/// The deterministic analyzers of `nightshift logs stats` and `logs extract` (issue 13,
/// point 7): pure functions of the files' names, times and lines, so the same files always
/// print the same bytes.
public enum LogFileAnalysis {
    public enum SortBy: String, Sendable, CaseIterable {
        case name, mtime
    }

    public struct File: Sendable, Equatable {
        public var path: String
        public var modified: Date
        public init(path: String, modified: Date) {
            self.path = path
            self.modified = modified
        }
    }

    /// The files in order (by name, or by mtime then name), the last `lastFiles` of them (0 = all).
    public static func select(_ files: [File], sortBy: SortBy, lastFiles: Int) -> [File] {
        let sorted: [File]
        switch sortBy {
        case .name: sorted = files.sorted { $0.path < $1.path }
        case .mtime: sorted = files.sorted { ($0.modified, $0.path) < ($1.modified, $1.path) }
        }
        return lastFiles > 0 ? Array(sorted.suffix(lastFiles)) : sorted
    }

    /// The default pattern: durations in milliseconds, as group `ms`.
    public static let defaultPattern = #"(?<ms>\d+(?:\.\d+)?)ms"#

    /// `stats`: the header, the FILES line and one SUMMARY line per named group.
    public static func stats(
        files: [File], lines: (File) -> [String], sortBy: SortBy, pattern: NSRegularExpressionBox, rid: String?
    ) -> [String] {
        let names = pattern.groupNames
        var values: [String: [Double]] = [:]
        var events = 0
        for f in files {
            for line in lines(f) {
                if let rid, !line.contains(rid) { continue }
                guard let m = pattern.firstMatch(in: line) else { continue }
                events += 1
                for name in names {
                    let r = m.range(withName: name)
                    guard r.location != NSNotFound, let range = Range(r, in: line), let v = Double(line[range]) else { continue }
                    values[name, default: []].append(v)
                }
            }
        }
        var out = [
            "files=\(files.count) sort_by=\(sortBy.rawValue) events=\(events)",
            "FILES " + (files.isEmpty ? "-" : files.map { ($0.path as NSString).lastPathComponent }.joined(separator: " ")),
        ]
        for name in names { out.append("SUMMARY \(name) " + summary(values[name] ?? [])) }
        return out
    }

    /// `count= min= p50= p90= max= mean= median=` (nearest-rank percentiles; mean to one decimal).
    public static func summary(_ values: [Double]) -> String {
        guard !values.isEmpty else { return "count=0 min=- p50=- p90=- max=- mean=- median=-" }
        let s = values.sorted()
        func rank(_ q: Double) -> Double { s[max(0, Int((q * Double(s.count)).rounded(.up)) - 1)] }
        let mean = s.reduce(0, +) / Double(s.count)
        let median = s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
        return
            "count=\(s.count) min=\(num(s[0])) p50=\(num(rank(0.5))) p90=\(num(rank(0.9))) max=\(num(s[s.count - 1])) mean=\(String(format: "%.1f", mean)) median=\(num(median))"
    }

    /// A whole number without a fraction, else the shortest form (at most 3 decimals).
    public static func num(_ v: Double) -> String {
        if v == v.rounded() && abs(v) < 1e15 { return String(Int64(v)) }
        var text = String(format: "%.3f", v)
        while text.hasSuffix("0") { text.removeLast() }
        return text
    }

    /// `extract`: the lines that contain `rid`, in file order.
    public static func extract(files: [File], lines: (File) -> [String], rid: String) -> [String] {
        files.flatMap { lines($0).filter { $0.contains(rid) } }
    }
}
