import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Calls `onAppear` soon after a file named `name` is written or renamed into `directory`:
/// inotify on Linux (IN_CLOSE_WRITE, IN_MOVED_TO), plus a stat of the file every second in case
/// an event is missed; when inotify is unavailable, a stat every `backstop` seconds is the watch.
/// The callback may fire more than once for one file; the consumer deletes what it handled.
public final class FileAppearanceWatcher: Sendable {
    let directory: String
    let name: String
    let backstop: Double
    let onAppear: @Sendable () -> Void
    private let stopped = Atomic<Bool>(false)
    private let finished = OneShotEvent()

    public init(directory: String, name: String, backstop: Double = 0.2, onAppear: @escaping @Sendable () -> Void) {
        self.directory = directory
        self.name = name
        self.backstop = backstop
        self.onAppear = onAppear
    }

    /// Starts the watching thread.
    public func start() {
        let thread = Thread { [self] in
            watch()
            finished.set()
        }
        thread.name = "nightshift-watch-\(name)"
        thread.start()
    }

    /// Stops the thread (within one poll period) and waits for it.
    public func stop() async {
        stopped.store(true, ordering: .relaxed)
        await finished.wait()
    }

    private var path: String { (directory as NSString).appendingPathComponent(name) }

    private func watch() {
        #if os(Linux)
            let fd = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
            if fd >= 0 && inotify_add_watch(fd, directory, UInt32(IN_CLOSE_WRITE | IN_MOVED_TO)) < 0 {
                close(fd)
                return pollLoop(fd: -1)
            }
            pollLoop(fd: fd)
            if fd >= 0 { close(fd) }
        #else
            pollLoop(fd: -1)
        #endif
    }

    private func pollLoop(fd: Int32) {
        // With inotify the stat is only a safety net; without it, it is the watch.
        let period = Int32(max(10, backstop * 1000))
        let statPeriod = fd >= 0 ? max(period, 1000) : period
        let size = 64 * 1024
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 8)
        defer { buffer.deallocate() }
        var lastStat = ContinuousClock.now - .seconds(3600)
        while !stopped.load(ordering: .relaxed) {
            if ContinuousClock.now - lastStat >= .milliseconds(Int64(statPeriod)) {
                lastStat = ContinuousClock.now
                if access(path, F_OK) == 0 { onAppear() }
            }
            if fd >= 0 {
                // A short poll timeout only bounds how long stop() waits.
                var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                let ready = poll(&pfd, 1, 200)
                if ready > 0 && readEvents(fd, buffer, size) { onAppear() }
            } else {
                usleep(UInt32(period) * 1000)
            }
        }
    }

    #if os(Linux)
        /// Drains the inotify queue; true when one of the events names the watched file.
        private func readEvents(_ fd: Int32, _ buffer: UnsafeMutableRawPointer, _ size: Int) -> Bool {
            var seen = false
            while true {
                let n = read(fd, buffer, size)
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { return seen }
                var offset = 0
                let header = MemoryLayout<inotify_event>.size
                while offset + header <= n {
                    let event = buffer.load(fromByteOffset: offset, as: inotify_event.self)
                    let nameLength = Int(event.len)
                    if nameLength > 0 {
                        let namePtr = (buffer + offset + header).assumingMemoryBound(to: CChar.self)
                        if String(cString: namePtr) == name { seen = true }
                    }
                    offset += header + nameLength
                }
            }
        }
    #else
        private func readEvents(_ fd: Int32, _ buffer: UnsafeMutableRawPointer, _ size: Int) -> Bool { false }
    #endif
}
