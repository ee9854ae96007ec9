import Foundation
import NightshiftCore
import Testing

@Suite("Timestamp")
struct TimestampTests {
    @Test("formatting a parsed time gives the same text (milliseconds round, not truncate)")
    func roundTrip() throws {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<10_000 {
            let date = Date(timeIntervalSince1970: Double.random(in: 1_700_000_000...1_900_000_000, using: &rng))
            let text = Timestamp.format(date)
            let parsed = try #require(Timestamp.parse(text))
            #expect(Timestamp.format(parsed) == text)
            #expect(abs(parsed.timeIntervalSince(date)) <= 0.0005 + 1e-6)
        }
    }

    @Test("times are UTC with a Z and milliseconds")
    func shape() {
        #expect(Timestamp.format(Date(timeIntervalSince1970: 1_795_255_200.7726)) == "2026-11-21T10:00:00.773Z")
    }
}

@Suite("Timestamp: the fast path")
struct TimestampFastPathTests {
    /// The formatting before the fast path: the ISO 8601 format style for whole seconds.
    static func reference(_ date: Date) -> String {
        let ms = Int64((date.timeIntervalSince1970 * 1000).rounded())
        let (q, r) = ms.quotientAndRemainder(dividingBy: 1000)
        let seconds = r < 0 ? q - 1 : q
        let fraction = (r + 1000) % 1000
        let whole = Date(timeIntervalSince1970: Double(seconds)).formatted(
            Date.ISO8601FormatStyle(includingFractionalSeconds: false, timeZone: .gmt))
        return String(whole.dropLast()) + "." + String(format: "%03d", fraction) + "Z"
    }

    @Test("the same text as the ISO 8601 format style, before 1582 (Julian), 1600 to 9999 and past it")
    func matchesFormatStyle() {
        var rng = SystemRandomNumberGenerator()
        let edges: [Double] = [
            0, -0.0004, -0.0005, -1, 0.9995, 951_782_400, 4_107_542_400, -30_610_224_000, -30_610_224_000.001,
            253_402_300_799.999, 253_402_300_800, -62_135_596_800, 1_795_255_200.7726,
        ]
        for s in edges + (0..<20_000).map({ _ in Double.random(in: -32_000_000_000...254_000_000_000, using: &rng) }) {
            let d = Date(timeIntervalSince1970: s)
            #expect(Timestamp.format(d) == Self.reference(d), "\(s)")
        }
    }
}
