/// Processes portctl never signals, whatever the flags: pid 0 and 1, kernel threads,
/// portctl itself and its ancestors (the shell that started it, the terminal, the session).
public struct ProcessProtection: Hashable, Sendable {
  /// portctl's own pid.
  public var selfPID: PID
  /// Its ancestors up to init.
  public var ancestors: Set<PID>

  public init(selfPID: PID, ancestors: Set<PID>) {
    self.selfPID = selfPID
    self.ancestors = ancestors
  }

  /// From a chain as `ProcessControl.selfAndAncestors()` gives it.
  public init(chain: [PID]) {
    self.init(selfPID: chain.first ?? 0, ancestors: Set(chain.dropFirst()))
  }

  /// Why `process` must not be signalled (a clause such as "it is portctl itself"), or
  /// `nil` when it may be.
  public func refusal(for process: ProcessRecord) -> String? {
    if process.pid <= 0 { return "pid \(process.pid) is not a process that may be signalled" }
    if process.pid == 1 { return "it is the init process; signalling it would take the system down" }
    if process.isKernelThread, process.name == "System" {
      return
        "it is the Windows kernel (System): HTTP.sys or SMB listen through it; see netsh http show servicestate and stop the service that registered the URL"
    }
    if process.isKernelThread { return "it is a kernel thread" }
    if process.pid == selfPID { return "it is portctl itself" }
    if ancestors.contains(process.pid) {
      return "it is an ancestor of portctl (the shell or program that started it); stop it from its own terminal"
    }
    return nil
  }
}
