import NightshiftCore
import Testing

@Suite("ConfigValues")
struct ConfigValuesTests {
    @Test(
        "durations in every unit",
        arguments: [
            ("500ms", 0.5), ("10s", 10), ("5m", 300), ("24h", 86_400), ("7d", 604_800), ("0", 0), ("0s", 0),
            ("1.5h", 5_400), ("0.5s", 0.5), ("1ms", 0.001), (" 10s ", 10), ("90m", 5_400),
        ] as [(String, Double)])
    func durations(text: String, seconds: Double) {
        #expect(ConfigValues.parseDuration(text) == seconds)
    }

    @Test(
        "malformed durations are refused",
        arguments: [
            "", " ", "-1s", "+1s", "10", "1", "ms", "s", "h", "10x", "10 s", "ten s", "1w", "1sec", "nans", "infs", "s10", "10S",
            "1e400s",
        ])
    func badDurations(text: String) {
        #expect(ConfigValues.parseDuration(text) == nil)
    }

    @Test(
        "byte sizes in every unit",
        arguments: [
            ("5MiB", 5 * 1024 * 1024), ("512KiB", 512 * 1024), ("1GiB", 1024 * 1024 * 1024), ("1000", 1000),
            ("10MB", 10_000_000), ("2KB", 2000), ("1GB", 1_000_000_000), ("7B", 7), ("0", 0), (" 5MiB ", 5 * 1024 * 1024),
        ] as [(String, Int)])
    func byteSizes(text: String, bytes: Int) {
        #expect(ConfigValues.parseByteSize(text) == bytes)
    }

    @Test("malformed byte sizes are refused", arguments: ["", "-1", "-1MiB", "MiB", "1.5MiB", "5mib", "5 TiB", "lots", "5MiBs"])
    func badByteSizes(text: String) {
        #expect(ConfigValues.parseByteSize(text) == nil)
    }

    /// A size whose byte count does not fit in an `Int` must be refused, not trap on overflow.
    /// Run in a child process so a crash fails this test instead of killing the whole run.
    @Test("a byte size too large for Int is refused without crashing")
    func byteSizeOverflow() async {
        await #expect(processExitsWith: .success) {
            precondition(ConfigValues.parseByteSize("9999999999GiB") == nil)
        }
    }

    /// Every duration must be a finite number of seconds: the runtime turns them into `Duration`s.
    @Test("a duration too large to represent is refused", arguments: ["1e306d", "1e308h", "1e308m"])
    func durationOverflow(text: String) {
        let seconds = ConfigValues.parseDuration(text)
        #expect(seconds == nil || seconds!.isFinite, "\(text) parsed to \(String(describing: seconds))")
    }

    @Test(
        "formatDuration renders the config syntax and parses back",
        arguments: [
            (0, "0"), (0.5, "500ms"), (10, "10s"), (300, "5m"), (86_400, "1d"), (3_600, "1h"), (90, "90s"), (5_400, "90m"),
        ]
            as [(Double, String)])
    func formatDuration(seconds: Double, text: String) {
        #expect(ConfigValues.formatDuration(seconds) == text)
        #expect(ConfigValues.parseDuration(text) == seconds)
    }
}
