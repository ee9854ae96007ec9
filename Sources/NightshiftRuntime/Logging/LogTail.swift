import Foundation

/// Reads the last lines of a (possibly huge) log file without loading all of it.
public enum LogTail {
    /// The last `count` lines of the file at `path`, or nil when it does not exist.
    public static func lastLines(of path: String, count: Int) -> String? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        let size = (try? handle.seekToEnd()) ?? 0
        var offset = size
        var chunk = Data()
        let block: UInt64 = 64 * 1024
        // Read backwards until we hold count+1 newlines or reach the start.
        while offset > 0 {
            let step = min(block, offset)
            offset -= step
            try? handle.seek(toOffset: offset)
            let data = handle.readData(ofLength: Int(step))
            chunk = data + chunk
            if chunk.reduce(0, { $0 + ($1 == 0x0A ? 1 : 0) }) > count { break }
            if chunk.count > 64 * 1024 * 1024 { break }
        }
        var lines = chunk.split(separator: 0x0A, omittingEmptySubsequences: false)
        if lines.last?.isEmpty == true { lines.removeLast() }
        let kept = lines.suffix(count)
        return kept.map { String(decoding: $0, as: UTF8.self) }.joined(separator: "\n") + (kept.isEmpty ? "" : "\n")
    }
}
