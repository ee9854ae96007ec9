import Foundation
import NightshiftCore
import NightshiftStore
import NightshiftTesting
import Testing

@Suite("TaskStore conformance: create and get")
struct CreateConformanceTests {
    @Test("create then get returns every field as given", arguments: TaskStoreFactory.all)
    func roundTrip(_ factory: TaskStoreFactory) async throws {
        let f = try await factory.make()
        let parent = try await f.create(.make(type: .spec, direction: "parent", now: f.now))
        let dep = try await f.create(.make(type: .spec, direction: "dependency", now: f.now))
        f.clock.advance(by: 1.5)
        let context: [String: JSONValue] = [
            "repo": .string("github.com/x/y"), "n": .number(3), "ratio": .number(0.25), "flag": .bool(true), "none": .null,
            "list": .array([.string("a"), .number(1)]), "nested": .object(["k": .object(["deep": .string("v")])]),
        ]
        let input = AgentTask.make(
            type: .review, direction: "Review the change ✓ — \"quoted\"\nsecond line", priority: 42, maxAttempts: 7,
            executor: "codex", context: context, backlogItem: "item-7", phase: "review", iteration: 3, parentID: parent.id,
            dependsOn: [dep.id, parent.id], now: f.now)
        let created = try await f.create(input)
        #expect(created == input)
        let stored = try await f.store.get(input.id)
        #expect(stored == input)
        #expect(stored.status == .pending)
        #expect(stored.attempt == 0)
        #expect(stored.context == context)
        #expect(stored.dependsOn == [dep.id, parent.id])
        #expect(stored.parentID == parent.id)
        #expect(stored.createdAt == f.now)
        #expect(stored.updatedAt == f.now)
        #expect(stored.claimedBy == nil && stored.leaseExpiresAt == nil && stored.startedAt == nil && stored.finishedAt == nil)
    }

    @Test("create trims the direction and always starts pending", arguments: TaskStoreFactory.all)
    func trimsAndStartsPending(_ factory: TaskStoreFactory) async throws {
        let f = try await factory.make()
        var input = AgentTask.make(direction: "  \n fix the bug \t\n", now: f.now)
        input.status = .completed
        let created = try await f.create(input)
        #expect(created.direction == "fix the bug")
        #expect(created.status == .pending)
        #expect(try await f.store.get(input.id) == created)
    }

    @Test("a time with a fraction of a second survives to the microsecond", arguments: TaskStoreFactory.all)
    func subSecondTimes(_ factory: TaskStoreFactory) async throws {
        let f = try await factory.make()
        let when = Date(timeIntervalSince1970: 1_795_255_200.123_456)
        let t = try await f.create(.make(now: when))
        let stored = try await f.store.get(t.id)
        #expect(abs(stored.createdAt.timeIntervalSince(when)) < 1e-6)
    }

    @Test("a batch is created in one go, and may depend on itself in order", arguments: TaskStoreFactory.all)
    func batch(_ factory: TaskStoreFactory) async throws {
        let f = try await factory.make()
        let first = AgentTask.make(direction: "first", now: f.now)
        let second = AgentTask.make(direction: "second", parentID: first.id, dependsOn: [first.id], now: f.now)
        let created = try await f.store.create([first, second])
        #expect(created.map(\.id) == [first.id, second.id])
        #expect(try await f.store.get(second.id).dependsOn == [first.id])
    }

    /// `create` explicitly accepts a parent named later in the same batch; the insert order must not matter.
    @Test("a batch may name a parent that comes later in the same batch", arguments: TaskStoreFactory.all)
    func parentLaterInBatch(_ factory: TaskStoreFactory) async throws {
        let f = try await factory.make()
        let parent = AgentTask.make(direction: "parent", now: f.now)
        let child = AgentTask.make(direction: "child", parentID: parent.id, now: f.now)
        let created = try await f.store.create([child, parent])
        #expect(created.count == 2)
        #expect(try await f.store.get(child.id).parentID == parent.id)
    }

    /// A task that depends on itself could never be claimed; it must be refused, not stored.
    @Test("a task that depends on itself is refused", arguments: TaskStoreFactory.all)
    func selfDependency(_ factory: TaskStoreFactory) async throws {
        let f = try await factory.make()
        let id = TaskID.generate()
        let error = await storeError { try await f.create(.make(id: id, dependsOn: [id], now: f.now)) }
        #expect(error?.code == .invalid)
        #expect(error?.field == "depends_on")
    }

