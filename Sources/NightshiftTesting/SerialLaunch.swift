import Foundation
import Synchronization

private let launches = Mutex(())

extension Process {
    /// `run()`, one launch at a time in this process: Foundation's `Process.run` on Linux is not
    /// safe to call from several threads at once (seen crashing in memcpy when parallel tests
    /// started processes together). Tests and test helpers launch through this.
    public func runSerialized() throws {
        try launches.withLock { _ in try run() }
    }
}
