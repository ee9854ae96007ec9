import Foundation
import MCP
import NightshiftMCP
import NightshiftTesting
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// `POST /mcp` on a live daemon with the SDK's own client HTTP transport: the same tools as
/// over stdio, behind the API's bearer token.
@Suite("MCP over streamable HTTP at /mcp")
struct MCPHTTPTests {
    static let token = "mcp-test-token-0123456789abcdef"

    @Test("a real MCP client lists the tools and calls task_create and log_issues; no token, 401")
    func listAndCall() async throws {
        let dir = try TemporaryDirectory(prefix: "nightshift-mcp-http")
        let config = try dir.write(
            """
            runner: { executors: { default: { command: "echo {direction}" } } }
            project_manager: { backlog: "" }
            server: { token: "\(Self.token)" }
            """, to: "nightshift.yaml")
        let daemon = try DaemonProcess(stateDir: dir.path("state"), arguments: ["--config", config])
        #expect(await daemon.waitUntilReady(), "the daemon did not start: \(daemon.stderr)")
        let endpoint = try #require(URL(string: daemon.url + "/mcp"))

        // Without the token the route refuses, like every mutating route.
        var bare = URLRequest(url: endpoint)
        bare.httpMethod = "POST"
        bare.setValue("application/json", forHTTPHeaderField: "Content-Type")
        bare.httpBody = Data(#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#.utf8)
        let (_, refused) = try await URLSession.shared.data(for: bare)
        #expect((refused as? HTTPURLResponse)?.statusCode == 401)

        let transport = HTTPClientTransport(
            endpoint: endpoint, streaming: false,
            requestModifier: { request in
                var r = request
                r.setValue("Bearer \(Self.token)", forHTTPHeaderField: "Authorization")
                return r
            })
        let client = Client(name: "nightshift-http-test", version: "1")
        _ = try await client.connect(transport: transport)
        let (tools, _) = try await client.listTools()
        #expect(Set(tools.map(\.name)) == Set(NightshiftTools.tools.map(\.name)))
        #expect(tools.count == 9)

        let (created, createFailed) = try await client.callTool(
            name: "task_create", arguments: ["task_type": "impl", "direction": "ERROR connect ECONNREFUSED 10.0.0.9:5432"])
        #expect(createFailed != true, "\(MCPStdioTests.text(created))")
        let id = try #require(MCPStdioTests.text(created).split(separator: " ").dropFirst().first.map(String.init))
        #expect(id.hasPrefix("task_"))
        #expect(
            await waitFor(timeout: 30) {
                let (got, _) = (try? await client.callTool(name: "task_get", arguments: ["id": .string(id)])) ?? ([], true)
                return MCPStdioTests.text(got).contains("status: completed")
            })
        let (issues, issuesFailed) = try await client.callTool(name: "log_issues", arguments: [:])
        #expect(issuesFailed != true, "\(MCPStdioTests.text(issues))")
        #expect(MCPStdioTests.text(issues).hasPrefix("run="))
        #expect(MCPStdioTests.text(issues).contains("connection_refused"), "the task's line was fingerprinted")
        await client.disconnect()

        // A second client initializes afresh (every request has its own server).
        let second = Client(name: "second", version: "1")
        _ = try await second.connect(
            transport: HTTPClientTransport(
                endpoint: endpoint, streaming: false,
                requestModifier: { request in
                    var r = request
                    r.setValue("Bearer \(Self.token)", forHTTPHeaderField: "Authorization")
                    return r
                }))
        #expect(try await second.listTools().tools.count == 9)
        await second.disconnect()

        daemon.signal(SIGTERM)
        #expect(await daemon.waitForExit() == 0)
    }
}
