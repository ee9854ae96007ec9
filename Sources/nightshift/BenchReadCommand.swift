import ArgumentParser
import Foundation
import NightshiftBench
import NightshiftStore

/// `nightshift bench store --read` and `nightshift bench seed`: the read path at N tasks.
enum BenchRead {
    static func run(tasks: Int, runs: Int, dir: String, database: String?) async throws {
        guard runs > 0 else { throw CLIFailure(message: "--runs must be positive", code: 2) }
        let path = database ?? (dir as NSString).appendingPathComponent("bench-read-\(UUID().uuidString).sqlite")
        defer {
            if database == nil {
                StoreBenchmark.removeDatabase(path)
            }
        }
        do {
            if !FileManager.default.fileExists(atPath: path) {
                let seconds = try ReadBenchmark.seed(path: path, tasks: tasks)
                print(String(format: "seeded %d tasks in %.1f s", tasks, seconds))
            }
            try await ReadBenchmark.run(path: path, runs: runs) { print($0) }
        } catch let e as StoreError {
            throw CLIFailure(message: e.description)
        }
    }
}

extension BenchCommand {
    /// Fills a state dir's store with N tasks for `scripts/bench_api.sh` (a daemon then serves it).
    struct Seed: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Seed a state dir's store with N tasks of a night's status mix (for scripts/bench_api.sh).")
        @Option(help: "The state dir whose nightshift.sqlite is filled (created if needed).") var stateDir: String
        @Option(help: "Tasks to add.") var tasks = 10_000

        func run() async throws {
            try await runReporting {
                guard tasks > 0 else { throw CLIFailure(message: "--tasks must be positive", code: 2) }
                try FileManager.default.createDirectory(atPath: stateDir, withIntermediateDirectories: true)
                do {
                    let seconds = try ReadBenchmark.seed(
                        path: (stateDir as NSString).appendingPathComponent(SQLiteTaskStore.fileName), tasks: tasks)
                    print(String(format: "seeded %d tasks in %.1f s", tasks, seconds))
                } catch let e as StoreError {
                    throw CLIFailure(message: e.description)
                }
            }
        }
    }
}
