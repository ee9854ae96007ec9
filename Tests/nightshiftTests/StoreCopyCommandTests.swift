import Foundation
import NightshiftTesting
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `nightshift store copy` as an operator runs it.
@Suite("nightshift store copy", .serialized)
struct StoreCopyCommandTests {
    @Test(
        "a seeded state dir copies with every count agreeing; a second copy, a missing source and a running daemon are refused",
        .enabled(if: ClusterKillTests.enabled))
    func copy() async throws {
        let dir = try TemporaryDirectory()
        let state = dir.path("state")
        let seeded = try NightshiftBinary.run(["bench", "seed", "--state-dir", state, "--tasks", "300"])
        #expect(seeded.status == 0, "\(seeded.err)")
        let target = try ClusterKillTests.freshStore()

        let first = try NightshiftBinary.run(["store", "copy", "--from", "sqlite:\(state)/nightshift.sqlite", "--to", target])
        #expect(first.status == 0, "\(first.err)")
        #expect(first.out.contains("every count agrees"))
        #expect(first.out.split(separator: "\n").contains { $0.hasPrefix("tasks ") && $0.contains(" 300 ") })

        let again = try NightshiftBinary.run(["store", "copy", "--from", state, "--to", target])
        #expect(again.status == 2)
        #expect(again.err.contains("already holds"))
        #expect(again.err.split(separator: "\n").count == 1)

        let missing = try NightshiftBinary.run(["store", "copy", "--from", dir.path("nowhere"), "--to", target])
        #expect(missing.status == 2 && missing.err.contains("--from"))
        let badTo = try NightshiftBinary.run(["store", "copy", "--from", state, "--to", "mysql://x"])
        #expect(badTo.status == 2 && badTo.err.contains("--to"))

        let config = try DaemonLifecycleTests.writeConfig(dir, agent: "true\n")
        let daemon = try DaemonProcess(stateDir: state, arguments: ["--config", config])
        #expect(await daemon.waitUntilReady())
        let busy = try NightshiftBinary.run(["store", "copy", "--from", state, "--to", try ClusterKillTests.freshStore()])
        #expect(busy.status == 2)
        #expect(busy.err.contains("stop it first"))
        daemon.signal(SIGTERM)
        #expect(await daemon.waitForExit() == 0)
    }
}
