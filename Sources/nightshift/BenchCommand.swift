import ArgumentParser
import Foundation
import NightshiftBench
import NightshiftCore
import NightshiftStore

/// `nightshift bench ...`: figures for the issues (build with -c release first).
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Benchmarks that print figures (use a release build).",
        subcommands: [
            Store.self, RunnerBench.self, WatchdogBench.self, MonitorBench.self, BenchLedger.self, PMBench.self,
            RedactorBench.self, ArchiveBench.self, LogsBench.self, AgentsBench.self, LandBench.self, DashboardBench.self,
            Seed.self,
        ])

    struct Store: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Tasks through create → claim → complete: the store next to plain SQL on the same settings.")
        @Option(help: "Tasks per run.") var tasks = 20_000
        @Option(help: "Tasks per transaction in the batched store run.") var batch = 64
        @Option(help: "Directory for the benchmark databases (on disk).") var dir = FileManager.default.temporaryDirectory.path
        @Flag(help: "Only the batched runs (store and plain SQL), e.g. to profile them.") var batchedOnly = false
        @Flag(help: "The read path instead: seed --tasks tasks, then time counts, lists, paging and the monitor's reads.")
        var read = false
        @Option(help: "With --read: runs of each read.") var runs = 200
        @Option(help: "With --read: a store file to read; seeded with --tasks tasks first when it does not exist, and kept.")
        var database: String?
        @Option(
            help:
                "Also run the store cycle on PostgreSQL (postgres://user@host:port/db), in a scratch schema dropped afterwards.")
        var postgres: String?

        func run() async throws {
            try await runReporting {
                guard tasks > 0, batch > 0 else { throw CLIFailure(message: "--tasks and --batch must be positive", code: 2) }
                if read { return try await BenchRead.run(tasks: tasks, runs: runs, dir: dir, database: database) }
                var location: PostgresLocation?
                if let postgres {
                    do { location = try PostgresLocation.parse(postgres) } catch let e as StoreURLError {
                        throw CLIFailure(message: "--postgres \(e.reason)", code: 2)
                    }
                }
                do {
                    print(StoreBenchmark.sides)
                    // The unbatched runs first (skipped with --batched-only), then the batched ones.
                    var unbatched: (plain: StoreBenchmark.Figures, store: StoreBenchmark.Figures)?
                    if !batchedOnly {
                        let plain = try StoreBenchmark.runPlainSQL(directory: dir, tasks: tasks)
                        print(plain)
                        let single = try await StoreBenchmark.runStore(directory: dir, tasks: tasks, batch: 1)
                        print(single)
                        unbatched = (plain, single)
                    }
                    let plainBatched = try StoreBenchmark.runPlainSQL(directory: dir, tasks: tasks, batch: batch)
                    print(plainBatched)
                    let batched = try await StoreBenchmark.runStore(directory: dir, tasks: tasks, batch: batch)
                    print(batched)
                    if let location {
                        for figures in try await BenchPostgres.run(location, tasks: tasks, batch: batch, batchedOnly: batchedOnly)
                        {
                            print(figures)
                        }
                    }
                    let ratio = batched.perSecond / plainBatched.perSecond * 100
                    let cpuRatio = plainBatched.cpuMicros / batched.cpuMicros * 100
                    if let (plain, single) = unbatched {
                        print(
                            String(
                                format:
                                    "store/plain: %.0f%% one task per transaction; %.0f%% in batches of %d (%.0f%% of unbatched plain SQL)",
                                single.perSecond / plain.perSecond * 100, ratio, batch, batched.perSecond / plain.perSecond * 100)
                        )
                        print(
                            String(
                                format:
                                    "store/plain by CPU time per task: %.0f%% one task per transaction; %.0f%% in batches of %d",
                                plain.cpuMicros / single.cpuMicros * 100, cpuRatio, batch))
                    } else {
                        print(
                            String(
                                format: "store/plain: %.0f%% in batches of %d (by CPU time per task: %.0f%%)", ratio, batch,
                                cpuRatio))
                    }
                } catch let e as StoreError {
                    throw CLIFailure(message: e.description)
                }
            }
        }
    }
}
