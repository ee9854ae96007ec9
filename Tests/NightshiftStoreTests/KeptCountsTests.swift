import Foundation
import NightshiftCore
import NightshiftStore
import NightshiftTesting
import Testing

@Suite("Kept task counts")
struct KeptCountsTests {
    /// Every status, counted by listing every task.
    static func tally(_ store: any TaskStore) async throws -> [TaskStatus: Int] {
        var counts = Dictionary(uniqueKeysWithValues: TaskStatus.allCases.map { ($0, 0) })
        var query = TaskQuery(limit: 100)
        while true {
            let page = try await store.list(query)
            for t in page.tasks { counts[t.status, default: 0] += 1 }
            guard let next = page.next else { return counts }
            query.after = next
        }
    }

    @Test("the kept counts equal a full count after a random mix of every operation", arguments: [1, 2, 3])
    func randomMix(seed: UInt64) async throws {
        let dir = try TemporaryDirectory(prefix: "nightshift-counts")
        let store = try SQLiteTaskStore(path: dir.path(SQLiteTaskStore.fileName))
        let clock = MutableNow()
        var rng = SeededRandom(seed: seed)
        let types: [TaskType] = [.spec, .impl, .test, .review, .heal]
        var operations: [String: Int] = [:]
        var seen = Set<TaskStatus>()
        for step in 0..<400 {
            clock.advance(by: 1)
            let now = clock.now
            let all = try await store.list(TaskQuery(limit: 10_000)).tasks
            seen.formUnion(all.map(\.status))
            func any(_ status: TaskStatus) -> AgentTask? { all.filter { $0.status == status }.randomElement(using: &rng) }
            let op = Int.random(in: 0..<11, using: &rng)
            operations["\(op)", default: 0] += 1
            switch op {
            case 0, 1:
                let n = Int.random(in: 1...3, using: &rng)
                _ = try await store.create(
                    (0..<n).map { _ in .make(type: types.randomElement(using: &rng)!, direction: "step \(step)", now: now) })
            case 2:
                // A batch that breaks a rule changes nothing, counts included.
                let bad = AgentTask.make(dependsOn: ["task_00000000000000ff"], now: now)
                await #expect(throws: StoreError.self) { _ = try await store.create([.make(now: now), bad]) }
            case 3:
                _ = try await store.claimNext(owner: "r", limit: Int.random(in: 1...2, using: &rng), now: now, lease: 60)
            case 4, 5:
                guard let t = any(.running) else { continue }
                let kinds: [AttemptOutcome.Kind] = [
                    .completed, .failed(errorClass: "agent_error", error: "exit 1", retryDelay: 5),
                    .failed(errorClass: "agent_error", error: "final", retryDelay: nil), .needsDecision(prompt: "which?"),
                ]
                _ = try await store.finish(
                    id: t.id, owner: "r", outcome: AttemptOutcome(kinds.randomElement(using: &rng)!), now: now)
            case 6:
                guard let t = any(.needsDecision) else { continue }
                _ = try await store.decide(id: t.id, decision: "yes", now: now)
            case 7:
                guard let t = all.filter({ !$0.status.isTerminal }).randomElement(using: &rng) else { continue }
                _ = try await store.cancel(id: t.id, reason: "mix", now: now)
            case 8:
                guard let t = any(.failed) else { continue }
                _ = try await store.retry(id: t.id, now: now)
            case 9:
                guard let t = any(.running) else { continue }
                _ = try await store.rescue(
                    id: t.id, owner: "r", reason: "lease expired", errorClass: .leaseExpired, retryDelay: 0, now: now)
            default:
                _ = try await store.expireDecisions(askedBefore: now.addingTimeInterval(-20), now: now)
            }
            if step % 20 == 0 { #expect(try await store.keptCountMismatches() == [], "step \(step), seed \(seed)") }
        }
        #expect(try await store.keptCountMismatches() == [])
        let counts = try await store.countByStatus()
        #expect(counts == (try await Self.tally(store)))
        #expect(try await store.list(TaskQuery()).total == counts.values.reduce(0, +))
        for status in TaskStatus.allCases {
            #expect(try await store.list(TaskQuery(statuses: [status])).total == counts[status])
        }
        // The mix reached every operation and every status.
        #expect(operations.count == 11, "\(operations)")
        #expect(seen == Set(TaskStatus.allCases), "\(seen)")
    }

    @Test("a reopened store keeps counting from where it was")
    func reopen() async throws {
        let dir = try TemporaryDirectory(prefix: "nightshift-counts")
        let path = dir.path(SQLiteTaskStore.fileName)
        do {
            let store = try SQLiteTaskStore(path: path)
            _ = try await store.create((0..<5).map { .make(direction: "t\($0)") })
            _ = try await store.claimNext(owner: "r", limit: 2, now: MutableNow.defaultStart, lease: 60)
        }
        let again = try SQLiteTaskStore(path: path)
        #expect(try await again.countByStatus()[.running] == 2)
        #expect(try await again.countByStatus()[.pending] == 3)
        _ = try await again.create(.make(type: .review, direction: "more"))
        #expect(try await again.list(TaskQuery(taskTypes: [.review])).total == 1)
        #expect(try await again.list(TaskQuery(statuses: [.pending], taskTypes: [.impl])).total == 3)
        #expect(try await again.keptCountMismatches() == [])
    }
}
