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
