import CommandDocuments
import MCP
import PortKit

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// `portctl-mcp` (what `portctl mcp` runs): a Model Context Protocol server over stdio whose
/// tools are portctl's commands, each answering with the document `--json` prints.
@main
enum PortctlMCP {
  /// portctl's version (Sources/PortKit/Version.swift).
  static let version = PortctlVersion.current

  static let help = """
    USAGE: portctl mcp [--allow-stop]

    A Model Context Protocol server over stdio (one JSON-RPC message a line) for coding
    agents. Tools: who, list, why, check, find, wait, explain (read-only); with --allow-stop
    also free and kill, which return a plan and its planId first and act only when called
    again with that planId. Results are the documents `portctl --json` prints (docs/json.md).

    OPTIONS:
      --allow-stop   Offer the free and kill tools.
      --version      Show the version.
      -h, --help     Show help information.
    """

  static func main() async {
    var allowStop = false
    for argument in CommandLine.arguments.dropFirst() {
      switch argument {
      case "--allow-stop": allowStop = true
      case "-h", "--help":
        print(help)
        exit(0)
      case "--version":
        print(version)
        exit(0)
      default:
        let shown = TerminalText.escape(argument)
        writeError("portctl mcp: unknown argument '\(shown)'; the only option is --allow-stop.")
        exit(ExitStatus.usage)
      }
    }
    let offered = allowStop
    let tools = ToolCalls(allowStop: offered)
    let server = Server(
      name: "portctl", version: version,
      instructions:
        "portctl tells who holds a network port and why, checks whether a server can bind it, finds free ports and explains bind errors. Results are portctl's --json documents.",
      capabilities: .init(tools: .init(listChanged: false)))
    await server.withMethodHandler(ListTools.self) { _ in ListTools.Result(tools: ToolCatalog.tools(allowStop: offered))
    }
    await server.withMethodHandler(CallTool.self) { parameters in
      try await tools.call(parameters.name, arguments: parameters.arguments ?? [:])
    }
    do {
      try await server.start(transport: StdioTransport())
    } catch {
      writeError("portctl mcp: could not start on standard input and output: \(error).")
      exit(ExitStatus.systemError)
    }
    await server.waitUntilCompleted()
    await server.stop()
  }

  /// Writes `line` and a newline to standard error.
  static func writeError(_ line: String) {
    let bytes = Array((line + "\n").utf8)
    _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
  }
}
