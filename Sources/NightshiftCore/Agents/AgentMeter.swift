import Foundation

/// Live metering of one attempt of a structured agent: turns, tokens by kind, the last tool,
/// the time of the last agent event, and the cost, estimated from the price table while it runs
/// and reconciled with what the agent reports at the end (a reported total wins).
public struct AgentMeter: Sendable, Equatable {
    /// Where a task's cost came from (`cost_source`).
    public enum CostSource: String, Sendable, Equatable {
        /// The agent printed its total (`total_cost_usd`).
        case reported
        /// Tokens × the price table.
        case estimated
    }

    public var sessionID: String?
    /// The model the agent said it uses, else the executor's configured one.
    public var model: String?
    /// Assistant turns (Claude: messages; Codex: completed turns).
    public var turns = 0
    public var usage = AgentUsage()
    public var estimatedUSD = 0.0
    /// The most expensive single call so far: the worst overshoot past a cap is about one call.
    public var largestCallUSD = 0.0
    public var lastTool: String?
    /// The last message or tool event (the idle timeout's clock).
    public var lastEventAt: Date?
    /// The result line, once it came.
    public var final: AgentFinal?
    /// A model the price table does not know (estimated at 0), once per model.
    public private(set) var unpricedModels: [String] = []
    private var messageID: String?
    private var messageUsage = AgentUsage()
    private var messageUSD = 0.0

    /// The table the estimate uses.
    public let prices: PriceTable

    public init(model: String? = nil, prices: PriceTable = .builtIn) {
        self.model = model
        self.prices = prices
    }

    /// The cost so far: the reported total once there is one, else the estimate.
    public var costUSD: Double { final?.reportedCostUSD ?? estimatedUSD }
    public var costSource: CostSource { final?.reportedCostUSD != nil ? .reported : .estimated }

    /// Takes one event in. Returns true when it was agent activity (a message or a tool event).
    @discardableResult
    public mutating func apply(_ event: AgentEvent, at now: Date) -> Bool {
        switch event {
        case .session(let id, let m):
            sessionID = id
            if let m { model = m }
            return false
        case .call(let id, let m, let u, let tools):
            if let m { model = m }
            if let tool = tools.last { lastTool = tool }
            lastEventAt = now
            let callUsage = u ?? AgentUsage()
            let callUSD = price(callUsage)
            if let id, id == messageID {
                // The same message again (one event per content block): replace, not add.
                usage =
                    usage
                    + AgentUsage(
                        input: -messageUsage.input, output: -messageUsage.output, cacheRead: -messageUsage.cacheRead,
                        cacheWrite: -messageUsage.cacheWrite)
                estimatedUSD -= messageUSD
            } else {
                turns += 1
            }
            messageID = id
            messageUsage = callUsage
            messageUSD = callUSD
            usage = usage + callUsage
            estimatedUSD += callUSD
            largestCallUSD = max(largestCallUSD, callUSD)
            return true
        case .progress(let tool):
            if let tool { lastTool = tool }
            lastEventAt = now
            return true
        case .final(let f):
            final = f
            lastEventAt = now
            if let s = f.sessionID { sessionID = s }
            // The agent's own totals reconcile the live sums.
            if let total = f.usage, total.allInput + total.output > 0 {
                usage = total
                estimatedUSD = price(total)
            }
            if let n = f.numTurns, n > turns { turns = n }
            return true
        }
    }

    private mutating func price(_ u: AgentUsage) -> Double {
        guard let model else { return 0 }
        if let p = prices.price(of: model) { return p.cost(u) }
        if !unpricedModels.contains(model) { unpricedModels.append(model) }
        return 0
    }

}
