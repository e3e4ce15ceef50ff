import ArgumentParser
import PortKit

/// `A-B` on the command line.
struct PortRangeArgument: ExpressibleByArgument {
  var range: ClosedRange<UInt16>

  init?(argument: String) {
    let bounds = argument.split(separator: "-", omittingEmptySubsequences: false)
    guard bounds.count == 2, let low = UInt16(bounds[0]), let high = UInt16(bounds[1]), low >= 1, low <= high else {
      return nil
    }
    range = low...high
  }
}

struct Find: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    // Named here: deriving it from the type name costs a demangling at every start.
    commandName: "find",
    abstract: "Print free ports a server can bind right now, one per line.",
    discussion: """
      A port is printed only when a real bind works on every address a server would use:
      0.0.0.0 and [::] (a port free on one family but taken on the other is no use), or the \
      --host address; on a host without IPv6, 0.0.0.0 alone. Without --range it skips the \
      ephemeral range, reserved and excluded ranges, the ports Chrome and Firefox refuse to \
      open (6000, 6665-6669, 10080 …: ERR_UNSAFE_PORT) and well-known service ports, and \
      searches upwards from --from (3000) through the unprivileged ports. With --range every \
      port in it may be printed, except excluded ones and busy ones.

      --stable KEY (a project directory, a service name) starts at the port a fixed hash of \
      KEY picks among the ports find would print: the same port for the same key on every \
      run while it is free, the next free one after it (wrapping) when it is not. With \
      --count, the free ports that follow it; with --range, a port within it.

      Exit status: 0 --count ports were found; 1 fewer were (those found are printed); \
      2 the system could not be inspected; 64 usage error.
      """
  )

  @Option(name: .long, help: "The first port to try.") var from: UInt16?
  @Option(name: .long, help: ArgumentHelp("Search only A-B (inclusive).", valueName: "A-B")) var range:
    PortRangeArgument?
  @Option(name: .shortAndLong, help: "How many ports to print.") var count = 1
  @Flag(name: .long, help: "UDP ports instead of TCP.") var udp = false
  @Option(name: .long, help: ArgumentHelp("Only this address (default: 0.0.0.0 and [::]).", valueName: "address"))
  var host: String?
  @Flag(name: .long, help: "Try ports in random order.") var random = false
  @Option(
    name: .long,
    help: ArgumentHelp(
      "The same port for this key every time it is free (e.g. the project directory).", valueName: "key"))
  var stable: String?
  @OptionGroup var output: OutputOptions
  @OptionGroup var backend: BackendOptions

  func validate() throws {
    if stable != nil, random { throw ValidationError("--stable and --random exclude each other: choose one") }
    if stable != nil, from != nil {
      throw ValidationError("--stable picks the first port itself; it does not combine with --from")
    }
    if !(1...1000).contains(count) { throw ValidationError("--count takes 1 to 1000, not \(count)") }
    if let from, from == 0 { throw ValidationError("--from takes a port from 1 to 65535") }
    if let host, IPAddress(host) == nil {
      throw ValidationError("--host takes an IP address such as 127.0.0.1 or ::1, not '\(host)'")
    }
    if let from, let range, !range.range.contains(from) {
      throw ValidationError("--from \(from) is outside --range \(range.range.lowerBound)-\(range.range.upperBound)")
    }
  }

  func run() async throws {
    let request = PortFinding.Request(
      from: from, range: range?.range, count: count, proto: udp ? .udp : .tcp, host: host.flatMap { IPAddress($0) },
      random: random, stableKey: stable)
    let found = try await Inspection.run("find", output: output, backend: backend.backend) { system in
      try await PortFinding(system: system).find(request)
    }
    let proto = request.proto
    let status = found.isComplete ? ExitStatus.success : ExitStatus.negative
    if output.json {
      JSONOutput.emit(
        FindDocument(
          exitCode: status, proto: proto, host: found.request.host, ports: found.ports, skipped: found.skipped,
          stableKey: stable))
    } else if !output.quiet {
      for port in found.ports { print(port) }
      let searched = found.request.range
      if found.hostNotApplicable, let host = found.request.host {
        Terminal.printError(
          "portctl: found 0 of \(count) free \(proto.rawValue) \(count == 1 ? "port" : "ports"): this host has no IPv6 (IPv6 sockets are unsupported, disabled, or no interface has an IPv6 address), so --host \(host) is not applicable here; use --host 0.0.0.0 or leave --host out"
        )
      } else if !found.isComplete {
        Terminal.printError(
          "portctl: found \(found.ports.count) of \(count) free \(proto.rawValue) \(count == 1 ? "port" : "ports") in \(searched.lowerBound)-\(searched.upperBound)"
        )
      }
    }
    if status != ExitStatus.success { throw ExitCode(status) }
  }
}

