import Foundation

/// Parsers for the value syntaxes of the config file: durations and byte sizes.
public enum ConfigValues {
    /// `500ms`, `10s`, `5m`, `24h`, `7d`, or `0`. Returns seconds.
    public static func parseDuration(_ text: String) -> Double? {
        let t = text.trimmingCharacters(in: .whitespaces)
        if t == "0" { return 0 }
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86400)]
        for (suffix, scale) in units where t.hasSuffix(suffix) {
            let number = t.dropLast(suffix.count)
            // "5ms" also ends with "s": only accept when the rest is a plain number.
            if let n = Double(number), n >= 0, n.isFinite, !number.isEmpty, number.first != "+" {
                // Cap at ten years: longer is a typo, and huge values overflow Duration.
                let seconds = n * scale
                return seconds.isFinite && seconds <= 10 * 365 * 86400 ? seconds : nil
            }
        }
        return nil
    }

    /// `5MiB`, `512KiB`, `1GiB`, `1000` (bytes), `10MB`.
    public static func parseByteSize(_ text: String) -> Int? {
        let t = text.trimmingCharacters(in: .whitespaces)
        let units: [(String, Int)] = [
            ("KiB", 1024), ("MiB", 1024 * 1024), ("GiB", 1024 * 1024 * 1024),
            ("KB", 1000), ("MB", 1_000_000), ("GB", 1_000_000_000), ("B", 1),
        ]
        for (suffix, scale) in units where t.hasSuffix(suffix) {
            guard let n = Int(t.dropLast(suffix.count).trimmingCharacters(in: .whitespaces)), n >= 0 else { return nil }
            let (bytes, overflow) = n.multipliedReportingOverflow(by: scale)
            return overflow ? nil : bytes
        }
        if let n = Int(t), n >= 0 { return n }
        return nil
    }

    /// Renders seconds back in the config syntax, for status output.
    public static func formatDuration(_ seconds: Double) -> String {
        if seconds == 0 { return "0" }
        if seconds < 1 { return "\(Int((seconds * 1000).rounded()))ms" }
        for (unit, scale) in [("d", 86400.0), ("h", 3600.0), ("m", 60.0)]
        where seconds >= scale && seconds.truncatingRemainder(dividingBy: scale) == 0 {
            return "\(Int(seconds / scale))\(unit)"
        }
        if seconds.rounded() == seconds { return "\(Int(seconds))s" }
        return "\(seconds)s"
    }
}
