import Foundation
import NightshiftTesting
import Testing

/// The shared test helpers do what the other suites rely on.
@Suite("test helpers")
struct TestingHelpersTests {
    @Test("MutableNow moves only when told to")
    func clock() {
        let clock = MutableNow()
        let start = clock.now
        #expect(clock.now == start)
        #expect(clock.advance(by: 90) == start.addingTimeInterval(90))
        clock.set(start)
        #expect(clock.provider() == start)
    }

    @Test("TemporaryDirectory creates a private place and removes it")
    func temporaryDirectory() throws {
        let dir = try TemporaryDirectory()
        let file = try dir.write("hello", to: "a/b.txt")
        #expect(try String(contentsOfFile: file, encoding: .utf8) == "hello")
        dir.remove()
        #expect(!FileManager.default.fileExists(atPath: dir.path))
    }

    @Test("waitFor reports a condition that never holds, and one that does")
    func waiting() async {
        #expect(await waitFor(timeout: 0.05) { false } == false)
        var calls = 0
        #expect(
            await waitFor(timeout: 5) {
                calls += 1
                return calls >= 3
            })
        #expect(calls == 3)
    }
}