struct Wait: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    // Named here: deriving it from the type name costs a demangling at every start.
    commandName: "wait",
    abstract: "Block until the ports are free, or until something listens on them.",
    discussion: """
      --free waits until a real bind works on every asked port (on the asked address, or \
      0.0.0.0 and [::]); --listening waits until a socket listens on each. Checks start every \
      10 ms and back off to every 100 ms. Progress goes to stderr, only on a terminal.

      On a --free timeout the sockets left on the port are listed (TIME_WAIT and connections \
      too) and each port that still fails gets `check`'s reasons (held, address-overlap, \
      time-wait with the time left, …).

      Exit status: 0 the condition holds; 1 --timeout passed (what still holds the port, or \
      that nothing listens, is said); 2 the system could not be inspected; 64 usage error.
      """
  )

  @OptionGroup var target: PortSpecArguments
  @Flag(name: .long, help: "Wait until the ports can be bound.") var free = false
  @Flag(name: .long, help: "Wait until something listens on the ports.") var listening = false
  @Option(name: .shortAndLong, help: ArgumentHelp("Give up after this long.", valueName: "duration"))
  var timeout = DurationArgument(argument: "30s")!
  @OptionGroup var output: OutputOptions
  @OptionGroup var backend: BackendOptions

  func validate() throws {
    let specs = target.specs
    if free == listening { throw ValidationError("say what to wait for: --free or --listening") }
    if specs.reduce(0, { $0 + $1.ports.count }) > 4096 { throw ValidationError("wait watches at most 4096 ports") }
  }

  func run() async throws {
    let specs = target.specs
    let condition: PortWaiter.Condition = free ? .free : .listening
    let showProgress = Terminal.isTerminal(2) && !output.quiet && !output.json
    let label =
      free
      ? "waiting for \(specs.map(\.text).joined(separator: ", ")) to be free"
      : "waiting for something to listen on \(specs.map(\.text).joined(separator: ", "))"
    let outcome = try await Inspection.run("wait", output: output, backend: backend.backend) { system in
      // The progress line is cleared before the answer, or before the error is printed.
      defer { if showProgress { Terminal.writeError("\r\u{1B}[K") } }
      return try await PortWaiting(system: system).wait(
        for: specs, until: condition, timeout: timeout.duration,
        progress: { seconds in
          if showProgress { Terminal.writeError("\r\(label)… \(Double(Int(seconds * 10)) / 10) s ") }
        })
    }
    let status = outcome.met ? ExitStatus.success : ExitStatus.negative
    if output.json {
      JSONOutput.emit(
        WaitDocument(
          exitCode: status, condition: condition, met: outcome.met, seconds: outcome.seconds, report: outcome.report,
          checks: outcome.checks))
    } else if !output.quiet {
      if outcome.met {
        print(
          "\(specs.map(\.text).joined(separator: ", ")) \(free ? "free" : "listening") after \(OutcomeText.milliseconds(outcome.seconds))"
        )
      } else if free {
        let held = outcome.report.sockets.contains { $0.owner.holdsPort }
        print("timed out after \(timeout): \(held ? "still held" : "still cannot bind")")
        if !outcome.report.sockets.isEmpty { ReportText.printTable(outcome.report, showRemote: true) }
        // What blocks each port, as `check` says it: holders, overlaps, TIME_WAIT, privilege.
        CheckText.print(outcome.checks)
      } else {
        print("timed out after \(timeout): nothing listens on \(specs.map(\.text).joined(separator: ", "))")
      }
    }
    if status != ExitStatus.success { throw ExitCode(status) }
  }
}
