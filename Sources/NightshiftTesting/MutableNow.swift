import Foundation
import Synchronization

/// A settable "now" for tests: services and stores take `clock.now` instead of `Date()`, and a
/// test moves time with `advance(by:)` instead of sleeping. Safe to share across tasks.
public final class MutableNow: Sendable {
    /// A fixed, whole-second instant (2026-11-21T10:00:00Z) so stored times round-trip exactly.
    public static let defaultStart = Date(timeIntervalSince1970: 1_795_255_200)

    private let current: Mutex<Date>

    public init(_ start: Date = MutableNow.defaultStart) {
        current = Mutex(start)
    }

    /// The current test time.
    public var now: Date { current.withLock { $0 } }

    /// Moves time forward (or back, with a negative interval) and returns the new time.
    @discardableResult
    public func advance(by seconds: TimeInterval) -> Date {
        current.withLock { date in
            date = date.addingTimeInterval(seconds)
            return date
        }
    }

    /// Sets the time outright.
    public func set(_ date: Date) {
        current.withLock { $0 = date }
    }

    /// A `now()` provider for code that takes a closure.
    public var provider: @Sendable () -> Date { { [self] in self.now } }
}

/// The name most tests reach for.
public typealias TestClock = MutableNow
