import Foundation

/// RFC 3339 UTC timestamps with `Z` and milliseconds, the one time format of the API and files.
public enum Timestamp {
    /// Rounded to the nearest millisecond with integer arithmetic (the formatter truncates, and
    /// a Double seldom holds a whole millisecond exactly), so a parsed time formats back to the
    /// same text.
    public static func format(_ date: Date) -> String {
        let ms = Int64((date.timeIntervalSince1970 * 1000).rounded())
        let (secondsPart, fraction) = floorDivide(ms, 1000)
        if let text = civil(seconds: secondsPart, milliseconds: fraction) { return text }
        let whole = Date(timeIntervalSince1970: Double(secondsPart)).formatted(wholeSeconds)
        return String(whole.dropLast()) + "." + String(format: "%03d", fraction) + "Z"
    }

    /// Years 1600 to 9999 by integer arithmetic (days to proleptic Gregorian date, H. Hinnant's
    /// algorithm), the same text as the ISO 8601 format style at a fraction of its cost; nil
    /// outside them (the format style is Julian before October 1582, and pads differently).
    static func civil(seconds: Int64, milliseconds: Int64) -> String? {
        let (days, secondOfDay) = floorDivide(seconds, 86_400)
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        guard (1600...9999).contains(year) else { return nil }
        var b = [UInt8](repeating: 0, count: 24)
        func put(_ n: Int64, _ at: Int, _ width: Int) {
            var n = n
            for i in stride(from: at + width - 1, through: at, by: -1) {
                b[i] = UInt8(ascii: "0") + UInt8(n % 10)
                n /= 10
            }
        }
        put(year, 0, 4)
        put(month, 5, 2)
        put(day, 8, 2)
        put(secondOfDay / 3600, 11, 2)
        put(secondOfDay / 60 % 60, 14, 2)
        put(secondOfDay % 60, 17, 2)
        put(milliseconds, 20, 3)
        (b[4], b[7], b[10], b[13], b[16], b[19], b[23]) = (45, 45, 84, 58, 58, 46, 90)  // - - T : : . Z
        return String(decoding: b, as: UTF8.self)
    }

    static func floorDivide(_ a: Int64, _ b: Int64) -> (quotient: Int64, remainder: Int64) {
        let (q, r) = a.quotientAndRemainder(dividingBy: b)
        return r < 0 ? (q - 1, r + b) : (q, r)
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
