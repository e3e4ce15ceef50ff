import ArgumentParser
import PortKit

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// `portctl mcp`: replaces this process with `portctl-mcp`, the MCP server installed next to
/// `portctl`. The server is a separate executable so that the MCP SDK adds nothing to the
/// start-up of every other command.
struct MCP: ParsableCommand {
  static let configuration = CommandConfiguration(
    // Named here: deriving it from the type name costs a demangling at every start.
    commandName: "mcp",
    abstract: "Serve the Model Context Protocol over stdio, for coding agents.",
    discussion: """
      Speaks MCP (JSON-RPC, one message a line) on standard input and output until standard \
      input closes. Tools: who, list, why, check, find, wait, explain, read-only; each \
      result is the document `--json` prints (docs/json.md), with isError set when the \
      command would fail. With --allow-stop also free and kill, which plan first: a call \
      without planId changes nothing and returns the plan (targets with pid and start time, \
      signals, protected processes) and its planId; a call with that planId plans again and \
      acts only when the new plan has the same id. They never end client connections (no \
      --all), protected processes, or the server and its ancestors (the agent).

      Agent configuration: {"mcpServers": {"portctl": {"command": "portctl", "args": ["mcp"]}}}

      Exit status: 0 when the client closed the connection; 2 portctl-mcp is not installed \
      next to portctl; 64 usage error.
      """
  )

  @Flag(name: .long, help: "Offer the free and kill tools (plan first, act with the plan's id).")
  var allowStop = false

  func run() throws {
    let server = MCPExecutable.path()
    #if os(Windows)
    Terminal.printError(
      "portctl: on Windows run \(server) directly as the MCP server (with --allow-stop to offer free and kill).")
    throw ExitCode(ExitStatus.systemError)
    #else
    guard access(server, X_OK) == 0 else {
      Terminal.printError(
        "portctl: the MCP server \(TerminalText.escape(server)) is missing: install portctl-mcp in the same directory as portctl (swift build builds both)."
      )
      throw ExitCode(ExitStatus.systemError)
    }
    let arguments = [server] + (allowStop ? ["--allow-stop"] : [])
    var pointers = arguments.map { strdup($0) }
    pointers.append(nil)
    execv(server, pointers)
    let reason = String(cString: strerror(errno))
    Terminal.printError("portctl: could not start the MCP server \(TerminalText.escape(server)): \(reason).")
    throw ExitCode(ExitStatus.systemError)
    #endif
  }
}

/// Where `portctl-mcp` is: next to this executable.
enum MCPExecutable {
  /// `portctl-mcp` in the directory of the running executable: on Linux the real path of
  /// /proc/self/exe, elsewhere the directory of argv[0] (searched in PATH when it has no slash).
  static func path() -> String {
    #if os(Windows)
    let name = "portctl-mcp.exe"
    #else
    let name = "portctl-mcp"
    #endif
    guard let directory = ownDirectory() else { return name }
    return directory + "/" + name
  }

  private static func ownDirectory() -> String? {
    #if os(Linux)
    var buffer = [CChar](repeating: 0, count: 4097)
    let count = readlink("/proc/self/exe", &buffer, 4096)
    if count > 0 {
      let bytes = buffer[..<count].map { UInt8(bitPattern: $0) }
      return directory(of: String(decoding: bytes, as: UTF8.self))
    }
    #endif
    let invoked = CommandLine.arguments.first ?? ""
    if invoked.contains("/") { return directory(of: invoked) }
    #if !os(Windows)
    for entry in (getenv("PATH").map { String(cString: $0) } ?? "").split(separator: ":") {
      let candidate = "\(entry)/\(invoked)"
      if !invoked.isEmpty, access(candidate, X_OK) == 0 { return String(entry) }
    }
    #endif
    return nil
  }

  private static func directory(of path: String) -> String? {
    guard let slash = path.lastIndex(of: "/") else { return nil }
    return slash == path.startIndex ? "/" : String(path[..<slash])
  }
}
