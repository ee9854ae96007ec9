import Foundation
import NightshiftCore
import NightshiftStore
import NightshiftTesting
import Testing

@Suite("TaskStore conformance: keyset paging")
struct KeysetPagingConformanceTests {
    /// Every page of `query` followed by its `next` cursor.
    static func walk(_ store: any TaskStore, _ query: TaskQuery) async throws -> [[AgentTask]] {
        var pages: [[AgentTask]] = []
        var q = query
        while true {
            let page = try await store.list(q)
            pages.append(page.tasks)
            guard let next = page.next else { return pages }
            #expect(page.tasks.count == q.limit, "a page with a next is full")
            q.after = next
        }
    }

    @Test(
        "following next visits every task once, in the offset order, ties on created_at included", arguments: TaskStoreFactory.all
    )
    func walksEverything(_ factory: TaskStoreFactory) async throws {
        let f = try await factory.make()
        var tasks = try await f.createMany(17)
        // Five created in the same instant: the id breaks the tie.
        tasks += try await f.store.create((0..<5).map { _ in .make(direction: "same instant", now: f.now) })
        let byOffset = try await f.store.list(TaskQuery(limit: 100)).tasks.map(\.id)
        #expect(byOffset.count == 22)
        let pages = try await Self.walk(f.store, TaskQuery(limit: 4))
        #expect(pages.map(\.count) == [4, 4, 4, 4, 4, 2])
        #expect(pages.flatMap { $0 }.map(\.id) == byOffset)
        // An exact fit ends without an empty page.
        #expect(try await Self.walk(f.store, TaskQuery(limit: 11)).map(\.count) == [11, 11])
        #expect(try await f.store.list(TaskQuery(limit: 100)).next == nil)
    }

    @Test("a cursor pages within filters and stays valid after its task is cancelled and pruned", arguments: TaskStoreFactory.all)
    func filtersAndVanishedTask(_ factory: TaskStoreFactory) async throws {
        let f = try await factory.make()
        _ = try await f.createMany(6, type: .impl)
        let reviews = try await f.createMany(6, type: .review)
        let first = try await f.store.list(TaskQuery(taskTypes: [.review], limit: 2))
        #expect(first.tasks.map(\.id) == reviews.reversed().prefix(2).map(\.id))
        #expect(first.total == 6)
        let next = try #require(first.next)
        // The task the cursor names is cancelled (and so leaves a pending-only filter): the
        // cursor still marks the place.
        var q = TaskQuery(taskTypes: [.review], limit: 10)
        q.after = next
        let rest = try await f.store.list(q)
        #expect(rest.tasks.map(\.id) == reviews.reversed().dropFirst(2).map(\.id))
        #expect(rest.total == 6, "total counts the whole filter, not what is left after the cursor")
        #expect(rest.next == nil)
        _ = try await f.store.cancel(id: first.tasks[1].id, reason: "gone", now: f.now)
        var pending = TaskQuery(statuses: [.pending], taskTypes: [.review], limit: 10)
        pending.after = next
        #expect(try await f.store.list(pending).tasks.map(\.id) == reviews.reversed().dropFirst(2).map(\.id))
        // Pruned, the task is gone; the cursor still marks the place.
        let pruned = try await f.store.pruneEnded(status: .cancelled, endedBefore: f.now.addingTimeInterval(1), limit: 10)
        #expect(pruned.map(\.id) == [first.tasks[1].id])
        #expect(try await f.store.list(q).tasks.map(\.id) == reviews.reversed().dropFirst(2).map(\.id))
    }

    @Test("a cursor's text form round-trips and rejects what it did not write")
    func cursorText() throws {
        let c = TaskCursor(createdAt: 1_795_255_200.7726, id: "task_00000000000000aa")
        let text = c.description
        #expect(text.count == 38 && text.hasPrefix("c"))
        #expect(TaskCursor(text) == c)
        #expect(TaskCursor(String(text.dropLast())) == nil)
        #expect(TaskCursor("x" + text.dropFirst()) == nil)
        #expect(TaskCursor("c" + String(repeating: "z", count: 16) + "task_00000000000000aa") == nil)
        // A time that is not finite is refused (0x7ff0… is +infinity).
        #expect(TaskCursor("c7ff0000000000000task_00000000000000aa") == nil)
        #expect(TaskCursor("") == nil)
    }

    @Test("pending tasks listed in the claim order come in the order the runner claims them", arguments: TaskStoreFactory.all)
    func claimOrderList(_ factory: TaskStoreFactory) async throws {
        let f = try await factory.make()
        _ = try await f.createMany(3, priority: 0)
        _ = try await f.createMany(2, priority: 7)
        _ = try await f.createMany(2, priority: -3)
        _ = try await f.task(in: .completed)
        var q = TaskQuery(statuses: [.pending], limit: 100)
        q.order = .claim
        let listed = try await f.store.list(q)
        #expect(listed.total == 7)
        var claimed: [String] = []
        while let t = try await f.claimOne() { claimed.append(t.id) }
        #expect(listed.tasks.map(\.id) == claimed)
        #expect(listed.tasks.map(\.priority) == [7, 7, 0, 0, 0, -3, -3])
    }

    @Test("the claim order cannot be paged by cursor", arguments: TaskStoreFactory.all)
    func claimOrderRefused(_ factory: TaskStoreFactory) async throws {
        let f = try await factory.make()
        var q = TaskQuery()
        q.order = .claim
        q.after = TaskCursor(createdAt: 0, id: "task_00000000000000aa")
        #expect(await storeError { try await f.store.list(q) }?.field == "after")
    }
}
