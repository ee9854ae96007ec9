import Dispatch
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Watches SIGTERM and SIGINT beside the service group, which turns the first one into a
/// graceful shutdown. The second one (an operator who wants out now) calls `onRepeat`, e.g. to
/// tear the running agents down at once instead of waiting out the drain.
public final class RepeatedSignal: @unchecked Sendable {
    // Touched only on `queue`.
    private var count = 0
    private var sources: [any DispatchSourceSignal] = []
    private let queue = DispatchQueue(label: "nightshift.repeated-signal")

    public init(_ signals: [Int32] = [SIGTERM, SIGINT], onRepeat: @escaping @Sendable (_ name: String) -> Void) {
        queue.sync {
            for sig in signals {
                let source = DispatchSource.makeSignalSource(signal: sig, queue: queue)
                let name = sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "signal \(sig)"
                source.setEventHandler { [weak self] in
                    guard let self else { return }
                    self.count += 1
                    if self.count >= 2 { onRepeat("second \(name)") }
                }
                source.resume()
                sources.append(source)
            }
        }
    }

    /// Stops watching.
    public func cancel() {
        queue.sync {
            for source in sources { source.cancel() }
            sources.removeAll()
        }
    }
}
