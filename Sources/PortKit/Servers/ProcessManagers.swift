/// What owns a holder's life, and the command that stops it properly instead of `kill`.
public struct ProcessManager: Hashable, Sendable {
  /// What kind of manager it is; stable, and used in the JSON output.
  public struct Kind: Hashable, Sendable, RawRepresentable, CustomStringConvertible {
    /// The stable name, as in the JSON output.
    public var rawValue: String
    /// The kind named `rawValue`.
    public init(rawValue: String) { self.rawValue = rawValue }
    /// The stable name.
    public var description: String { rawValue }

    /// A systemd system unit.
    public static let systemdUnit = Kind(rawValue: "systemd-unit")
    /// A systemd user unit (`systemctl --user`).
    public static let systemdUserUnit = Kind(rawValue: "systemd-user-unit")
    /// A Docker container.
    public static let docker = Kind(rawValue: "docker")
    /// A Podman container.
    public static let podman = Kind(rawValue: "podman")
    /// Docker's port-publishing proxy.
    public static let dockerProxy = Kind(rawValue: "docker-proxy")
    /// A supervisord program.
    public static let supervisord = Kind(rawValue: "supervisord")
    /// A pm2 app.
    public static let pm2 = Kind(rawValue: "pm2")
    /// nodemon, which restarts its child on changes.
    public static let nodemon = Kind(rawValue: "nodemon")
    /// A Procfile runner (foreman, honcho, overmind…).
    public static let procfileRunner = Kind(rawValue: "procfile-runner")
    /// A runit service.
    public static let runit = Kind(rawValue: "runit")
    /// An s6 service.
    public static let s6 = Kind(rawValue: "s6")
    /// A tmux pane.
    public static let tmux = Kind(rawValue: "tmux")
    /// A GNU screen session.
    public static let screen = Kind(rawValue: "screen")
    /// An SSH port forward.
    public static let sshForward = Kind(rawValue: "ssh-forward")
    /// `kubectl port-forward`.
    public static let kubectlPortForward = Kind(rawValue: "kubectl-port-forward")
    /// An IDE's port forward (VS Code and others).
    public static let ideForward = Kind(rawValue: "ide-port-forward")
    /// A launchd job (macOS).
    public static let launchd = Kind(rawValue: "launchd")
    /// A Windows service.
    public static let windowsService = Kind(rawValue: "windows-service")
  }

  /// How a manager claim was established: what portctl read to make it.
  public struct Evidence: Hashable, Sendable, RawRepresentable, CustomStringConvertible {
    /// The stable name, as in the JSON output.
    public var rawValue: String
    /// The evidence named `rawValue`.
    public init(rawValue: String) { self.rawValue = rawValue }
    /// The stable name.
    public var description: String { rawValue }

    /// Only the holder's own environment (`SUPERVISOR_PROCESS_NAME`, `pm_id`, `TMUX`, `STY`):
    /// any process can set these about itself, so they are not proof.
    public static let environment = Evidence(rawValue: "environment")
    /// Only the holder's own command line, which any process can set about itself.
    public static let commandLine = Evidence(rawValue: "command-line")
    /// An ancestor of the holder (the supervising process itself, or its command line).
    public static let ancestor = Evidence(rawValue: "ancestor")
    /// The holder's control group, which the kernel keeps and the process cannot rename.
    public static let controlGroup = Evidence(rawValue: "control-group")
    /// The operating system's own service table (Windows `tasklist /SVC`).
    public static let serviceTable = Evidence(rawValue: "service-table")

    /// True when the claim rests only on what the holder says about itself.
    public var isSelfReported: Bool { self == .environment || self == .commandLine }
  }

  /// What kind of manager it is.
  public var kind: Kind
  /// The unit, container, program, session…
  public var name: String
  /// One sentence on what it is and what it does to the holder.
  public var detail: String
  /// The command that stops the holder properly. Every value taken from a process in it is
  /// shell-quoted (``ShellQuoting/quote(_:)``).
  public var stop: String
  /// What the claim rests on.
  public var evidence: Evidence

  /// A manager claim.
  public init(kind: Kind, name: String, detail: String, stop: String, evidence: Evidence) {
    self.kind = kind
    self.name = name
    self.detail = detail
    self.stop = stop
    self.evidence = evidence
  }

