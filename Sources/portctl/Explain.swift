import ArgumentParser
import PortKit

struct Explain: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    // Named here: deriving it from the type name costs a demangling at every start.
    commandName: "explain",
    abstract: "Read a bind error from any program and say what holds the port and how to fix it.",
    discussion: """
      Give the message as arguments, or pipe it in (or pass -): `npm run dev 2>&1 | portctl \
      explain`. portctl recognises the error (address in use, permission denied, address not \
      available, Windows 10048/10013/10049/10055, or a bind that failed without saying why), \
      the program that printed it (over 200 servers, frameworks, runtimes and tools: gunicorn, \
      Vite, Kestrel, MariaDB, nginx, sshd, dnsmasq, Docker …; "a program" when nothing says \
      more), the port and address in the shapes programs print them (host:port, [v6]:port, \
      host@port, tuples, "port N on ADDR", URLs, connector names), and the protocol from the \
      message's words, then runs `check` on that port.

      The check is made the way the failing program binds: both TCP and UDP when the message \
      does not settle the protocol (Node's dgram, Java's DatagramSocket or "UDP" mean UDP), a \
      plain bind for programs that do not set SO_REUSEADDR (socat, a bare Python \
      socket.bind), an unprivileged server for EACCES even when portctl runs as root. \
      EADDRNOTAVAIL is judged by the address, and a connect-side error (ephemeral ports used \
      up) gets advice instead of a port check.

      Exit status: 0 the error was understood and the port can be bound now; 1 it was \
      understood and the server would fail again (or it is a connect-side error, or an \
      unavailable address); 5 no bind error was recognised, or it names no port (give \
      --port); 2 the system could not be inspected; 64 usage error.
      """
  )

  @Argument(help: ArgumentHelp("The error text; - or nothing reads standard input.", valueName: "text"))
  var text: [String] = []

  @Option(name: .long, help: "The port, when the message does not say.") var port: UInt16?
  @OptionGroup var output: OutputOptions
  @OptionGroup var backend: BackendOptions

  func validate() throws {
    if let port, port == 0 { throw ValidationError("--port takes 1 to 65535") }
    if (text.isEmpty || text == ["-"]), Terminal.stdinIsTTY {
      throw ValidationError("give the error text as an argument, or pipe it in: … 2>&1 | portctl explain")
    }
  }

  func run() async throws {
    var input = text.joined(separator: " ")
    if text.isEmpty || text == ["-"] {
      input = Terminal.readStandardInput().text
    } else if input.utf8.count > 256 << 10 {
      var excerpt = ErrorExcerpt()
      excerpt.append(input.utf8)
      input = excerpt.text
    }
    let outcome = try await Inspection.run("explain", output: output, backend: backend.backend) { system in
      try await BindFailureExplanation(system: system).explain(input, port: port)
    }
    switch outcome {
    case .notRecognized:
      try finish(
        nil, [],
        "no bind error recognised in the text: look for EADDRINUSE, \"address already in use\", EACCES or a Windows 10048/10013 error"
      )
    case .noPort(let failure):
      try finish(
        failure, [],
        "\(failure.runtime) reported \(failure.errorName) but did not say which port; run again with --port N")
    case .advice(let failure, let advice):
      try finish(failure, [], nil, advice: advice)
    case .checked(let failure, let checks):
      try finish(failure, checks, nil)
    }
  }

  private func finish(_ failure: BindFailure?, _ checks: [BindCheck], _ problem: String?, advice: String? = nil)
    throws
  {
    let check = BindFailureDiagnosis.deciding(checks)
    // Understood and bindable: 0; understood, but the server would fail again: 1.
    let status: Int32
    if check != nil {
      status = checks.allSatisfy(\.bindable) ? ExitStatus.success : ExitStatus.negative
    } else {
      status = advice != nil ? ExitStatus.negative : ExitStatus.notUnderstood
    }
    if output.json {
      JSONOutput.emit(
        ExplainDocument(
          exitCode: status, failure: failure, check: check, checks: checks, problem: problem, advice: advice))
    } else if !output.quiet {
      if let failure { print(TerminalText.escape(ExplainText.summary(failure))) }
      if let problem { Terminal.printError("portctl: \(TerminalText.escape(problem))") }
      if let advice { print(TerminalText.escape(advice)) }
      if let failure, failure.proto == nil, checks.count > 1 {
        print("The message does not say TCP or UDP: both were checked.")
      }
      if !checks.isEmpty {
        CheckText.print(checks)
        if checks.allSatisfy(\.bindable) {
          print("The port can be bound now: what held it is gone. Start the server again.")
        }
        // Excluded ranges are Windows's: the advice is for a check made there.
        if failure?.kind == .accessForbidden, check?.reasons.isEmpty == true, HostPlatform.current == .windows {
          print(
            "WSAEACCES 10013 on Windows usually means the port is inside an excluded range (Hyper-V, WinNAT, WSL2, Docker): netsh interface ipv4 show excludedportrange protocol=tcp; fixes: \(PortReservations.exclusionFixes.joined(separator: "; "))"
          )
        }
      }
    }
    if status != ExitStatus.success { throw ExitCode(status) }
  }
}

enum ExplainText {
  static func summary(_ failure: BindFailure) -> String {
    let target: String
    switch (failure.address, failure.host, failure.port) {
    case (let address?, _, let port?): target = " on \(Endpoint(address: address, port: port))"
    case (_, let host?, let port?): target = " on \(host):\(port)"
    case (nil, nil, let port?): target = " on port \(port)"
    default: target = ""
    }
    let what: String
    switch failure.kind {
    case .addressInUse: what = "the address is already in use"
    case .permissionDenied: what = "permission was denied"
    case .accessForbidden: what = "Windows forbade the access (often an excluded port range)"
    case .addressNotAvailable: what = "the address is not available on this machine"
    case .unspecified: what = "the message does not say why"
    }
    let proto = failure.proto.map { " (\($0.rawValue))" } ?? ""
    if failure.operation == .remoteBind {
      return
        "\(failure.runtime): the server at the other end of the ssh connection could not listen\(target)\(proto) for the remote forward (ssh -R)."
    }
    if failure.operation == .connect {
      let peer =
        failure.address.map { $0.isWildcard ? "" : " to \(Endpoint(address: $0, port: failure.port ?? 0))" }
        ?? failure.host.map { " to \($0)\(failure.port.map { ":\($0)" } ?? "")" } ?? ""
      return
        "\(failure.runtime) could not connect\(peer)\(proto): no local address and port were free for the connection (\(failure.errorName), on the connecting side)."
    }
    return "\(failure.runtime) could not bind\(target)\(proto): \(what) (\(failure.errorName))."
  }
}
