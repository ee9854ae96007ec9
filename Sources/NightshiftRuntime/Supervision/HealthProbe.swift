import Foundation
import NightshiftCore

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// One `GET /api/health` of the daemon that announced itself in `daemon.json` with `pid`
/// (the daemon writes the file once it listens, so a free port chosen at start is found too).
struct HealthProbe: Sendable {
    let timeout: Double

    /// The daemon's URL from its announcement, when the announcement is this daemon's.
    static func url(announcement: String, pid: Int32) -> String? {
        guard let a = try? DaemonAnnouncement.read(path: announcement), a.pid == pid else { return nil }
        return a.localURL
    }

    /// nil when the daemon answered 200 within the timeout, else why not.
    func check(announcement: String, pid: Int32) async -> String? {
        guard let base = Self.url(announcement: announcement, pid: pid), let url = URL(string: base + "/api/health") else {
            return "not listening yet (no daemon.json for pid \(pid))"
        }
        var request = URLRequest(url: url, cachePolicy: .reloadIgnoringLocalCacheData, timeoutInterval: timeout)
        request.setValue("close", forHTTPHeaderField: "Connection")
        let prepared = request
        do {
            let (_, response) = try await withTimeout(timeout) { try await URLSession.shared.data(for: prepared) }
            let status = (response as? HTTPURLResponse)?.statusCode ?? 0
            return status == 200 ? nil : "\(url) answered \(status)"
        } catch is CancellationError {
            return "\(url) did not answer within \(ConfigValues.formatDuration(timeout))"
        } catch {
            return "\(url): \(error.localizedDescription)"
        }
    }

    /// Runs `body`, giving up after `seconds` (URLSession's own timeout is not always kept).
    private func withTimeout<T: Sendable>(_ seconds: Double, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await body() }
            group.addTask {
                try await Task.sleep(for: .milliseconds(Int64(seconds * 1000)))
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let value = first else { throw CancellationError() }
            return value
        }
    }
}
