extension HostPlatform {
  /// What to do about a process portctl was not permitted to end: `use sudo` where there is
  /// sudo; on Windows, run from an elevated terminal (Access is denied comes from another
  /// account's process, a service or an elevated program, while portctl runs unelevated).
  public var elevationAdvice: String {
    self == .windows ? "run portctl from an elevated terminal (Run as administrator)" : "use sudo"
  }

  /// How to run the portctl `arguments` (a command and its ports) again with the privilege
  /// that was missing: `sudo portctl kill 8080`, or on Windows the same command from an
  /// elevated terminal.
  public func elevatedCommand(_ arguments: String) -> String {
    self == .windows
      ? "portctl \(arguments) from an elevated terminal (Run as administrator)" : "sudo portctl \(arguments)"
  }
}
