import NightshiftCore
import Testing

@Suite("RetryPolicy")
struct RetryPolicyTests {
    let policy = RetryPolicy(base: 10, max: 300)

    @Test("the ceiling doubles per attempt from base and stops at max")
    func ceiling() {
        #expect((1...7).map { policy.ceiling(afterAttempt: $0) } == [10, 20, 40, 80, 160, 300, 300])
    }

    @Test("attempt 0 or below counts as the first; a huge attempt stays at max without overflowing")
    func edges() {
        #expect(policy.ceiling(afterAttempt: 0) == 10)
        #expect(policy.ceiling(afterAttempt: -5) == 10)
        #expect(policy.ceiling(afterAttempt: 1_000) == 300)
        #expect(policy.ceiling(afterAttempt: Int.max) == 300)
        #expect(RetryPolicy(base: 0, max: 0).ceiling(afterAttempt: 3) == 0)
    }

    @Test("jitter spans half the ceiling to the whole ceiling; random is clamped to 0...1")
    func jitter() {
        #expect(policy.delay(afterAttempt: 2, random: 0) == 10)
        #expect(policy.delay(afterAttempt: 2, random: 0.5) == 15)
        #expect(policy.delay(afterAttempt: 2, random: 1) == 20)
        #expect(policy.delay(afterAttempt: 2, random: -3) == 10)
        #expect(policy.delay(afterAttempt: 2, random: 7) == 20)
        for attempt in 1...10 {
            for r in stride(from: 0.0, through: 1.0, by: 0.125) {
                let d = policy.delay(afterAttempt: attempt, random: r)
                let c = policy.ceiling(afterAttempt: attempt)
                #expect(d >= c / 2 && d <= c)
            }
        }
    }
}
