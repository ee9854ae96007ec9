import Foundation
import NightshiftCore
import NightshiftStore
import NightshiftTesting
import Testing

/// The store's side of output contracts: a `contract_unmet` end creates the same phase's next
/// iteration in the finish transaction, and the finished event carries the check for reports.
@Suite("PipelineStore: output contracts")
struct PipelineStoreContractTests {
    static let missing = ["heading \"## Verification\" in the summary", "pattern /^Test plan:/ in docs/spec.md"]

    @Test(
        "a spec that missed its contract: spec iteration 2 in the same transaction, naming the parts; the item stays active",
        arguments: DaemonStoreFactory.all)
    func loopsInFinishTransaction(_ factory: DaemonStoreFactory) async throws {
        let f = try await PMStoreFixture.make(factory, maxIterations: 3)
        try await f.importBacklog("1. Add a --json flag\n")
        _ = try await f.store.startItem(key: "1", parallel: 1, workdir: nil, branch: nil, now: f.now).value
        let missed = try await f.runCurrent("1", PMStoreFixture.contractUnmet("spec", missing: Self.missing, summary: "draft"))
        #expect(missed.status == .failed)
        #expect(missed.errorClass == "contract_unmet")
        #expect(missed.attempt == 1)
        let again = try await f.current("1")
        #expect(again.phase == "spec" && again.iteration == 2 && again.status == .pending)
        #expect(again.parentID == missed.id)
        #expect(again.createdAt == missed.finishedAt, "created in the transaction that recorded the miss")
        for part in Self.missing { #expect(again.direction.contains(part), "\(part)") }
        let item = try await f.item("1")
        #expect(item.state == .active && item.iteration == 2)
        #expect(item.lastSummary == nil, "a summary that missed its contract is not the item's summary")

        let finished = try #require(try await f.store.events(taskID: missed.id).first { $0.kind == .finished })
        #expect(finished.detail["error_class"] == .string("contract_unmet"))
        #expect(finished.detail["contract"] == .string("unmet"))
        #expect(finished.detail["contract_missing"] == .array(Self.missing.map(JSONValue.string)))
        let created = try #require(try await f.store.events(taskID: again.id).first { $0.kind == .created })
        #expect(created.detail["parent_id"] == .string(missed.id))

        // The second spec meets it: the item moves on to impl.
        var met = PMStoreFixture.completed(summary: "## Verification\nswift test")
        met.contract = .met
        let passed = try await f.runCurrent("1", met)
        #expect(passed.status == .completed)
        let passedEvent = try #require(try await f.store.events(taskID: passed.id).first { $0.kind == .finished })
        #expect(passedEvent.detail["contract"] == .string("met"))
        #expect(try await f.current("1").phase == "impl")
        #expect(try await f.item("1").lastSummary == "## Verification\nswift test")
    }

    @Test("at max_iterations a contract miss blocks the item with what is still missing", arguments: DaemonStoreFactory.all)
    func blocksAtMaxIterations(_ factory: DaemonStoreFactory) async throws {
        let f = try await PMStoreFixture.make(factory, maxIterations: 2)
        try await f.importBacklog("1. Add a --json flag\n")
        _ = try await f.store.startItem(key: "1", parallel: 1, workdir: nil, branch: nil, now: f.now).value
        try await f.runCurrent("1", PMStoreFixture.contractUnmet("spec", missing: Self.missing))
        let last = try await f.runCurrent("1", PMStoreFixture.contractUnmet("spec", missing: [Self.missing[0]]))
        let item = try await f.item("1")
        #expect(item.state == .blocked)
        #expect(
            item.blockedReason
                == "spec output still misses its contract after 2 iterations (task \(last.id)): the spec output does not meet its contract; missing: \(Self.missing[0])"
        )
    }

    @Test(
        "paused: the loop waits, and reconcileItems creates it later with the parts named, from the stored task alone",
        arguments: DaemonStoreFactory.all)
    func reconcileAfterPause(_ factory: DaemonStoreFactory) async throws {
        let f = try await PMStoreFixture.make(factory)
        try await f.importBacklog("1. Add a --json flag\n")
        _ = try await f.store.startItem(key: "1", parallel: 1, workdir: nil, branch: nil, now: f.now).value
        try await f.store.setPipelineValue(PipelineKeys.paused, "1")
        let missed = try await f.runCurrent("1", PMStoreFixture.contractUnmet("spec", missing: Self.missing))
        #expect(try await f.tasks(of: "1").map(\.id) == [missed.id])
        try await f.store.setPipelineValue(PipelineKeys.paused, nil)
        let created = try await f.store.reconcileItems(now: f.clock.advance(by: 1)).value
        #expect(created.count == 1)
        let again = try #require(created.first)
        #expect(again.phase == "spec" && again.iteration == 2)
        for part in Self.missing { #expect(again.direction.contains(part)) }
        #expect(try await f.store.reconcileItems(now: f.clock.advance(by: 1)).value.isEmpty)
    }
}
