import ArgumentParser
import Foundation
import NightshiftBench
import NightshiftCore
import NightshiftRuntime

/// `nightshift bench archive`: how long a run's `run.tar.gz` and its sha256 take for a run with
/// this many MiB of logs (agent-like text, which compresses as real logs do).
struct ArchiveBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "archive", abstract: "Archive and hash a run with N MiB of logs: size, seconds, MiB/s.")

    @Option(help: "MiB of logs in the run.") var mib = 100
    @Option(help: "Log files they are spread over.") var files = 40
    @Option(help: "Scratch directory.") var dir = FileManager.default.temporaryDirectory.path

    func run() async throws {
        try await runReporting {
            guard mib > 0, files > 0 else { throw CLIFailure(message: "--mib and --files must be at least 1", code: 2) }
            let root = (dir as NSString).appendingPathComponent("nightshift-bench-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(atPath: root) }
            let paths = StatePaths(root: root)
            let id = RunID.generate()
            let run = try RunFiles(paths: paths.run(id))
            try run.write(
                RunInfo(
                    id: id, mode: .daemon, target: root, backlog: "", gitSHA: "bench", configDigest: "bench", host: "bench",
                    startedAt: Date()))
            // Lines that vary like an agent's: step numbers, durations, paths, hashes.
            var generator = SystemRandomNumberGenerator()
            let perFile = mib * 1024 * 1024 / files
            for f in 0..<files {
                let itemDir = (run.paths.logsDir as NSString).appendingPathComponent("\(f % 8 + 1)")
                try AtomicFile.ensureDirectory(itemDir)
                var text = ""
                text.reserveCapacity(perFile + 200)
                var n = 0
                while text.utf8.count < perFile {
                    n += 1
                    let hash = String(UInt64.random(in: 0...UInt64.max, using: &generator), radix: 16)
                    text +=
                        "2026-12-01T22:\(String(format: "%02d", n % 60)):\(String(format: "%02d", n % 59)).\(n % 1000)Z step \(n) compiled Sources/Module\(n % 97)/File\(n % 13).swift in \(Double(n % 900) / 100)s (\(hash))\n"
                }
                let path = (itemDir as NSString).appendingPathComponent(
                    String(format: "%02d", f + 1) + "-impl-task_\(hash16(f)).log")
                try Data(text.utf8).write(to: URL(fileURLWithPath: path))
            }
            let start = ContinuousClock.now
            let cpu0 = Measure.processCPUSeconds()
            let archive = try run.archive(stateRoot: root)
            let seconds = (ContinuousClock.now - start).inSeconds
            let hashStart = ContinuousClock.now
            _ = try RunReporter.sha256(of: run.paths.archive)
            let hashSeconds = (ContinuousClock.now - hashStart).inSeconds
            print("bench archive: \(mib) MiB of logs in \(files) files")
            print(String(format: "  archive + sha256: %.2f s (%.1f MiB/s of logs)", seconds, Double(mib) / seconds))
            print(String(format: "  sha256 alone: %.3f s", hashSeconds))
            print(
                "  run.tar.gz: \(Preflight.formatBytes(archive.bytes)) (\(String(format: "%.1f", Double(mib * 1024 * 1024) / Double(archive.bytes)))x)"
            )
            print(String(format: "  this process's CPU: %.2f s (tar runs in its own)", Measure.processCPUSeconds() - cpu0))
        }
    }

    func hash16(_ n: Int) -> String { String(format: "%016llx", UInt64(n) &* 0x9E37_79B9_7F4A_7C15) }
}
