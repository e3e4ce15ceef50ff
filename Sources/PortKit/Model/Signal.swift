/// A signal portctl may send, by its portable name.
public struct Signal: Hashable, Sendable, CustomStringConvertible {
  /// The name without the `SIG` prefix: `TERM`, `KILL`, …
  public var name: String
  /// The platform's signal number.
  public var number: Int32

  /// SIGTERM: asks the process to end.
  public static let terminate = Signal(name: "TERM", number: 15)
  /// SIGKILL: ends the process; it cannot be caught.
  public static let kill = Signal(name: "KILL", number: 9)
  /// SIGINT, as Ctrl-C sends.
  public static let interrupt = Signal(name: "INT", number: 2)
  /// SIGHUP.
  public static let hangup = Signal(name: "HUP", number: 1)
  /// SIGQUIT.
  public static let quit = Signal(name: "QUIT", number: 3)
  #if os(Linux)
  /// SIGUSR1.
  public static let user1 = Signal(name: "USR1", number: 10)
  /// SIGUSR2.
  public static let user2 = Signal(name: "USR2", number: 12)
  #else
  /// SIGUSR1.
  public static let user1 = Signal(name: "USR1", number: 30)
  /// SIGUSR2.
  public static let user2 = Signal(name: "USR2", number: 31)
  #endif

  /// Every signal `--signal` accepts.
  public static let all: [Signal] = [.terminate, .interrupt, .hangup, .quit, .kill, .user1, .user2]

  /// Parses `TERM`, `SIGTERM`, `sigterm` or `15`.
  public init?(parsing text: String) {
    let upper = text.uppercased()
    let name = upper.hasPrefix("SIG") ? String(upper.dropFirst(3)) : upper
    if let match = Self.all.first(where: { $0.name == name || "\($0.number)" == name }) {
      self = match
    } else {
      return nil
    }
  }

  init(name: String, number: Int32) {
    self.name = name
    self.number = number
  }

  /// `SIGTERM`.
  public var description: String { "SIG\(name)" }
}
