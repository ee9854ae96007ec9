import ArgumentParser
import Foundation
import NightshiftCore

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Options of every client command: where the daemon is and how to print.
struct ClientOptions: ParsableArguments {
    @Option(name: .long, help: "Daemon URL (default: from the config's server.host/port, else http://127.0.0.1:8000).")
    var url: String?

    @Option(name: .long, help: "Config file to read the daemon's address and token from.")
    var config: String?

    @Flag(name: .long, help: "Print JSON instead of a table.")
    var json = false

    func client() throws -> APIClient {
        let env = ProcessInfo.processInfo.environment
        var base = url ?? env["NIGHTSHIFT_URL"]
        var token = env["NIGHTSHIFT_API_TOKEN"] ?? ""
        if base == nil || token.isEmpty {
            do {
                let c = try ConfigLoader.load(path: config)
                base = base ?? c.baseURL
                if token.isEmpty { token = c.server.token }
            } catch {
                throw CLIFailure(message: error.description, code: 2)
            }
        }
        guard let b = base, let parsed = URL(string: b), parsed.scheme == "http" || parsed.scheme == "https" else {
            throw CLIFailure(message: "--url must be an http(s) URL, got \"\(base ?? "")\"", code: 2)
        }
        return APIClient(base: b.hasSuffix("/") ? String(b.dropLast()) : b, token: token)
    }
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
            throw CLIFailure(message: "cannot reach the daemon at \(base) (\(error.localizedDescription)); is `nightshift serve` running?")
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

/// Prints aligned columns.
enum Table {
    static func render(_ header: [String], _ rows: [[String]]) -> String {
        var widths = header.map(\.count)
        for r in rows { for (i, c) in r.enumerated() where i < widths.count { widths[i] = max(widths[i], c.count) } }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { i, c in i == cells.count - 1 ? c : c.padding(toLength: widths[i], withPad: " ", startingAt: 0) }
                .joined(separator: "  ")
        }
        return ([line(header)] + rows.map(line)).joined(separator: "\n")
    }
}

func printJSON(_ data: Data) {
    if let v = try? JSONDecoder().decode(JSONValue.self, from: data), let pretty = try? JSONEncoder.nightshift(pretty: true).encode(v) {
        print(String(decoding: pretty, as: UTF8.self))
    } else {
        print(String(decoding: data, as: UTF8.self))
    }
}
