import ArgumentParser
import PortKit

/// `--json` and `--quiet`, shared by every command.
struct OutputOptions: ParsableArguments {
  @Flag(name: .long, help: "Print one JSON document (schema: docs/json.md).")
  var json = false

  @Flag(name: [.short, .long], help: "Print nothing; answer with the exit status only.")
  var quiet = false
}

/// Which sockets to look at.
struct SocketSelectionOptions: ParsableArguments {
  @Flag(name: .long, help: "Only TCP sockets.")
  var tcp = false

  @Flag(name: .long, help: "Only UDP sockets.")
  var udp = false

  @Flag(
    name: .shortAndLong, help: "Also connections and closing sockets (TIME_WAIT, CLOSE_WAIT, …), not only listeners.")
  var all = false

  var protocols: Set<TransportProtocol> {
    switch (tcp, udp) {
    case (true, false): [.tcp]
    case (false, true): [.udp]
    default: [.tcp, .udp]
    }
  }
}

extension Backend: ExpressibleByArgument {}

/// Which way to read the system.
struct BackendOptions: ParsableArguments {
  @Option(
    name: .long,
    help: ArgumentHelp(
      "How to read sockets: auto, procfs (Linux), lsof (macOS; Linux too), netstat (Windows).", valueName: "name"))
  var backend: Backend = .automatic
}

/// The port specs a command works on: one or more arguments, each checked when parsed.
struct PortSpecArguments: ParsableArguments {
  @Argument(
    parsing: .allUnrecognized,
    help: ArgumentHelp("Ports: \(PortSpec.acceptedForms).", valueName: "port"))
  var ports: [String] = []

  func validate() throws {
    if ports.isEmpty { throw ValidationError("missing port: give one or more of \(PortSpec.acceptedForms)") }
    _ = try PortArguments.parse(ports)
  }

  /// The parsed specs (already validated).
  var specs: [PortSpec] { (try? PortArguments.parse(ports)) ?? [] }
}

/// Parses port-spec arguments, refusing bad ones with the token and the accepted forms.
enum PortArguments {
  static func parse(_ arguments: [String]) throws -> [PortSpec] {
    var specs: [PortSpec] = []
    for argument in arguments {
      if argument.hasPrefix("-"), argument.count > 1, !argument.dropFirst().allSatisfy(\.isNumber) {
        throw ValidationError("unknown option '\(argument)'. See 'portctl help'.")
      }
      do {
        specs += try PortSpec.parseList(argument)
      } catch {
        throw ValidationError(error.description)
      }
    }
    return specs
  }
}
