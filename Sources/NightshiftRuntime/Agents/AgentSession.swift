import Foundation
import NightshiftCore
import NightshiftStore
import Synchronization

/// Meters one attempt of a structured agent as its output arrives (on the output reader's
/// thread): parses each line, keeps the `AgentMeter`, and halts the attempt the moment its
/// metered cost reaches the task's cap or its turns pass `max_turns`. The runner writes the
/// readings to the store while it runs and checks `idle` against `runner.idle_timeout`.
public final class AgentSession: Sendable {
    /// What the task had spent before this attempt (its earlier attempts).
    struct Base: Sendable {
        var costUSD = 0.0
        var tokensIn = 0
        var tokensOut = 0
        var cacheRead = 0
        var cacheWrite = 0
        var turns = 0
        init(_ task: AgentTask) {
            costUSD = task.costUSD ?? 0
            tokensIn = task.tokensIn ?? 0
            tokensOut = task.tokensOut ?? 0
            cacheRead = task.tokensCacheRead ?? 0
            cacheWrite = task.tokensCacheWrite ?? 0
            turns = task.turns ?? 0
        }
    }

    private struct State {
        var meter: AgentMeter
        var fragment: [UInt8] = []
        /// Bumped by every event: the writer writes when it moved.
        var version = 0
        var warned: Set<String> = []
    }

    let parser: AgentStreamParser
    let base: Base
    /// The task's cap, when it has one.
    let capUSD: Double?
    let maxTurns: Int
    let stopper: AttemptStopper
    let startedAt: Date
    let now: @Sendable () -> Date
    /// Signalled on every event, for the writer.
    let changed = WakeSignal()
    private let state: Mutex<State>
    /// Longest line kept for parsing (a tool call that writes a big file is one line).
    static let maxLine = 16 * 1024 * 1024

    public init(
        format: AgentFormat, task: AgentTask, model: String?, prices: PriceTable, capUSD: Double?, maxTurns: Int,
        stopper: AttemptStopper, now: @escaping @Sendable () -> Date
    ) {
        parser = AgentStreamParser(format: format)
        base = Base(task)
        self.capUSD = capUSD
        self.maxTurns = maxTurns
        self.stopper = stopper
        self.now = now
        startedAt = now()
        state = Mutex(State(meter: AgentMeter(model: model, prices: prices)))
    }

    /// One raw output line, or a piece of a long one.
    public func line(_ bytes: UnsafeBufferPointer<UInt8>, complete: Bool) {
        let events: [AgentEvent] = state.withLock { s in
            if s.fragment.isEmpty && complete { return parser.parse(bytes) }
            if s.fragment.count + bytes.count <= Self.maxLine { s.fragment.append(contentsOf: bytes) }
            guard complete else { return [] }
            defer { s.fragment.removeAll(keepingCapacity: false) }
            return s.fragment.withUnsafeBufferPointer { parser.parse($0) }
        }
        guard !events.isEmpty else { return }
        let at = now()
        let m = state.withLock { s -> AgentMeter in
            for e in events { s.meter.apply(e, at: at) }
            s.version += 1
            return s.meter
        }
        changed.signal()
        guard m.final == nil else { return }  // it has finished: let it exit
        let spent = base.costUSD + m.costUSD
        if let cap = capUSD, spent >= cap {
            stopper.halt(.budget(spentUSD: spent, capUSD: cap))
        } else if maxTurns > 0, m.turns > maxTurns {
            stopper.halt(.maxTurns(m.turns))
        }
    }

    public var meter: AgentMeter { state.withLock { $0.meter } }

    /// Models the price table does not know that nobody was warned about yet (marked warned).
    func unwarnedModels() -> [String] {
        state.withLock { s in
            let new = s.meter.unpricedModels.filter { !s.warned.contains($0) }
            s.warned.formUnion(new)
            return new
        }
    }
    var version: Int { state.withLock { $0.version } }

    /// Seconds since the agent last said anything (since the start when it has not yet).
    func idleSeconds(at date: Date) -> Double {
        date.timeIntervalSince(state.withLock { $0.meter.lastEventAt } ?? startedAt)
    }

    /// The task's totals: its earlier attempts plus this one so far.
    func reading() -> MeterReading {
        let m = meter
        return MeterReading(
            costUSD: base.costUSD + m.costUSD, costSource: m.costSource.rawValue, tokensIn: base.tokensIn + m.usage.allInput,
            tokensOut: base.tokensOut + m.usage.output, tokensCacheRead: base.cacheRead + m.usage.cacheRead,
            tokensCacheWrite: base.cacheWrite + m.usage.cacheWrite, turns: base.turns + m.turns, lastTool: m.lastTool,
            lastEventAt: m.lastEventAt, sessionID: m.sessionID, model: m.model)
    }
}
