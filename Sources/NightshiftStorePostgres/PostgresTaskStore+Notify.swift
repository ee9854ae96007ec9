import Foundation
import Logging
import NightshiftStore
import PostgresNIO
import ServiceLifecycle

/// LISTEN/NOTIFY (issue 17): every transaction that leaves a task pending (created, requeued,
/// retried, decided) also sends a `NOTIFY` (`PostgresJournal.flush`), delivered at its commit
/// to every session listening on the database, on any node. A daemon listens and wakes its
/// runner at once instead of at the next fallback poll; the poll stays for a lost connection.
extension PostgresTaskStore {
    /// The channel runnable work is announced on. The payload is the store's schema, so stores
    /// in other schemas of one database do not wake each other.
    public static let runnableChannel = "nightshift_runnable"

    var notifyPayload: String { location.schema ?? "public" }

    /// Calls `onRunnable` for each announcement of work in this store's schema, from any node,
    /// until the task is cancelled. `onListening` runs each time the listen is in place (after a
    /// reconnect too). A lost connection is retried after `retryDelay` seconds; errors are
    /// logged, never thrown.
    public func listenForRunnable(
        retryDelay: Double = 1, onListening: @escaping @Sendable () -> Void = {}, _ onRunnable: @escaping @Sendable () -> Void
    ) async {
        let payload = notifyPayload
        while !Task.isCancelled {
            do {
                try await client.withConnection { conn in
                    try await conn.listen(on: Self.runnableChannel) { notifications in
                        onListening()
                        // Work may have appeared before the listen: the caller looks once.
                        onRunnable()
                        for try await n in notifications where n.payload == payload { onRunnable() }
                    }
                }
            } catch is CancellationError {
                return
            } catch {
                if Task.isCancelled { return }
                logger.warning("LISTEN \(Self.runnableChannel) on \(location) failed: \(error); retrying")
            }
            try? await Task.sleep(for: .seconds(retryDelay))
        }
    }
}

/// Wakes a runner when any node announces work in the store's schema, while the daemon runs
/// (a `Service`: it ends at graceful shutdown).
public struct RunnableListener: Service {
    let store: PostgresTaskStore
    let wake: @Sendable () -> Void

    public init(store: PostgresTaskStore, wake: @escaping @Sendable () -> Void) {
        self.store = store
        self.wake = wake
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            await store.listenForRunnable(wake)
        }
    }
}
