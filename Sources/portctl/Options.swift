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
      "How to read sockets: auto, procfs (Linux), lsof (macOS; Linux too), windows (native, the default on Windows), netstat (Windows tools).",
      valueName: "name"))
  var backend: Backend = .automatic
}

/// `--host [USER@]HOST` and `--ssh-option`: the same answers for another machine over ssh.
struct RemoteHostOptions: ParsableArguments {
  @Option(
    name: .long,
    help: ArgumentHelp(
      "Ask another machine over ssh (nothing is installed there; it needs sh and /proc or lsof). See README: --host.",
      valueName: "[user@]host"))
  var host: String?

  @Option(
    name: .customLong("ssh-option"),
    help: ArgumentHelp(
      "An option for ssh with --host, passed as -o OPTION (Port=2222, IdentityFile=~/.ssh/id_ed25519); repeatable.",
      valueName: "option"))
  var sshOptions: [String] = []

  func validate() throws {
    if host == nil, !sshOptions.isEmpty { throw ValidationError("--ssh-option needs --host") }
    _ = try remote()
  }

  /// The host (already validated), or `nil` for this machine.
  func remote() throws -> RemoteHost? {
    guard let host else { return nil }
    do {
      return try RemoteHost(host, sshOptions: sshOptions)
    } catch {
      throw ValidationError(error.message)
    }
  }

  /// The host, `nil` for this machine.
  var remoteHost: RemoteHost? { try? remote() }

  /// What the suggested portctl commands add to act on the same machine: ` --host HOST`
  /// (shell-quoted; the `--ssh-option`s are left out to keep them readable), empty for this
  /// machine.
  var suggestionSuffix: String {
    host.map { " --host " + ShellQuoting.quote($0) } ?? ""
  }

  /// Refuses `--project` with `--host`: the directory is on this machine.
  func refuseProject(_ project: String?) throws {
    if host != nil, project != nil {
      throw ValidationError("--project names a directory on this machine; it cannot be used with --host")
    }
  }
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

/// `kill` and `free`'s targets: ports, the listeners of a project (`--project DIR`), or the
/// project's listeners on those ports.
struct PortsOrProjectArguments: ParsableArguments {
  @Option(
    name: .long,
    help: ArgumentHelp(
      "Every listener held by a process running in the project at DIR (with ports: only those).", valueName: "dir"))
  var project: String?

  @Argument(
    parsing: .allUnrecognized,
    help: ArgumentHelp("Ports: \(PortSpec.acceptedForms).", valueName: "port"))
  var ports: [String] = []

  func validate() throws {
    if let project { _ = try ProjectArgument.resolve(project) }
    if ports.isEmpty, project == nil {
      throw ValidationError("missing port: give one or more of \(PortSpec.acceptedForms), or --project DIR")
    }
    _ = try PortArguments.parse(ports)
  }

  /// The parsed specs (already validated).
  var specs: [PortSpec] { (try? PortArguments.parse(ports)) ?? [] }

  /// `--project`'s directory as a real absolute path (already validated).
  var projectDirectory: String? { project.flatMap { try? ProjectArgument.resolve($0) } }
}

/// `--project DIR`: the directory, relative to the current one, as a real absolute path.
enum ProjectArgument {
  static func resolve(_ text: String) throws -> String {
    let files = LocalProjectFiles()
    guard !text.isEmpty, let real = files.realPath(text), files.kind(of: real) == .directory else {
      throw ValidationError("--project takes a directory: '\(text)' is not one that can be read")
    }
    return real
  }
}

/// Parses port-spec arguments, refusing bad ones with the token and the accepted forms.
enum PortArguments {
  static func parse(_ arguments: [String]) throws -> [PortSpec] {
    var specs: [PortSpec] = []
    // `--` ends the options: what follows is a port spec even when it starts with a dash.
    var options = true
    for argument in arguments {
      if options, argument == "--" {
        options = false
        continue
      }
      if options, argument.hasPrefix("-"), argument.count > 1, !argument.dropFirst().allSatisfy(\.isNumber) {
        throw ValidationError("unknown option '\(argument)'. See 'portctl help'.")
      }
      do {
        specs += try PortSpec.parseList(argument)
      } catch {
        let suggestion = Self.command(near: argument).map { " Did you mean `portctl \($0)`?" } ?? ""
        throw ValidationError(error.description + suggestion)
      }
    }
    return specs
  }

  /// The subcommand a mistyped word most likely meant (at most two edits away), for a word
  /// that is no port spec: `lsit` → `list`.
  static func command(near word: String) -> String? {
    let typed = Array(word.lowercased().unicodeScalars)
    guard typed.count >= 2, typed.count <= 12, typed.allSatisfy({ $0.properties.isAlphabetic }) else { return nil }
    var best: (name: String, distance: Int)?
    for name in Portctl.commandNames {
      let distance = editDistance(typed, Array(name.unicodeScalars))
      if distance <= min(2, name.count / 2), distance < (best?.distance ?? Int.max) { best = (name, distance) }
    }
    return best?.name
  }

  /// Levenshtein distance, with a swap of neighbours counted as one edit.
  static func editDistance(_ a: [Unicode.Scalar], _ b: [Unicode.Scalar]) -> Int {
    guard !a.isEmpty else { return b.count }
    guard !b.isEmpty else { return a.count }
    var table = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
    for i in 0...a.count { table[i][0] = i }
    for j in 0...b.count { table[0][j] = j }
    for i in 1...a.count {
      for j in 1...b.count {
        let cost = a[i - 1] == b[j - 1] ? 0 : 1
        table[i][j] = min(table[i - 1][j] + 1, table[i][j - 1] + 1, table[i - 1][j - 1] + cost)
        if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
          table[i][j] = min(table[i][j], table[i - 2][j - 2] + 1)
        }
      }
    }
    return table[a.count][b.count]
  }
}
