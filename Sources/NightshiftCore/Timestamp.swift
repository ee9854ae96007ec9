import Foundation

/// RFC 3339 UTC timestamps with `Z` and milliseconds, the one time format of the API and files.
public enum Timestamp {
    /// Rounded to the nearest millisecond with integer arithmetic (the formatter truncates, and
    /// a Double seldom holds a whole millisecond exactly), so a parsed time formats back to the
    /// same text.
    public static func format(_ date: Date) -> String {
        let ms = Int64((date.timeIntervalSince1970 * 1000).rounded())
        let seconds = Date(
            timeIntervalSince1970: Double(ms.quotientAndRemainder(dividingBy: 1000).quotient - (ms < 0 && ms % 1000 != 0 ? 1 : 0))
        )
        let fraction = ((ms % 1000) + 1000) % 1000
        let whole = seconds.formatted(wholeSeconds)
        return String(whole.dropLast()) + "." + String(format: "%03d", fraction) + "Z"
    }

    private static let wholeSeconds = Date.ISO8601FormatStyle(includingFractionalSeconds: false, timeZone: .gmt)

    public static func parse(_ text: String) -> Date? {
        if let d = try? style.parse(text) { return d }
        return try? Date.ISO8601FormatStyle(includingFractionalSeconds: false).parse(text)
    }

    private static let style = Date.ISO8601FormatStyle(includingFractionalSeconds: true, timeZone: .gmt)
}

extension JSONEncoder {
    /// The encoder for everything Nightshift shows: snake_case keys are explicit in each type,
    /// dates are RFC 3339 UTC, keys sorted so files diff well.
    public static func nightshift(pretty: Bool = false) -> JSONEncoder {
        let e = JSONEncoder()
        e.dateEncodingStrategy = .custom { date, encoder in
            var c = encoder.singleValueContainer()
            try c.encode(Timestamp.format(date))
        }
        e.outputFormatting =
            pretty ? [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        return e
    }
}

extension JSONDecoder {
    public static func nightshift() -> JSONDecoder {
        let d = JSONDecoder()
        d.dateDecodingStrategy = .custom { decoder in
            let c = try decoder.singleValueContainer()
            let text = try c.decode(String.self)
            guard let date = Timestamp.parse(text) else {
                throw DecodingError.dataCorruptedError(in: c, debugDescription: "not an RFC 3339 time: \(text)")
            }
            return date
        }
        return d
    }
}
