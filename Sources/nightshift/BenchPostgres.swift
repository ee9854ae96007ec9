import Foundation
import NightshiftBench
import NightshiftCore
import NightshiftStore
import NightshiftStorePostgres

#if canImport(Glibc)
    import Glibc
#endif

/// `nightshift bench store --postgres URL`: the store cycle on PostgreSQL, in a scratch schema
/// of its own (`nsbench_<pid>`), dropped afterwards.
enum BenchPostgres {
    static func run(_ base: PostgresLocation, tasks: Int, batch: Int, batchedOnly: Bool) async throws -> [StoreBenchmark.Figures]
    {
        var location = base
        location.schema = "nsbench_\(getpid())"
        let store = try await PostgresTaskStore.connect(location, maxConnections: 2)
        var out: [StoreBenchmark.Figures] = []
        do {
            if !batchedOnly {
                out.append(
                    try await StoreBenchmark.runStore(store, label: "postgres (1 task per transaction)", tasks: tasks, batch: 1))
            }
            out.append(
                try await StoreBenchmark.runStore(store, label: "postgres (batches of \(batch))", tasks: tasks, batch: batch))
        } catch {
            try? await store.dropSchema()
            await store.close()
            throw error
        }
        try await store.dropSchema()
        await store.close()
        return out
    }
}
