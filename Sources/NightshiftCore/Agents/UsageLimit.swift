import Foundation

/// An agent refused because the account's usage limit is reached: the task goes back to
/// pending until the limit resets (without using up an attempt) and its executor is paused
/// until then, so no other task starts only to hit the same wall.
public struct UsageLimit: Sendable, Equatable {
    /// When the limit resets, when the agent said; nil = unknown (exponential backoff).
    public var resetsAt: Date?
    /// The words that said so (for the task's error and the log).
    public var evidence: String

    public init(resetsAt: Date?, evidence: String) {
        self.resetsAt = resetsAt
        self.evidence = evidence
    }

    /// A limit in an agent's final message: Claude's `usage limit reached|<epoch>`, "... limit
    /// reached ∙ resets 3pm", an `api_error_status` of 429; Codex's "usage limit ... try again
    /// in 2 hours 14 minutes". Nil when `text` says nothing of a limit.
    public static func detect(
        text: String, apiErrorStatus: Int? = nil, now: Date, timeZone: TimeZone = .current
    ) -> UsageLimit? {
        let lower = text.lowercased()
        let says =
            apiErrorStatus == 429 || lower.contains("usage limit") || lower.contains("limit reached")
            || lower.contains("rate limit") || lower.contains("quota exceeded") || lower.contains("out of credits")
        guard says else { return nil }
        let evidence = String(text.prefix(300))
        return UsageLimit(resetsAt: resetTime(in: text, now: now, timeZone: timeZone), evidence: evidence)
    }

    /// A limit in a plain executor's output tail, by its configured regex
    /// (`usage_limit_pattern`); the reset time is read from the matched text when it has one.
    public static func detect(tail: String, pattern: String, now: Date, timeZone: TimeZone = .current) -> UsageLimit? {
        guard !pattern.isEmpty, let re = try? NSRegularExpression(pattern: pattern, options: [.caseInsensitive]) else {
            return nil
        }
        let range = NSRange(tail.startIndex..., in: tail)
        guard let m = re.matches(in: tail, range: range).last, let r = Range(m.range, in: tail) else { return nil }
        let lineRange = tail.lineRange(for: r)
        let line = String(tail[lineRange]).trimmingCharacters(in: .whitespacesAndNewlines)
        return UsageLimit(resetsAt: resetTime(in: line, now: now, timeZone: timeZone), evidence: String(line.prefix(300)))
    }

    /// The reset time a message names: `|<epoch seconds>`, "try again in 2 hours 14 minutes"
    /// (also "in 30s", "in 1h 5m"), or "resets 3pm" / "resets at 15:30" (the next such time of
    /// day, in `timeZone`).
    public static func resetTime(in text: String, now: Date, timeZone: TimeZone = .current) -> Date? {
        if let bar = text.lastIndex(of: "|") {
            let digits = text[text.index(after: bar)...].prefix { $0.isNumber }
            if digits.count >= 9, let epoch = Double(digits) {
                return Date(timeIntervalSince1970: epoch > 1e11 ? epoch / 1000 : epoch)
            }
        }
        let lower = text.lowercased()
        if let r = lower.range(of: "try again in ") ?? lower.range(of: "retry in ") ?? lower.range(of: "resets in ") {
            if let seconds = spokenDuration(String(lower[r.upperBound...])), seconds > 0 {
                return now.addingTimeInterval(seconds)
            }
        }
        if let r = lower.range(of: "resets at ") ?? lower.range(of: "resets ") ?? lower.range(of: "reset at ") {
            return timeOfDay(String(lower[r.upperBound...]), now: now, timeZone: timeZone)
        }
        return nil
    }

    /// "2 hours 14 minutes", "1h 5m", "30 seconds", "5 days 3 hours" → seconds.
    static func spokenDuration(_ text: String) -> Double? {
        let units: [(String, Double)] = [
            ("days", 86400), ("day", 86400), ("d", 86400), ("hours", 3600), ("hour", 3600), ("hrs", 3600), ("hr", 3600),
            ("h", 3600), ("minutes", 60), ("minute", 60), ("mins", 60), ("min", 60), ("m", 60), ("seconds", 1),
            ("second", 1), ("secs", 1), ("sec", 1), ("s", 1),
        ]
        var total = 0.0
        var found = false
        var rest = Substring(text)
        while true {
            rest = rest.drop { $0 == " " || $0 == "," }
            if rest.hasPrefix("and ") { rest = rest.dropFirst(4) }
            let number = rest.prefix { $0.isNumber || $0 == "." }
            guard !number.isEmpty, let value = Double(number) else { break }
            rest = rest.dropFirst(number.count).drop { $0 == " " }
            guard
                let unit = units.first(where: { u in
                    rest.hasPrefix(u.0) && (rest.dropFirst(u.0.count).first.map { !$0.isLetter } ?? true)
                })
            else { break }
            total += value * unit.1
            found = true
            rest = rest.dropFirst(unit.0.count)
        }
        return found ? total : nil
    }

    /// "3pm", "3:30 pm", "15:00", optionally followed by "(Area/City)" → the next such time.
    static func timeOfDay(_ text: String, now: Date, timeZone: TimeZone) -> Date? {
        var rest = Substring(text).drop { $0 == " " }
        let hourText = rest.prefix { $0.isNumber }
        guard !hourText.isEmpty, var hour = Int(hourText), hour < 24 else { return nil }
        rest = rest.dropFirst(hourText.count)
        var minute = 0
        if rest.first == ":" {
            let m = rest.dropFirst().prefix { $0.isNumber }
            guard m.count == 2, let mm = Int(m), mm < 60 else { return nil }
            minute = mm
            rest = rest.dropFirst(1 + m.count)
        }
        rest = rest.drop { $0 == " " }
        if rest.hasPrefix("am") || rest.hasPrefix("a.m.") {
            guard (1...12).contains(hour) else { return nil }
            if hour == 12 { hour = 0 }
            rest = rest.dropFirst(2)
        } else if rest.hasPrefix("pm") || rest.hasPrefix("p.m.") {
            guard (1...12).contains(hour) else { return nil }
            if hour != 12 { hour += 12 }
            rest = rest.dropFirst(2)
        } else if hourText.count < 2 && minute == 0 && !text.contains(":") {
            return nil  // a bare number is not a time of day
        }
        var zone = timeZone
        if let open = rest.firstIndex(of: "("), let close = rest[open...].firstIndex(of: ")"),
            let named = TimeZone(identifier: String(rest[rest.index(after: open)..<close]).capitalizedZoneName)
        {
            zone = named
        }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        var parts = calendar.dateComponents([.year, .month, .day], from: now)
        parts.hour = hour
        parts.minute = minute
        parts.second = 0
        guard let today = calendar.date(from: parts) else { return nil }
        return today > now ? today : calendar.date(byAdding: .day, value: 1, to: today)
    }

    /// Where a task waits when the agent gave no reset time: `base` doubled per limit in a row, at most `max`.
    public static func backoff(base: Double, max: Double, consecutive: Int) -> Double {
        Swift.min(max, base * pow(2, Double(Swift.max(0, consecutive - 1))))
    }
}

extension String {
    /// "europe/berlin" → "Europe/Berlin" (zone names in lowercased text).
    fileprivate var capitalizedZoneName: String {
        split(separator: "/").map { part in
            part.split(separator: "_").map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined(separator: "_")
        }.joined(separator: "/")
    }
}
