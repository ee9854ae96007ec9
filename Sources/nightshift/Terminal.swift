import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The terminal the client commands print to.
enum Terminal {
    /// Columns to fit output into: the terminal's width when stdout is one, else `$COLUMNS`,
    /// else 100 (a pipe or a file: wide enough to read, narrow enough to diff).
    static var width: Int {
        var size = winsize()
        if ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 { return Int(size.ws_col) }
        if let columns = ProcessInfo.processInfo.environment["COLUMNS"].flatMap({ Int($0) }), columns > 0 { return columns }
        return 100
    }
}