    @Test("a batch with one bad task creates nothing", arguments: TaskStoreFactory.all)
    func batchAllOrNone(_ factory: TaskStoreFactory) async throws {
        let f = try await factory.make()
        let good = AgentTask.make(direction: "good", now: f.now)
        let bad = AgentTask.make(direction: "bad", dependsOn: ["task_ffffffffffffffff"], now: f.now)
        let error = await storeError { try await f.store.create([good, bad]) }
        #expect(error?.code == .invalid)
        #expect(error?.field == "depends_on")
        #expect(await storeError { try await f.store.get(good.id) }?.code == .notFound)
        #expect(try await f.store.list(TaskQuery()).total == 0)
    }

    @Test(
        "invalid tasks are refused with the field at fault",
        arguments: TaskStoreFactory.all,
        [
            ("empty direction", "direction"), ("whitespace direction", "direction"), ("5001 characters", "direction"),
            ("bad type name", "task_type"), ("bad id", "id"), ("unknown dependency", "depends_on"),
            ("unknown parent", "parent_id"), ("zero max attempts", "max_attempts"), ("huge priority", "priority"),
        ] as [(name: String, field: String)])
    func invalid(_ factory: TaskStoreFactory, _ example: (name: String, field: String)) async throws {
        let (name, field) = example
        let f = try await factory.make()
        let task: AgentTask
        switch name {
        case "empty direction": task = .make(direction: "", now: f.now)
        case "whitespace direction": task = .make(direction: " \n\t ", now: f.now)
        case "5001 characters": task = .make(direction: String(repeating: "x", count: 5001), now: f.now)
        case "bad type name": task = .make(type: TaskType("Not A Type"), now: f.now)
        case "bad id": task = .make(id: "task_XYZ", now: f.now)
        case "unknown dependency": task = .make(dependsOn: ["task_0123456789abcdef"], now: f.now)
        case "unknown parent": task = .make(parentID: "task_0123456789abcdef", now: f.now)
        case "zero max attempts": task = .make(maxAttempts: 0, now: f.now)
        default: task = .make(priority: 10_000_000, now: f.now)
        }
        let error = await storeError { try await f.create(task) }
        #expect(error?.code == .invalid)
        #expect(error?.field == field)
        #expect(await storeError { try await f.store.get(task.id) }?.code == .notFound)
    }

    @Test("5000 characters are accepted", arguments: TaskStoreFactory.all)
    func longestDirection(_ factory: TaskStoreFactory) async throws {
        let f = try await factory.make()
        let text = String(repeating: "x", count: 5000)
        #expect(try await f.create(.make(direction: text, now: f.now)).direction == text)
    }

    /// The store must agree with `TaskValidation` (which the API uses for its 422s) whatever the
    /// Unicode make-up of a direction: what it accepts is stored intact, what it refuses is refused
    /// as an invalid `direction` — never a field-less constraint failure.
    @Test(
        "the store and TaskValidation agree on directions made of multi-code-point characters",
        arguments: TaskStoreFactory.all,
        [
            String(repeating: "e\u{301}", count: 5000),  // 5000 characters, 10000 code points
            String(repeating: "👍🏽", count: 2600),  // 2600 characters, 5200 code points
            String(repeating: "ü", count: 5000),  // precomposed: 5000 of each
        ])
    func unicodeDirections(_ factory: TaskStoreFactory, _ text: String) async throws {
        let f = try await factory.make()
        let task = AgentTask.make(direction: text, now: f.now)
        if TaskValidation.problems(task).isEmpty {
            let created = try await f.create(task)
            #expect(try await f.store.get(created.id).direction == text)
        } else {
            let error = await storeError { try await f.create(task) }
            #expect(error?.code == .invalid)
            #expect(error?.field == "direction")
        }
    }

    @Test("a duplicate id is refused as duplicate", arguments: TaskStoreFactory.all)
    func duplicate(_ factory: TaskStoreFactory) async throws {
        let f = try await factory.make()
        let t = try await f.create(.make(direction: "original", now: f.now))
        let error = await storeError { try await f.create(.make(id: t.id, direction: "copy", now: f.now)) }
        #expect(error?.code == .duplicate)
        #expect(try await f.store.get(t.id).direction == "original")
        let twin = AgentTask.make(now: f.now)
        #expect(await storeError { try await f.store.create([twin, twin]) }?.code == .duplicate)
        #expect(await storeError { try await f.store.get(twin.id) }?.code == .notFound)
    }
}
