import Foundation
import NightshiftCore
import NightshiftStore
import NightshiftTesting
import Testing

@Suite("TaskStore conformance: list and count")
struct ListConformanceTests {
    @Test("list is newest first, pages with limit and offset, and reports the total", arguments: TaskStoreFactory.all)
    func paging(_ factory: TaskStoreFactory) async throws {
        let f = try await factory.make()
        let tasks = try await f.createMany(25)
        let newestFirst = tasks.reversed().map(\.id)

        let first = try await f.store.list(TaskQuery(limit: 10))
        #expect(first.total == 25)
        #expect(first.tasks.map(\.id) == Array(newestFirst[0..<10]))
        let second = try await f.store.list(TaskQuery(limit: 10, offset: 10))
        #expect(second.tasks.map(\.id) == Array(newestFirst[10..<20]))
        let last = try await f.store.list(TaskQuery(limit: 10, offset: 20))
        #expect(last.tasks.map(\.id) == Array(newestFirst[20..<25]))
        #expect(last.total == 25)
        let beyond = try await f.store.list(TaskQuery(limit: 10, offset: 30))
        #expect(beyond.tasks.isEmpty)
        #expect(beyond.total == 25)
        let all = try await f.store.list(TaskQuery(limit: 100))
        #expect(all.tasks.map(\.id) == newestFirst)
        #expect(all.tasks == tasks.reversed())
    }

    @Test("an empty store lists nothing and counts zero of every status", arguments: TaskStoreFactory.all)
    func empty(_ factory: TaskStoreFactory) async throws {
        let f = try await factory.make()
        let page = try await f.store.list(TaskQuery())
        #expect(page.tasks.isEmpty && page.total == 0)
        #expect(try await f.store.countByStatus() == Dictionary(uniqueKeysWithValues: TaskStatus.allCases.map { ($0, 0) }))
    }

    @Test("filters by status, several statuses, task type and backlog item", arguments: TaskStoreFactory.all)
    func filters(_ factory: TaskStoreFactory) async throws {
        let f = try await factory.make()
        // One task in each status (each made in turn, so claims pick the right one), then more pending ones.
        var byStatus: [TaskStatus: AgentTask] = [:]
        for status in TaskStatus.allCases {
            byStatus[status] = try await f.task(in: status)
            f.clock.advance(by: 1)
        }
        let spec = try await f.create(.make(type: .spec, direction: "a spec", backlogItem: "item-1", now: f.now))
        f.clock.advance(by: 1)
        let test = try await f.create(.make(type: .test, direction: "a test", backlogItem: "item-3", now: f.now))
        f.clock.advance(by: 1)
        let review = try await f.create(.make(type: .review, direction: "a review", backlogItem: "item-2", now: f.now))

        for status in TaskStatus.allCases {
            let page = try await f.store.list(TaskQuery(statuses: [status], limit: 100))
            #expect(page.tasks.allSatisfy { $0.status == status }, "\(status)")
            let expected = status == .pending ? 4 : 1
            #expect(page.total == expected, "\(status)")
            #expect(page.tasks.count == expected, "\(status)")
        }
        let pending = try await f.store.list(TaskQuery(statuses: [.pending], limit: 100))
        #expect(pending.tasks.map(\.id) == [review.id, test.id, spec.id, byStatus[.pending]!.id])

        let active = try await f.store.list(TaskQuery(statuses: [.running, .needsDecision, .failed], limit: 100))
        #expect(
            Set(active.tasks.map(\.id)) == Set([byStatus[.running]!.id, byStatus[.needsDecision]!.id, byStatus[.failed]!.id]))
        #expect(active.total == 3)

        let specs = try await f.store.list(TaskQuery(taskTypes: [.spec], limit: 100))
        #expect(specs.tasks.map(\.id) == [spec.id])
        let specOrTest = try await f.store.list(TaskQuery(taskTypes: [.spec, .test], limit: 100))
        #expect(specOrTest.tasks.map(\.id) == [test.id, spec.id])
        let impl = try await f.store.list(TaskQuery(taskTypes: [.impl], limit: 100))
        #expect(impl.total == TaskStatus.allCases.count)

        let item1 = try await f.store.list(TaskQuery(backlogItem: "item-1", limit: 100))
        #expect(item1.tasks.map(\.id) == [spec.id])
        #expect(item1.total == 1)
        #expect(try await f.store.list(TaskQuery(backlogItem: "item-3")).tasks.map(\.id) == [test.id])
        #expect(try await f.store.list(TaskQuery(backlogItem: "no-such-item")).total == 0)
        let combined = try await f.store.list(TaskQuery(statuses: [.pending], taskTypes: [.review, .impl], limit: 1))
        #expect(combined.tasks.map(\.id) == [review.id])
        #expect(combined.total == 2)
        let nothing = try await f.store.list(TaskQuery(statuses: [.completed], taskTypes: [.review]))
        #expect(nothing.tasks.isEmpty && nothing.total == 0)
    }

    @Test("tasks created in the same instant are listed in a stable order", arguments: TaskStoreFactory.all)
    func sameInstant(_ factory: TaskStoreFactory) async throws {
        let f = try await factory.make()
        let tasks = try await f.store.create((0..<5).map { AgentTask.make(direction: "t\($0)", now: f.now) })
        let page1 = try await f.store.list(TaskQuery(limit: 3))
        let page2 = try await f.store.list(TaskQuery(limit: 3, offset: 3))
        let ids = page1.tasks.map(\.id) + page2.tasks.map(\.id)
        #expect(Set(ids) == Set(tasks.map(\.id)))
        #expect(ids.count == 5)
    }

    @Test("countByStatus counts every status and always has all six keys", arguments: TaskStoreFactory.all)
    func counts(_ factory: TaskStoreFactory) async throws {
        let f = try await factory.make()
        for status in TaskStatus.allCases {
            _ = try await f.task(in: status)
        }
        _ = try await f.createMany(2)
        let counts = try await f.store.countByStatus()
        #expect(Set(counts.keys) == Set(TaskStatus.allCases))
        #expect(counts == [.pending: 3, .running: 1, .needsDecision: 1, .completed: 1, .failed: 1, .cancelled: 1])
    }
}
