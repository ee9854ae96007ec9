import Foundation
import NightshiftRuntime
import NightshiftTesting
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `CaptureFile`, the writer of `nightshift logs capture`: the cursor moves only after a
/// durable write, and a write that fails half way is cut back off the file, so the retry
/// writes each line exactly once (seed 000: "retrying without advancing cursor").
@Suite("logs capture: the cursor never advances on a failed write")
struct LogCaptureFileTests {
    /// A disk that fills up on demand: while `full`, a write puts 5 bytes down and then fails
    /// with ENOSPC, as a real short write before a full disk does.
    final class Disk: Sendable {
        let full = Mutex(false)
        let partialDone = Mutex(false)
        func write(_ fd: Int32, _ p: UnsafeRawPointer, _ n: Int) -> Int {
            guard full.withLock({ $0 }) else { return Glibc.write(fd, p, n) }
            if !partialDone.withLock({ $0 }) {
                partialDone.withLock { $0 = true }
                return Glibc.write(fd, p, min(5, n))
            }
            errno = ENOSPC
            return -1
        }
    }

    static func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

    @Test("a failed write leaves the cursor and the file where they were; the retry writes each line once")
    func failedWrite() throws {
        let dir = try TemporaryDirectory(prefix: "nightshift-capture-file")
        let disk = Disk()
        let path = dir.path("c.log")
        let file = try CaptureFile(path: path, maxBytes: 1 << 20, backups: 1, writeBytes: disk.write)
        #expect(file.write([Self.bytes("one"), Self.bytes("two")][...]) == 2)
        let before = file.cursor
        #expect(before.lines == 2 && before.bytes == 8 && before.offset == 8)

        disk.full.withLock { $0 = true }
        let pending = [Self.bytes("three"), Self.bytes("four")]
        #expect(file.write(pending[...]) == 0)
        #expect(file.cursor == before, "the cursor did not move")
        #expect(file.lastError?.contains("No space") == true, "\(file.lastError ?? "")")
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "one\ntwo\n", "the half-written bytes were cut off")

        disk.full.withLock { $0 = false }
        #expect(file.write(pending[...]) == 2)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "one\ntwo\nthree\nfour\n")
        #expect(file.cursor.lines == 4 && file.cursor.bytes == 19)
        let mode = (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int) ?? 0
        #expect(mode == 0o600)
    }

    @Test("rotation happens before a line would pass the limit; a line longer than the limit gets a file of its own")
    func rotation() throws {
        let dir = try TemporaryDirectory(prefix: "nightshift-capture-file")
        let path = dir.path("c.log")
        let file = try CaptureFile(path: path, maxBytes: 10, backups: 2)
        #expect(file.write([Self.bytes("aaaa"), Self.bytes("bbbb"), Self.bytes("a-very-long-line"), Self.bytes("cc")][...]) == 4)
        #expect(try String(contentsOfFile: path + ".2", encoding: .utf8) == "aaaa\nbbbb\n")
        #expect(try String(contentsOfFile: path + ".1", encoding: .utf8) == "a-very-long-line\n")
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "cc\n")
        #expect(file.cursor.lines == 4 && file.cursor.offset == 3)
    }
}
