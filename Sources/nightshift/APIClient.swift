import ArgumentParser
import Foundation
import NightshiftCore

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Where the daemon is and how to print: the options every client command shares. `gate` uses
/// this group directly because it declares its own `--state-dir`; the other client commands
/// use `ClientCommandOptions`, which adds it.
struct ClientOptions: ParsableArguments {
    @Option(
        name: .long,
        help: """
            Daemon URL (default: $NIGHTSHIFT_URL, else the URL in the state dir's daemon.json while that \
            daemon runs, else the config's server.host/port).
            """)
    var url: String?

    @Option(name: .long, help: "Config file to read the daemon's address, state dir and token from.")
    var config: String?

    @Flag(name: .long, help: "Print JSON instead of a table.")
    var json = false

    /// The daemon's location: `--url`, `NIGHTSHIFT_URL`, the `daemon.json` of a live daemon in
    /// the state dir (`stateDir`, else `NIGHTSHIFT_STATE_DIR`, else the config's `state_dir`),
    /// else the config's address. The config is read only when something must come from it.
    func locate(stateDir: String? = nil) throws -> DaemonLocation {
        let env = ProcessInfo.processInfo.environment
        var loaded: NightshiftConfig?
        func loadConfig() throws -> NightshiftConfig {
            if let loaded { return loaded }
            let c = try load(stateDir: stateDir)
            loaded = c
            return c
        }
        var token = env["NIGHTSHIFT_API_TOKEN"] ?? ""
        if token.isEmpty { token = try loadConfig().server.token }
        let base: String
        let source: DaemonLocation.Source
        if let url {
            (base, source) = (url, .flag)
        } else if let u = env["NIGHTSHIFT_URL"], !u.isEmpty {
            (base, source) = (u, .environment)
        } else {
            let dir = try stateDir ?? Self.environmentStateDir ?? loadConfig().stateDir
            if let announced = DaemonDiscovery.announcedURL(stateDir: dir) {
                (base, source) = (announced, .announcement(DaemonDiscovery.announcementPath(stateDir: dir)))
            } else {
                (base, source) = (try loadConfig().baseURL, .config)
            }
        }
        guard let parsed = URL(string: base), parsed.scheme == "http" || parsed.scheme == "https", parsed.host != nil else {
            throw CLIFailure(message: "--url must be an http(s) URL, got \"\(base)\"", code: 2)
        }
        return DaemonLocation(base: base.hasSuffix("/") ? String(base.dropLast()) : base, token: token, source: source)
    }

    /// The state dir: `flag`, else `NIGHTSHIFT_STATE_DIR`, else the config's `state_dir`.
    func stateDir(_ flag: String?) throws -> String {
        try flag ?? Self.environmentStateDir ?? load(stateDir: nil).stateDir
    }

    static var environmentStateDir: String? {
        ProcessInfo.processInfo.environment["NIGHTSHIFT_STATE_DIR"].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// The config (with `stateDir` over its state_dir), or a one-line failure with exit code 2.
    func load(stateDir: String?) throws -> NightshiftConfig {
        do {
            return try ConfigLoader.load(path: config, overrides: .init(stateDir: stateDir))
        } catch {
            throw CLIFailure(message: error.description, code: 2)
        }
    }

    func client(stateDir: String? = nil) throws -> APIClient {
        let l = try locate(stateDir: stateDir)
        return APIClient(base: l.base, token: l.token)
    }
}

/// The options of every client command but `gate`: `ClientOptions` and the state dir whose
/// `daemon.json` names the running daemon.
struct ClientCommandOptions: ParsableArguments {
    @OptionGroup var connection: ClientOptions

    @Option(name: .long, help: "State dir of the daemon to find (default: $NIGHTSHIFT_STATE_DIR, else the config's state_dir).")
    var stateDir: String?

    var json: Bool { connection.json }

    func locate() throws -> DaemonLocation { try connection.locate(stateDir: stateDir) }

    func client() throws -> APIClient { try connection.client(stateDir: stateDir) }

    /// `--state-dir`, else `NIGHTSHIFT_STATE_DIR`, else the config's `state_dir`.
    func resolvedStateDir() throws -> String { try connection.stateDir(stateDir) }
}

/// A small HTTP client for the control plane; every failure becomes one clear line.
struct APIClient {
    let base: String
    let token: String

    struct Reply {
        var status: Int
        var body: Data
        var json: JSONValue? { try? JSONDecoder().decode(JSONValue.self, from: body) }
    }

    func request(_ method: String, _ path: String, body: [String: JSONValue]? = nil, timeout: Double = 15) async throws -> Reply {
        guard let url = URL(string: base + path) else { throw CLIFailure(message: "bad URL \(base + path)", code: 2) }
        var req = URLRequest(url: url, timeoutInterval: timeout)
        req.httpMethod = method
        if let body {
            req.httpBody = try JSONEncoder().encode(body)
            req.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        if !token.isEmpty { req.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        let data: Data
        let response: URLResponse
        do {
            (data, response) = try await URLSession.shared.data(for: req)
        } catch {
            throw CLIFailure(
                message: "cannot reach the daemon at \(base) (\(error.localizedDescription)); is `nightshift serve` running?")
        }
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        return Reply(status: status, body: data)
    }

    /// The JSON body of a 2xx reply, or a failure carrying the problem's detail.
    func call(_ method: String, _ path: String, body: [String: JSONValue]? = nil) async throws -> Reply {
        let reply = try await request(method, path, body: body)
        guard (200..<300).contains(reply.status) else {
            let p = reply.json?.objectValue
            let detail = p?["detail"]?.stringValue ?? String(decoding: reply.body.prefix(300), as: UTF8.self)
            let title = p?["title"]?.stringValue ?? "HTTP \(reply.status)"
            throw CLIFailure(message: "\(reply.status) \(title): \(detail)")
        }
        return reply
    }
}

/// The client commands' tables, sized to the terminal (`TextTable` cuts flexible columns with …).
enum Table {
    /// `header` and `rows` as aligned lines that fit `width` (the terminal's, by default); the
    /// columns titled in `flexible` may be cut. `indent` spaces go before every line.
    static func render(
        _ header: [String], _ rows: [[String]], flexible: Set<String> = [], indent: Int = 0, width: Int = Terminal.width
    ) -> String {
        var t = TextTable(header, flexible: flexible)
        for r in rows { t.append(r) }
        let pad = String(repeating: " ", count: indent)
        return t.lines(width: width - indent).map { pad + $0 }.joined(separator: "\n")
    }

    /// One line of free text cut to the terminal.
    static func line(_ text: String, indent: Int = 0, width: Int = Terminal.width) -> String {
        String(repeating: " ", count: indent) + TextTable.cut(TextTable.oneLine(text), to: width - indent)
    }
}

func printJSON(_ data: Data) {
    if let v = try? JSONDecoder().decode(JSONValue.self, from: data),
        let pretty = try? JSONEncoder.nightshift(pretty: true).encode(v)
    {
        print(String(decoding: pretty, as: UTF8.self))
    } else {
        print(String(decoding: data, as: UTF8.self))
    }
}
