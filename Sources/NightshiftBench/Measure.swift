import Foundation

/// The small measurements every benchmark takes.
public enum Measure {
    /// CPU seconds this process has used (user and system, every thread).
    public static func processCPUSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}
