/// Reads a program's bind error and diagnoses its port the way that program binds:
/// `explain` as one library call.
public struct BindFailureExplanation: Sendable {
  /// The machine the port is checked on.
  public var system: System

  /// An explanation on `system`.
  public init(system: System) {
    self.system = system
  }

  /// What a message says and what that means now.
  public enum Outcome: Sendable {
    /// No bind error in the text.
    case notRecognized
    /// A bind error that names no port (Python's bare `[Errno 98]`, Java's
    /// `BindException`): give the port to ``explain(_:port:)``.
    case noPort(BindFailure)
    /// An error no bind check settles (a connect-side error, an address not given):
    /// advice instead.
    case advice(BindFailure, String)
    /// The port checked as the failing program binds it (both protocols when the message
    /// does not say which), judged for that program.
    case checked(BindFailure, [BindCheck])

    /// The failure read from the message, where one was.
    public var failure: BindFailure? {
      switch self {
      case .notRecognized: nil
      case .noPort(let failure), .advice(let failure, _), .checked(let failure, _): failure
      }
    }
  }

  /// Explains `text`; `port` stands in for (or overrides) the port the message names.
  public func explain(_ text: String, port: UInt16? = nil) async throws(PortKitError) -> Outcome {
    guard var failure = BindErrorParser.parse(ErrorExcerpt.focus(text)) else { return .notRecognized }
    if let port { failure.port = port }
    switch BindFailureDiagnosis.plan(for: failure, port: failure.port) {
    case .advise(let advice)?:
      return .advice(failure, advice)
    case .check(let specs, let server)?:
      let checks = try await BindDiagnosis(system: system).checks(for: specs, server: server)
      return .checked(failure, BindFailureDiagnosis.judged(checks, for: failure))
    case nil:
      return .noPort(failure)
    }
  }
}
