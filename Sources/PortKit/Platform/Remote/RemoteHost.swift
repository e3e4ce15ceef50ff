/// Another machine, reached over `ssh`: `[USER@]HOST` and the `-o` options to pass.
///
/// Every command runs as `ssh -T -o BatchMode=yes -o ConnectTimeout=… [-o OPTION…] -- DESTINATION
/// COMMAND`: no terminal, no password prompt (a key or an agent must log in), and nothing is
/// installed on the other side.
public struct RemoteHost: Hashable, Sendable, CustomStringConvertible {
  /// `[USER@]HOST` as given.
  public var destination: String
  /// ssh `-o` options (`Port=2222`, `IdentityFile=~/.ssh/id`), each passed as `-o OPTION`.
  public var sshOptions: [String]
  /// Seconds ssh waits for the connection (`ConnectTimeout`).
  public var connectTimeout: Int

  /// Checks `destination` (one word, no leading `-`, no controls or spaces) and the options
  /// (each `Name=value` or `Name value`, no controls).
  public init(_ destination: String, sshOptions: [String] = [], connectTimeout: Int = 10) throws(PortKitError) {
    guard Self.isValidDestination(destination) else {
      throw PortKitError(
        .usage,
        "--host takes [USER@]HOST (one word, not starting with '-'): '\(TerminalText.escape(destination))' is not one.")
    }
    for option in sshOptions where !Self.isValidOption(option) {
      throw PortKitError(
        .usage, "--ssh-option takes an ssh option such as Port=2222: '\(TerminalText.escape(option))' is not one.")
    }
    self.destination = destination
    self.sshOptions = sshOptions
    self.connectTimeout = max(1, connectTimeout)
  }

  /// The destination.
  public var description: String { destination }

  static func isValidDestination(_ text: String) -> Bool {
    guard !text.isEmpty, text.utf8.count <= 255, text.utf8.first != UInt8(ascii: "-") else { return false }
    return text.unicodeScalars.allSatisfy { $0.value > 0x20 && $0.value != 0x7F && !TerminalText.needsEscaping($0) }
  }

  static func isValidOption(_ text: String) -> Bool {
    guard !text.isEmpty, text.utf8.count <= 1024, text.utf8.first != UInt8(ascii: "-") else { return false }
    return text.unicodeScalars.allSatisfy { $0.value >= 0x20 && $0.value != 0x7F && !TerminalText.needsEscaping($0) }
  }

  /// The arguments to `ssh` that run `command` (a POSIX shell script, run by the remote
  /// user's login shell as `sh -c SCRIPT`) on the host.
  func sshArguments(running command: String) -> [String] {
    var arguments = ["-T", "-o", "BatchMode=yes", "-o", "ConnectTimeout=\(connectTimeout)", "-o", "LogLevel=ERROR"]
    for option in sshOptions { arguments += ["-o", option] }
    return arguments + ["--", destination, "sh -c " + ShellQuoting.quote(command)]
  }

  /// Runs the script `command` on the host through `runner` (one `ssh` run). ssh's own
  /// failures (exit 255: not installed, unreachable, refused, not logged in) become errors
  /// that say so; the script's exit status is left to the caller.
  func run(_ command: String, runner: any CommandRunner) async throws(PortKitError) -> CommandOutput {
    let output: CommandOutput
    do {
      output = try await runner.run("ssh", sshArguments(running: command))
    } catch let error where error.code == .toolMissing {
      throw PortKitError(
        .toolMissing, "--host needs the ssh client, which was not found on this machine; install OpenSSH's client.")
    }
    if output.exitCode == 255 || output.exitCode == nil {
      throw Self.sshFailure(output, destination: destination)
    }
    return output
  }

  /// The error for an ssh run that failed (exit 255), from what ssh printed.
  static func sshFailure(_ output: CommandOutput, destination: String) -> PortKitError {
    let text = String(decoding: output.standardError.prefix(4096), as: UTF8.self)
    let lines = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters() }.filter { !$0.isEmpty }
    // ssh's own complaint comes last (after warnings and the remote's banner).
    let said = lines.last.map { ": ssh said: " + TerminalText.escape(String($0.prefix(300))) } ?? ""
    let host = TerminalText.escape(destination)
    let lower = text.lowercased()
    if lower.contains("permission denied") || lower.contains("too many authentication failures") {
      return PortKitError(
        .remoteUnreachable,
        "ssh could not log in to \(host)\(said). portctl runs ssh with BatchMode=yes: it needs a key or an agent that logs in without a prompt."
      )
    }
    if lower.contains("host key verification failed") || lower.contains("remote host identification has changed") {
      return PortKitError(
        .remoteUnreachable,
        "ssh refused \(host)'s host key\(said). Connect once with ssh yourself to check and accept it.")
    }
    if output.exitCode == nil {
      return PortKitError(.remoteUnreachable, "ssh to \(host) was ended by a signal\(said).")
    }
    return PortKitError(.remoteUnreachable, "Could not reach \(host) over ssh\(said).")
  }
}

extension PortKitError.Code {
  /// Another machine could not be reached or logged in to over ssh (`--host`).
  public static let remoteUnreachable = PortKitError.Code(rawValue: "remote-unreachable")
  /// The arguments were not acceptable.
  public static let usage = PortKitError.Code(rawValue: "usage")
}

extension Substring {
  fileprivate func trimmingCharacters() -> Substring {
    var text = self
    while let first = text.first, first.isWhitespace { text = text.dropFirst() }
    while let last = text.last, last.isWhitespace { text = text.dropLast() }
    return text
  }
}
