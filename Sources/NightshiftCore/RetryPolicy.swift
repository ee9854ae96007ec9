/// Exponential backoff with jitter for failed attempts: `base · 2^(attempt-1)`, capped at
/// `max`, then a uniformly random value in [delay/2, delay] so retries do not move in step.
public struct RetryPolicy: Sendable, Equatable {
    public var base: Double
    public var max: Double

    public init(base: Double, max: Double) {
        self.base = base
        self.max = max
    }

    /// The un-jittered delay after the `attempt`-th attempt failed (attempt ≥ 1).
    public func ceiling(afterAttempt attempt: Int) -> Double {
        let exponent = Swift.min(Swift.max(attempt - 1, 0), 32)
        return Swift.min(max, base * Double(1 << exponent))
    }

    /// The delay to wait, with jitter drawn from `random` (a value in 0...1).
    public func delay(afterAttempt attempt: Int, random: Double) -> Double {
        let c = ceiling(afterAttempt: attempt)
        return c / 2 + (c / 2) * Swift.min(Swift.max(random, 0), 1)
    }
}
