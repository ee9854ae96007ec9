import Foundation

/// What a model costs, in USD per million tokens of each kind (`pricing.models.<model>`).
public struct ModelPrice: Sendable, Equatable {
    public var input: Double
    public var output: Double
    public var cacheRead: Double
    public var cacheWrite: Double
    public init(input: Double, output: Double, cacheRead: Double, cacheWrite: Double) {
        self.input = input
        self.output = output
        self.cacheRead = cacheRead
        self.cacheWrite = cacheWrite
    }

    /// The cost of `usage` at this price.
    public func cost(_ usage: AgentUsage) -> Double {
        (Double(usage.input) * input + Double(usage.output) * output + Double(usage.cacheRead) * cacheRead
            + Double(usage.cacheWrite) * cacheWrite) / 1_000_000
    }
}

/// The versioned price table live metering estimates cost with (`pricing:` in config). A
/// model matches its own name or, failing that, the longest listed name it starts with
/// (`claude-sonnet-4-5-20250929` is priced as `claude-sonnet-4-5`); an unknown model is
/// estimated at 0 and the task and the log say so. A reported total always wins over the
/// estimate.
public struct PriceTable: Sendable, Equatable {
    public var version: String
    public var models: [String: ModelPrice]

    public init(version: String, models: [String: ModelPrice]) {
        self.version = version
        self.models = models
    }

    /// The price of `model`, or nil when the table does not know it.
    public func price(of model: String) -> ModelPrice? {
        let m = model.lowercased()
        if let exact = models[m] { return exact }
        let prefix = models.keys.filter { m.hasPrefix($0) }.max { $0.count < $1.count }
        return prefix.flatMap { models[$0] }
    }

    /// The table shipped with this version: list prices as of its `version` date, USD/Mtok.
    /// Anthropic: cache writes are the 5-minute rate (1.25 × input), reads 0.1 × input.
    /// OpenAI: cached input is the cache-read price; there is no cache-write charge.
    public static let builtIn = PriceTable(
        version: "2026-12-01",
        models: [
            "claude-opus-4-5": ModelPrice(input: 5, output: 25, cacheRead: 0.50, cacheWrite: 6.25),
            "claude-opus-4-1": ModelPrice(input: 15, output: 75, cacheRead: 1.50, cacheWrite: 18.75),
            "claude-opus-4": ModelPrice(input: 15, output: 75, cacheRead: 1.50, cacheWrite: 18.75),
            "claude-sonnet-4-5": ModelPrice(input: 3, output: 15, cacheRead: 0.30, cacheWrite: 3.75),
            "claude-sonnet-4": ModelPrice(input: 3, output: 15, cacheRead: 0.30, cacheWrite: 3.75),
            "claude-3-7-sonnet": ModelPrice(input: 3, output: 15, cacheRead: 0.30, cacheWrite: 3.75),
            "claude-haiku-4-5": ModelPrice(input: 1, output: 5, cacheRead: 0.10, cacheWrite: 1.25),
            "claude-3-5-haiku": ModelPrice(input: 0.80, output: 4, cacheRead: 0.08, cacheWrite: 1),
            "gpt-5.1-codex-mini": ModelPrice(input: 0.25, output: 2, cacheRead: 0.025, cacheWrite: 0),
            "gpt-5.1-codex": ModelPrice(input: 1.25, output: 10, cacheRead: 0.125, cacheWrite: 0),
            "gpt-5.1": ModelPrice(input: 1.25, output: 10, cacheRead: 0.125, cacheWrite: 0),
            "gpt-5-codex": ModelPrice(input: 1.25, output: 10, cacheRead: 0.125, cacheWrite: 0),
            "gpt-5-mini": ModelPrice(input: 0.25, output: 2, cacheRead: 0.025, cacheWrite: 0),
            "gpt-5-nano": ModelPrice(input: 0.05, output: 0.40, cacheRead: 0.005, cacheWrite: 0),
            "gpt-5": ModelPrice(input: 1.25, output: 10, cacheRead: 0.125, cacheWrite: 0),
            "gpt-4.1-mini": ModelPrice(input: 0.40, output: 1.60, cacheRead: 0.10, cacheWrite: 0),
            "gpt-4.1": ModelPrice(input: 2, output: 8, cacheRead: 0.50, cacheWrite: 0),
            "o4-mini": ModelPrice(input: 1.10, output: 4.40, cacheRead: 0.275, cacheWrite: 0),
            "o3": ModelPrice(input: 2, output: 8, cacheRead: 0.50, cacheWrite: 0),
        ])
}
