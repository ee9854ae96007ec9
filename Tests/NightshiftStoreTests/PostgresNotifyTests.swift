import Foundation
import NightshiftCore
import NightshiftStore
import NightshiftStorePostgres
import NightshiftTesting
import Synchronization
import Testing

/// LISTEN/NOTIFY across nodes: a task made runnable through one store (one connection pool, one
/// node) wakes a listener on another store of the same schema.
@Suite("PostgresTaskStore LISTEN/NOTIFY")
struct PostgresNotifyTests {
    /// Wake-ups a listener has seen, and a way to await the next one.
    final class Wakes: Sendable {
        private let state = Mutex<(count: Int, waiters: [CheckedContinuation<Void, Never>])>((0, []))
        let listening = Mutex<[CheckedContinuation<Void, Never>]?>([])

        var count: Int { state.withLock { $0.count } }

        func wake() {
            let waiters = state.withLock { s in
                s.count += 1
                defer { s.waiters = [] }
                return s.waiters
            }
            for w in waiters { w.resume() }
        }

        /// Returns once `count` has passed `n` (a wake-up after the first `n`).
        func next(after n: Int) async {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let now = state.withLock { s in
                    if s.count > n { return true }
                    s.waiters.append(c)
                    return false
                }
                if now { c.resume() }
            }
        }

        func onListening() {
            let waiters = listening.withLock { l in
                defer { l = nil }
                return l ?? []
            }
            for w in waiters { w.resume() }
        }

        func untilListening() async {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let now = listening.withLock { l in
                    guard l != nil else { return true }
                    l!.append(c)
                    return false
                }
                if now { c.resume() }
            }
        }
    }

    /// Listens on `store` in a task of its own until the returned task is cancelled.
    static func listen(_ store: PostgresTaskStore, _ wakes: Wakes) async -> Task<Void, Never> {
        let task = Task { await store.listenForRunnable(onListening: { wakes.onListening() }, { wakes.wake() }) }
        await wakes.untilListening()
        return task
    }

    @Test(
        "a task created on one node wakes a listener on the other; so does a retry",
        .enabled(if: PostgresTaskStoreTests.url != nil || PostgresTaskStoreTests.inCI), .timeLimit(.minutes(1)))
    func wakesOtherNode() async throws {
        let url = try #require(PostgresTaskStoreTests.url)
        let location = try await PostgresTestDatabase.scratchLocation(url: url)
        let writer = try await PostgresTaskStore.connect(location, maxConnections: 2)
        let listener = try await PostgresTaskStore.connect(location, maxConnections: 2)
        let wakes = Wakes()
        let listening = await Self.listen(listener, wakes)
        // The first wake-up is the listener's own look when it starts.
        await wakes.next(after: 0)
        let before = wakes.count

        _ = try await writer.create(.make(direction: "wake the other node", now: Date()))
        await wakes.next(after: before)
        #expect(wakes.count > before)

        // A retry makes the failed task runnable again: the listener wakes once more.
        let claimed = try #require(try await writer.claimNext(owner: "n1", limit: 1, now: Date(), lease: 60).first)
        let failed = try await writer.finish(
            id: claimed.id, owner: "n1",
            outcome: AttemptOutcome(.failed(errorClass: "agent_error", error: "x", retryDelay: nil)), now: Date())
        #expect(failed.status == .failed)
        let afterClaim = wakes.count
        _ = try await writer.retry(id: claimed.id, now: Date())
        await wakes.next(after: afterClaim)
        #expect(wakes.count > afterClaim)

        listening.cancel()
        await listening.value
        try await writer.dropSchema()
        await writer.close()
        await listener.close()
    }
}
