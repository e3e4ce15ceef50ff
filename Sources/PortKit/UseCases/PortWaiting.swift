/// Waits until ports are free or something listens on them: `wait` as one library call.
///
/// ```swift
/// let outcome = try await PortWaiting(system: try System.make())
///   .wait(for: try PortSpec.parseList("8080"), until: .free, timeout: .seconds(10))
/// ```
public struct PortWaiting: Sendable {
  /// The machine watched.
  public var system: System

  /// A waiter on `system`.
  public init(system: System) {
    self.system = system
  }

  /// Checks `specs` (every 10 ms at first, backing off to every 100 ms) until `condition`
  /// holds or `timeout` passes; `progress` hears the seconds waited between checks. `free`
  /// is decided by real binds where the platform has them, else from the socket table.
  ///
  /// Throws when the socket table cannot be read (a failed read never counts as free),
  /// and at once with a ``PortKitError/Code/cancelled`` error when the task is cancelled.
  public func wait(
    for specs: [PortSpec], until condition: PortWaiter.Condition, timeout: Duration,
    progress: @Sendable (Double) -> Void = { _ in }
  ) async throws(PortKitError) -> PortWaiter.Outcome {
    let waiter = PortWaiter(
      source: system.source, probe: system.binder.map { BindProbe(binder: $0) },
      semantics: system.host.platform.bindSemantics)
    return try await waiter.wait(for: specs, until: condition, timeout: timeout, progress: progress)
  }
}
