import ArgumentParser
import PortKit

struct Check: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    // Named here: deriving it from the type name costs a demangling at every start.
    commandName: "check",
    abstract: "Can a server bind the ports now? If not, every reason, with the fix.",
    discussion: """
      The answer is a real bind, closed at once: on the asked address, or without one on \
      0.0.0.0 and [::], as a typical server binds. TCP binds set SO_REUSEADDR as servers do. \
      A spec without a protocol checks TCP. Then the reasons, each with a stable code \
      (--json): held, address-overlap, held-hidden, held-by-kernel, time-wait, privileged, \
      address-unavailable, excluded-range, permission-denied, unexplained; and notes:
      ephemeral-range, reserved-port, privileged-allowed, well-known-port, unprobed, \
      v6-only-bindable. With --host the answer comes from the remote socket table alone (no \
      bind is made there: the unprobed note says so). [::] is bound dual-stack, as servers bind it where that is the \
      host's default (net.ipv6.bindv6only = 0); on a host without IPv6 it does not apply.

      Exit status: 0 every asked port can be bound; 1 at least one cannot; 2 the system could \
      not be inspected; 64 usage error.
      """
  )

  @OptionGroup var target: PortSpecArguments

  @OptionGroup var output: OutputOptions
  @OptionGroup var backend: BackendOptions
  @OptionGroup var remote: RemoteHostOptions

  static let maximumPorts = 4096

  func validate() throws {
    let specs = target.specs
    let count = specs.reduce(0) { $0 + $1.ports.count }
    if count > Self.maximumPorts {
      throw ValidationError(
        "check binds every port it is asked about: \(count) ports is too many (at most \(Self.maximumPorts))")
    }
  }

  func run() async throws {
    Inspection.suggestionSuffix = remote.suggestionSuffix
    let checks = try await Inspection.run(
      "check", output: output, backend: backend.backend, host: remote.remoteHost
    ) { system in
      try await BindDiagnosis(system: system).checks(for: target.specs)
    }
    let status = checks.allSatisfy(\.bindable) ? ExitStatus.success : ExitStatus.negative
    if output.json {
      JSONOutput.emit(CheckDocument(exitCode: status, checks: checks, host: remote.host))
    } else if !output.quiet {
      CheckText.print(checks)
    }
    if status != ExitStatus.success { throw ExitCode(status) }
  }
}

enum CheckText {
  /// Prints `checks` on standard output, or through `write` (one line at a time) in `style`.
  static func print(
    _ checks: [BindCheck], style: Style = .standardOutput, write: (String) -> Void = { Swift.print($0) }
  ) {
    for check in checks {
      let target = check.address.map { "\(Endpoint(address: $0, port: check.port))" } ?? "\(check.port)"
      // An address the host does not have (IPv6 on a host without it) is not applicable.
      let probed = BindCheck.addresses(for: check.address)
      let applicable = probed.filter { check.address != nil || check.binds[$0] != .familyUnsupported }
      let addresses =
        Wording.list(applicable.map { $0 == .anyV6 ? "[::]" : "\($0)" })
        + (applicable.count < probed.count ? "; [::] not applicable: no IPv6" : "")
      // Green only for a real bind that works as a plain bind too; yellow when it was not
      // probed, or only servers that set SO_REUSEADDR can bind.
      let certain = !check.binds.isEmpty && check.plainBindable != false
      let verdict =
        check.bindable
        ? (certain ? style.green("can bind") : style.yellow("can bind"))
          + (check.binds.isEmpty ? "" : " (\(addresses))")
        : style.red("cannot bind") + (check.binds.isEmpty ? "" : " (\(addresses))")
      write("\(check.proto.rawValue) \(target): \(verdict)")
      for reason in check.reasons {
        write("  \(style.bold(reason.code.rawValue)): \(TerminalText.escape(text(reason)))")
      }
      for note in check.notes { write("  note \(note.code.rawValue): \(TerminalText.escape(note.message))") }
    }
  }

  /// A reason's message with its remedy as the portctl commands that carry it out.
  static func text(_ reason: BindReason) -> String { ReasonText.withRemedy(reason) }
}
