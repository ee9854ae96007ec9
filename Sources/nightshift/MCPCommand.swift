import ArgumentParser
import Foundation
import NightshiftMCP

/// `nightshift mcp`: a Model Context Protocol server on stdin/stdout for a running daemon.
struct MCPCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mcp",
        abstract: "Serve the Model Context Protocol over stdio (task and log tools) against a running daemon.",
        discussion: """
            Tools: task_list, task_get, task_create, task_control (decide, cancel, retry), \
            pipeline_status, log_query, log_issues, log_raw, log_clear. Answers are compact and \
            cut at 6000 characters with a cursor to read on. --schema-size prints the tool \
            schemas' size in tokens (characters / 4) and exits. The daemon serves the same tools \
            over streamable HTTP at POST /mcp (bearer token as for the API).
            """)
    @OptionGroup var client: ClientCommandOptions
    @Flag(name: .long, help: "Print the tool schemas' size in tokens and exit.") var schemaSize = false

    func run() async throws {
        if schemaSize {
            print("tools=\(NightshiftTools.tools.count) schema_tokens=\(NightshiftTools.schemaTokens)")
            return
        }
        try await runReporting {
            let l = try client.locate()
            try await NightshiftMCPServer.run(client: DaemonClient(base: l.base, token: l.token), version: "0.1.0")
        }
    }
}
