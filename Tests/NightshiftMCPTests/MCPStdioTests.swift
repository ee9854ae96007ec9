import Foundation
import MCP
import NightshiftMCP
import NightshiftTesting
import SystemPackage
import Testing

/// The SDK's own client over a stdio pipe to the real `nightshift mcp`, against a real daemon.
@Suite("MCP over stdio")
struct MCPStdioTests {
    @Test("a client lists the tools and calls them against a live daemon")
    func listAndCall() async throws {
        let dir = try TemporaryDirectory(prefix: "nightshift-mcp")
        let config = try dir.write(
            "runner: { executors: { default: { command: \"echo {direction}\" } } }\nproject_manager: { backlog: \"\" }\n",
            to: "nightshift.yaml")
        let daemon = try DaemonProcess(stateDir: dir.path("state"), arguments: ["--config", config])
        #expect(await daemon.waitUntilReady(), "the daemon did not start: \(daemon.stderr)")

        let toServer = Pipe()
        let fromServer = Pipe()
        let mcp = Process()
        mcp.executableURL = URL(fileURLWithPath: NightshiftBinary.path)
        mcp.arguments = ["mcp", "--url", daemon.url]
        mcp.standardInput = toServer
        mcp.standardOutput = fromServer
        mcp.standardError = FileHandle.nullDevice
        try mcp.run()
        defer { if mcp.isRunning { mcp.terminate() } }

        let transport = StdioTransport(
            input: FileDescriptor(rawValue: fromServer.fileHandleForReading.fileDescriptor),
            output: FileDescriptor(rawValue: toServer.fileHandleForWriting.fileDescriptor))
        let client = Client(name: "nightshift-test", version: "1")
        _ = try await client.connect(transport: transport)

        let (tools, _) = try await client.listTools()
        #expect(
            Set(tools.map(\.name)) == [
                "task_list", "task_get", "task_create", "task_control", "pipeline_status", "log_query", "log_issues", "log_raw",
                "log_clear",
            ])

        let (cleared, clearFailed) = try await client.callTool(name: "log_clear", arguments: [:])
        #expect(clearFailed != true)
        #expect(Self.text(cleared).contains("started"))

        let (created, _) = try await client.callTool(
            name: "task_create", arguments: ["task_type": "impl", "direction": "ERROR connect ECONNREFUSED 10.0.0.9:5432"])
        let id = try #require(Self.text(created).split(separator: " ").dropFirst().first.map(String.init))
        #expect(id.hasPrefix("task_"))
        #expect(
            await waitFor(timeout: 30) {
                let (got, _) = (try? await client.callTool(name: "task_get", arguments: ["id": .string(id)])) ?? ([], true)
                return Self.text(got).contains("status: completed")
            })
        let (listed, _) = try await client.callTool(name: "task_list", arguments: ["status": "completed"])
        #expect(Self.text(listed).contains(id))

        let (raw, rawFailed) = try await client.callTool(name: "log_raw", arguments: ["grep": "(unclosed"])
        #expect(rawFailed == true, "a bad regex is a tool error")
        #expect(Self.text(raw).contains("422"))

        let (unknown, unknownFailed) = try await client.callTool(
            name: "task_control", arguments: ["id": .string(id), "action": "retry"])
        #expect(unknownFailed == true, "a completed task cannot be retried: \(Self.text(unknown))")
        #expect(Self.text(unknown).contains("409"))

        let (issues, issuesFailed) = try await client.callTool(name: "log_issues", arguments: [:])
        #expect(issuesFailed != true)
        #expect(Self.text(issues).hasPrefix("run="))

        await client.disconnect()
        try? toServer.fileHandleForWriting.close()
        daemon.signal(SIGTERM)
        #expect(await daemon.waitForExit() == 0)
    }

    @Test("answers past the limit are cut with a cursor that reads on")
    func paging() {
        let text = String(repeating: "x", count: NightshiftTools.maxChars + 10)
        let first = NightshiftTools.page(text, from: 0)
        #expect(first.contains("cursor=\(NightshiftTools.maxChars)"))
        #expect(NightshiftTools.page(text, from: NightshiftTools.maxChars) == String(repeating: "x", count: 10))
        #expect(NightshiftTools.schemaTokens > 100)
    }

    static func text(_ content: [Tool.Content]) -> String {
        content.compactMap { if case .text(let t, _, _) = $0 { return t } else { return nil } }.joined(separator: "\n")
    }
}
