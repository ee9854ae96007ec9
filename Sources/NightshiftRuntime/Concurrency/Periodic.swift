import Foundation
import Logging
import ServiceLifecycle

/// The loop every periodic service shares (STYLE 3): run a pass, log (never throw) its error,
/// wait `interval` on `clock`, until graceful shutdown or cancellation.
func runPeriodically(
    every interval: Double, on clock: any Clock<Duration>, logger: Logger, what: String, _ pass: @Sendable () async throws -> Void
) async {
    while !Task.isShuttingDownGracefully && !Task.isCancelled {
        do {
            try await pass()
        } catch {
            logger.error("\(what) failed: \(error)")
        }
        do {
            try await cancelWhenGracefulShutdown {
                try await clock.sleep(for: .seconds(interval))
            }
        } catch {
            return
        }
    }
}