  /// A warning when the claim rests only on what the holder says about itself; `nil` otherwise.
  public var evidenceWarning: String? {
    switch evidence {
    case .environment: "self-reported: only the process's own environment says so, and any process can set that"
    case .commandLine: "self-reported: only the process's own command line says so"
    default: nil
    }
  }

  /// `managed by …: stop it with …`, for `who`.
  public var summary: String {
    let warning = evidenceWarning.map { " (\($0))" } ?? ""
    return "\(detail)\(warning); stop it with: \(stop)"
  }
}

/// Finds the managers of a holder from its command line, its ancestors, its environment
/// and its control group. Pure; most specific first.
enum ProcessManagers {
  /// What the detectors read about one holder.
  struct Clues {
    var holder: ProcessRecord
    var ancestors: [ProcessRecord]
    var environment: [String: String]?
    /// The socket's port, or `PORT` where there is none.
    var port: String
    /// The command line as words (a single string split at spaces).
    var arguments: [String]
    /// The program's file name.
    var program: String
  }

  static func detect(
    holder: ProcessRecord, ancestors: [ProcessRecord], environment: [String: String]?, socket: SocketEntry?
  ) -> [ProcessManager] {
    let arguments =
      holder.commandLine.count == 1
      ? holder.commandLine[0].split(separator: " ").map(String.init) : holder.commandLine
    let clues = Clues(
      holder: holder, ancestors: ancestors, environment: environment,
      port: socket.map { "\($0.local.port)" } ?? "PORT", arguments: arguments,
      program: (arguments.first?.split(separator: "/").last).map(String.init) ?? holder.name)
    var found: [ProcessManager] = []
    forwarding(clues, into: &found)
    fromEnvironment(clues, into: &found)
    fromAncestors(clues, into: &found)
    fromHost(clues, into: &found)
    return found
  }

  static func quote(_ value: String) -> String { ShellQuoting.quote(value) }

  /// A service name as one `cmd.exe` argument: double-quoted unless it is plain.
  static func windowsQuote(_ value: String) -> String {
    let plain = !value.isEmpty && value.allSatisfy { $0.isLetter || $0.isNumber || "_-.$".contains($0) }
    return plain ? value : "\"\(value.filter { $0 != "\"" && $0 != "%" && !$0.isNewline })\""
  }

  static func isPM2(_ process: ProcessRecord) -> Bool {
    process.name.hasPrefix("PM2") || process.displayCommand.hasPrefix("PM2 ")
  }

  static func isSupervisord(_ process: ProcessRecord) -> Bool {
    process.name == "supervisord" || process.commandLine.contains { $0.hasSuffix("supervisord") }
  }

  /// `-c FILE` or `--configuration=FILE` from supervisord's command line.
  static func configFile(_ process: ProcessRecord) -> String? {
    let arguments = process.commandLine
    for (index, argument) in arguments.enumerated() {
      if (argument == "-c" || argument == "--configuration"), index + 1 < arguments.count {
        return arguments[index + 1]
      }
      if argument.hasPrefix("--configuration=") { return String(argument.dropFirst("--configuration=".count)) }
    }
    return nil
  }

  static func argument(after program: String, in line: String) -> String? {
    let words = line.split(separator: " ")
    guard let index = words.firstIndex(where: { $0.hasSuffix(program) }), index + 1 < words.count else { return nil }
    return String(words[index + 1])
  }

  /// A container id from a control group: `docker-<id>.scope`, `/docker/<id>`,
  /// `libpod-<id>.scope`, `/libpod/<id>`.
  public static func container(_ controlGroup: String?) -> (id: String, podman: Bool)? {
    guard let controlGroup else { return nil }
    for component in controlGroup.split(whereSeparator: { $0 == "/" || $0 == "\n" || $0 == ":" }) {
      var name = Substring(component)
      if name.hasSuffix(".scope") { name = name.dropLast(6) }
      for (prefix, podman) in [("docker-", false), ("libpod-", true), ("cri-containerd-", false)]
      where name.hasPrefix(prefix) {
        let id = name.dropFirst(prefix.count)
        if id.count == 64, id.allSatisfy(\.isHexDigit) { return (String(id.prefix(12)), podman) }
      }
      if name.count == 64, name.allSatisfy(\.isHexDigit) {
        let podman = controlGroup.contains("/libpod")
        return (String(name.prefix(12)), podman)
      }
    }
    return nil
  }
}
