import NightshiftTesting

/// A webhook receiver or a fake Telegram API for tests: the shared loopback server, answering
/// every request with `status` and `{"ok":true}`.
typealias LoopbackHTTPReceiver = LoopbackHTTPServer

extension LoopbackHTTPServer {
    convenience init(status: Int) throws {
        try self.init { _ in (status, #"{"ok":true}"#) }
    }
}
