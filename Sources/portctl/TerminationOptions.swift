import ArgumentParser
import PortKit

/// A duration on the command line: `5s`, `500ms`, `1.5s`, `2m`, or plain seconds (`3`).
struct DurationArgument: ExpressibleByArgument, Hashable, CustomStringConvertible {
  var duration: Duration
  var text: String

  init?(argument: String) {
    let text = argument.filter { !$0.isWhitespace }.lowercased()
    let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
    var number = Substring(text)
    var scale = 1.0
    for (suffix, factor) in units where text.hasSuffix(suffix) {
      number = text.dropLast(suffix.count)
      scale = factor
      break
    }
    guard !number.isEmpty, number.allSatisfy({ $0.isNumber || $0 == "." }), let value = Double(number),
      value.isFinite, value >= 0, value * scale <= 86_400
    else { return nil }
    duration = .milliseconds(Int64((value * scale * 1000).rounded()))
    self.text = argument
  }

  var description: String { text }
  var defaultValueDescription: String { text }
  static var defaultCompletionKind: CompletionKind { .default }
}

extension Signal: ExpressibleByArgument {
  public init?(argument: String) { self.init(parsing: argument) }
  public var defaultValueDescription: String { name }
  public static var allValueStrings: [String] { all.map(\.name) }
}

/// Options shared by `kill` and `free`.
struct TerminationOptions: ParsableArguments {
  @Flag(name: .shortAndLong, help: "Do not ask; signal the holders.")
  var yes = false

  @Flag(name: [.customShort("n"), .long], help: "Show what would be signalled; change nothing.")
  var dryRun = false

  @Option(
    name: .shortAndLong,
    help: ArgumentHelp(
      "The graceful signal: TERM, INT, HUP, QUIT, USR1, USR2 (or KILL). Default: the one a recognised server documents for a clean stop (INT for PostgreSQL, QUIT for nginx), else TERM.",
      valueName: "name"))
  var signal: Signal?

  @Flag(name: .shortAndLong, help: "SIGKILL at once, no graceful signal.")
  var force = false

  @Option(
    name: .shortAndLong,
    help: ArgumentHelp(
      "How long to wait for the holders to exit before SIGKILL. Default: the grace a recognised server needs (60 s for PostgreSQL, 10 s for nginx, the graceful timeout + 5 s for gunicorn), else 5s.",
      valueName: "duration"))
  var timeout: DurationArgument?

  @Flag(
    name: .long,
    help:
      "Stop each holder through its manager's stop command (systemctl stop, supervisorctl stop, docker stop…) instead of signalling it; refused (exit 4) when a holder has no manager portctl can run."
  )
  var viaManager = false

  func validate() throws {
    if force, signal != nil { throw ValidationError("--force sends SIGKILL; it does not combine with --signal") }
    if viaManager, force || signal != nil {
      throw ValidationError(
        "--via-manager runs the manager's stop command; it does not combine with --signal or --force")
    }
  }

  var request: TerminationRequest {
    TerminationRequest(signal: signal, timeout: timeout?.duration, force: force)
  }
}
