#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension PortKitError.Code {
  /// The command `run` was given could not be started (not found, not executable).
  public static let spawnFailed = PortKitError.Code(rawValue: "spawn-failed")
}

/// How a program that was run ended.
public enum ChildExit: Hashable, Sendable {
  /// It exited with this status.
  case exited(code: Int32)
  /// A signal ended it.
  case signalled(signal: Int32)

  /// The status a shell gives for it: the exit status, or 128 + the signal's number.
  public var status: Int32 {
    switch self {
    case .exited(let code): code
    case .signalled(let signal): 128 + signal
    }
  }
}

/// Hands a port to a program: `run` as library calls. ``choose(_:)`` finds a free port
/// (or checks the one asked for), ``launch(_:port:variable:)`` starts the program with the
/// port in its environment and arguments right away and relays its output, and
/// ``explainFailure(_:port:)`` reads a bind error in that output once it has failed.
///
/// There is a window between the check and the program's own bind, in which another
/// process could take the port: nothing can close it short of passing the program a bound
/// socket, which most programs cannot take. It is kept small: the port is probed right
/// before the program starts, and nothing else happens in between.
///
/// ```swift
/// let handoff = PortHandoff(system: try System.make())
/// if case .free(let port) = try await handoff.choose(.automatic) {
///   let run = try await handoff.launch(["python3", "-m", "http.server", "{port}"], port: port)
///   print(run.exit.status)
/// }
/// ```
public struct PortHandoff: Sendable {
  /// The machine the port is found on and the program runs on.
  public var system: System

  /// A handoff on `system`.
  public init(system: System) {
    self.system = system
  }

  /// Which port to hand over.
  public enum PortChoice: Hashable, Sendable {
    /// A free one, found as `find` finds it (browser-restricted and well-known ports passed over).
    case automatic
    /// This one.
    case fixed(UInt16)
  }

  /// What the check found.
  public enum Choice: Sendable {
    /// The port binds now.
    case free(UInt16)
    /// The asked port cannot be bound: `check`'s answer says why (its holders among it).
    case taken(BindCheck)
    /// No free port was found.
    case noneFree(PortFinding.Result)
  }

  /// Finds a free TCP port, or checks the asked one, with real binds.
  public func choose(_ choice: PortChoice) async throws(PortKitError) -> Choice {
    switch choice {
    case .automatic:
      let found = try await PortFinding(system: system).find(.init(count: 1))
      return found.ports.first.map { .free($0) } ?? .noneFree(found)
    case .fixed(let port):
      let spec = PortSpec(ports: port...port, proto: .tcp)
      let checks = try await BindDiagnosis(system: system).checks(for: [spec])
      guard let check = checks.first, !check.bindable else { return .free(port) }
      return .taken(check)
    }
  }

  /// `arguments` with every `{port}` replaced by `port`.
  public static func substitute(_ arguments: [String], port: UInt16) -> [String] {
    arguments.map { $0.replacing("{port}", with: "\(port)") }
  }

  /// `environment` (`NAME=value` strings) with `variable` set to `port`, replacing any value it had.
  public static func environment(_ environment: [String], variable: String, port: UInt16) -> [String] {
    environment.filter { !$0.hasPrefix(variable + "=") } + ["\(variable)=\(port)"]
  }

  /// How the program ran.
  public struct Completion: Sendable {
    /// How it ended.
    public var exit: ChildExit
    /// The pid it had.
    public var pid: Int32
    /// The end of what it wrote (standard output and error together), and the earlier lines
    /// that look like a bind error.
    public var excerpt: ErrorExcerpt
  }

  /// Runs `command` (a program looked up in `PATH`, then its arguments, `{port}` replaced)
  /// with `variable` set to `port` in its environment, standard input inherited, its
  /// standard error (and standard output, with `captureOutput`) written on to this process's
  /// (file descriptors 2 and 1) as it comes and read for the excerpt, and SIGINT, SIGTERM and
  /// SIGHUP sent to this process passed on to it. Without `captureOutput` it writes to this
  /// process's standard output itself (a terminal stays a terminal to it: its colours and
  /// line buffering stay). Returns when it exits. Throws `spawn-failed` when it cannot be
  /// started.
  public func launch(
    _ command: [String], port: UInt16, variable: String = "PORT", captureOutput: Bool = true
  ) async throws(PortKitError) -> Completion {
    #if (canImport(Glibc) || canImport(Darwin)) && canImport(Dispatch)
    let child = try ChildProcess.spawn(
      Self.substitute(command, port: port),
      environment: Self.environment(Self.currentEnvironment(), variable: variable, port: port),
      captureOutput: captureOutput)
    ChildProcess.forwardSignals(to: child.pid)
    let (exit, excerpt) = await BlockingWork.run { child.relay(to: 1, 2, excerpt: ErrorExcerpt()) }
    return Completion(exit: exit, pid: child.pid, excerpt: excerpt)
    #else
    throw PortKitError(.unsupportedPlatform, "portctl cannot run a command on this platform yet.")
    #endif
  }

  /// `explain`'s reading of a failed program's output.
  public struct FailureExplanation: Sendable {
    /// The diagnosis (never ``BindFailureExplanation/Outcome/notRecognized``).
    public var outcome: BindFailureExplanation.Outcome
    /// The message named no port, so the port handed over was checked in its place.
    public var portAssumed: Bool
  }

  /// When `completion` failed and its output shows a bind error: `explain`'s diagnosis of
  /// it, the port checked the way the program binds (`port`, the one handed over, when the
  /// message names none); `nil` when it succeeded or printed no bind error.
  public func explainFailure(_ completion: Completion, port: UInt16) async throws(PortKitError)
    -> FailureExplanation?
  {
    guard completion.exit != .exited(code: 0), completion.excerpt.bytesRead > 0 else { return nil }
    let explanation = BindFailureExplanation(system: system)
    let text = completion.excerpt.text
    let outcome = try await explanation.explain(text)
    switch outcome {
    case .notRecognized:
      return nil
    case .noPort:
      return FailureExplanation(outcome: try await explanation.explain(text, port: port), portAssumed: true)
    case .advice, .checked:
      return FailureExplanation(outcome: outcome, portAssumed: false)
    }
  }

  #if canImport(Glibc) || canImport(Darwin)
  /// This process's environment, as `NAME=value` strings.
  static func currentEnvironment() -> [String] {
    var entries: [String] = []
    #if canImport(Glibc)
    let table: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = environ
    #else
    let table = _NSGetEnviron()?.pointee
    #endif
    guard var cursor = table else { return entries }
    while let entry = cursor.pointee {
      entries.append(String(cString: entry))
      cursor += 1
    }
    return entries
  }
  #endif
}
