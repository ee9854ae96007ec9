import Foundation
import NightshiftCore
import NightshiftStore
import NightshiftTesting
import Testing

/// Stored log lines go by age (`logs.ttl`) and by size (`logs.store_max_bytes`), oldest first;
/// the newest log run stays whatever its age.
@Suite("LogStore pruning")
struct LogPruneTests {
    static let start = Timestamp.parse("2026-12-01T22:00:00Z")!

    static func lines(_ run: String, _ n: Int, at: Date, text: String = "step done") -> [ClassifiedLogLine] {
        (0..<n).map { i in
            ClassifiedLogLine(
                entry: LogEntry(runID: run, at: at, level: "info", source: "svc", message: "\(text) \(i)"), classification: nil)
        }
    }

    static func count(_ store: any LogStore, _ run: String) async throws -> Int {
        try await store.logLines(LogLineQuery(runID: run, limit: 10_000)).count
    }

    @Test("lines received before the cutoff go; newer ones stay; the newest run is kept", arguments: DaemonStoreFactory.all)
    func byAge(_ factory: DaemonStoreFactory) async throws {
        let (database, store) = try await factory.store()
        defer { withExtendedLifetime(database) {} }
        let policy = LogNotifyPolicy(count: 3, debounce: 600)
        let old = try await store.startLogRun(callbackURL: nil, now: Self.start)
        _ = try await store.appendLogs(Self.lines(old.id, 30, at: Self.start), policy: policy, now: Self.start)
        let later = Self.start.addingTimeInterval(3600)
        let new = try await store.startLogRun(callbackURL: nil, now: later)
        _ = try await store.appendLogs(Self.lines(new.id, 20, at: later), policy: policy, now: later)

        let pruned = try await store.pruneLogs(before: Self.start.addingTimeInterval(1800), maxBytes: 1 << 30)
        #expect(pruned.lines == 30)
        #expect(try await Self.count(store, old.id) == 0)
        #expect(try await Self.count(store, new.id) == 20)
        #expect(pruned.runs == 1, "the emptied old run goes")
        #expect(try await store.logRun(old.id) == nil)
        // Everything past the cutoff: the lines go, the newest run stays to receive more.
        let all = try await store.pruneLogs(before: later.addingTimeInterval(1), maxBytes: 1 << 30)
        #expect(all.lines == 20)
        #expect(try await store.latestLogRun()?.id == new.id)
    }

    @Test("past the size cap the oldest lines go first until the rest fits", arguments: DaemonStoreFactory.all)
    func bySize(_ factory: DaemonStoreFactory) async throws {
        let (database, store) = try await factory.store()
        defer { withExtendedLifetime(database) {} }
        let policy = LogNotifyPolicy(count: 3, debounce: 600)
        let run = try await store.startLogRun(callbackURL: nil, now: Self.start)
        let text = String(repeating: "x", count: 100)
        _ = try await store.appendLogs(Self.lines(run.id, 100, at: Self.start, text: text), policy: policy, now: Self.start)
        let pruned = try await store.pruneLogs(before: Self.start.addingTimeInterval(-1), maxBytes: 5_000)
        #expect(pruned.lines > 0)
        let kept = try await store.logLines(LogLineQuery(runID: run.id, limit: 10_000))
        #expect(kept.reduce(0) { $0 + $1.message.utf8.count } <= 5_000)
        #expect(!kept.isEmpty)
        // The newest lines are the ones kept.
        #expect(kept.map(\.message).contains("\(text) 99"))
        #expect(!kept.map(\.message).contains("\(text) 0"))
    }
}
