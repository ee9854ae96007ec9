import Foundation
import NightshiftCore
import NightshiftStore
import NightshiftTesting
import Testing

// The TaskStore conformance suite. Every test in the `*ConformanceTests.swift` files takes a
// `TaskStoreFactory` argument and talks to the store only through the `TaskStore` protocol, so a
// new implementation (PostgreSQL) joins the whole suite by adding one factory to `all`.

/// A store under test, the test clock it is driven with, and whatever must outlive it.
final class StoreFixture: Sendable {
    let store: any TaskStore
    let clock: MutableNow
    /// Scratch resources (a temporary directory) released with the fixture.
    let resources: (any Sendable)?

    init(store: any TaskStore, clock: MutableNow = MutableNow(), resources: (any Sendable)? = nil) {
        self.store = store
        self.clock = clock
        self.resources = resources
    }

    var now: Date { clock.now }

    /// The runner identity most tests claim as.
    static let owner = "runner-a"
    /// The lease most tests claim with, in seconds.
    static let lease = 60.0

    /// Creates one task and returns it as stored.
    @discardableResult
    func create(_ task: AgentTask) async throws -> AgentTask {
        try await store.create(task)
    }

    /// Creates `count` factory tasks, one second apart, and returns them oldest first.
    func createMany(_ count: Int, type: TaskType = .impl, priority: Int = 0) async throws -> [AgentTask] {
        var out: [AgentTask] = []
        for i in 0..<count {
            out.append(try await store.create(.make(type: type, direction: "task \(i)", priority: priority, now: clock.now)))
            clock.advance(by: 1)
        }
        return out
    }

    /// Claims at most one task as `owner`.
    func claimOne(owner: String = StoreFixture.owner, lease: Double = StoreFixture.lease) async throws -> AgentTask? {
        try await store.claimNext(owner: owner, limit: 1, now: clock.now, lease: lease).first
    }

    /// Finishes a task held by `owner` with `kind` and returns the updated task.
    @discardableResult
    func finish(_ id: String, _ kind: AttemptOutcome.Kind, owner: String = StoreFixture.owner) async throws -> AgentTask {
        try await store.finish(id: id, owner: owner, outcome: AttemptOutcome(kind), now: clock.now)
    }

    /// A new task driven through the protocol to `status`. A task that must be claimed on the
    /// way is created at the highest priority so that it is the one claimed (call this when no
    /// other such task is pending); a pending one gets priority 0 so it never gets in the way.
    func task(in status: TaskStatus, maxAttempts: Int = 3) async throws -> AgentTask {
        let priority = status == .pending ? 0 : TaskValidation.priorityRange.upperBound
        let task = try await create(
            .make(direction: "reach \(status.rawValue)", priority: priority, maxAttempts: maxAttempts, now: now))
        switch status {
        case .pending:
            return task
        case .cancelled:
            return try await store.cancel(id: task.id, reason: "test", now: now).after
        case .running, .needsDecision, .completed, .failed:
            let claimed = try #require(try await claimOne())
            try #require(claimed.id == task.id)
            switch status {
            case .needsDecision: return try await finish(task.id, .needsDecision(prompt: "which way?"))
            case .completed: return try await finish(task.id, .completed)
            case .failed: return try await finish(task.id, .failed(errorClass: "agent_error", error: "exit 1", retryDelay: nil))
            default: return claimed
            }
        }
    }
}

/// Makes a fresh, empty store of one implementation.
struct TaskStoreFactory: Sendable, CustomTestStringConvertible {
    let name: String
    let make: @Sendable () async throws -> StoreFixture

    var testDescription: String { name }

    /// SQLite on disk, in a temporary directory removed with the fixture.
    static let sqlite = TaskStoreFactory(name: "SQLite") {
        let dir = try TemporaryDirectory(prefix: "nightshift-store")
        let store = try SQLiteTaskStore(path: dir.path(SQLiteTaskStore.fileName))
        return StoreFixture(store: store, resources: dir)
    }

    /// Every implementation the conformance suite runs against: PostgreSQL too when a test
    /// database is configured (always in CI; see `PostgresTestDatabase`).
    static let all: [TaskStoreFactory] = [.sqlite] + PostgresTestDatabase.factories
}

/// Runs `body` and returns the `StoreError` it threw, recording an issue when it threw nothing
/// or something else.
func storeError<T>(
    _ body: () async throws -> T, sourceLocation: SourceLocation = #_sourceLocation
) async -> StoreError? {
    do {
        let value = try await body()
        Issue.record("expected a StoreError, got \(value)", sourceLocation: sourceLocation)
        return nil
    } catch let error as StoreError {
        return error
    } catch {
        Issue.record("expected a StoreError, got \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

/// The error of a `Result`, or nil on success.
func failure<T, E>(_ result: Result<T, E>) -> E? {
    if case .failure(let e) = result { return e }
    return nil
}

extension Array where Element: Sendable {
    /// `map` with an async transform, in order.
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var out: [T] = []
        for element in self { out.append(try await transform(element)) }
        return out
    }
}
