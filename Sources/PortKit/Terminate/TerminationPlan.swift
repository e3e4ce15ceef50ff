/// Who would be signalled to free some ports, and what stands in the way.
public struct TerminationPlan: Hashable, Sendable {
  /// A process to signal, with the sockets that make it a target.
  public struct Target: Hashable, Sendable {
    public var process: ProcessRecord
    public var sockets: [SocketEntry]
    /// The nearest ancestor holding the same socket, when one does (see
    /// ``HolderProcess/sharesWith``).
    public var sharesWith: PID?
  }

  /// A holder that must not be signalled, and why.
  public struct Protected: Hashable, Sendable {
    public var process: ProcessRecord
    public var reason: String
  }

  public var targets: [Target]
  public var protected: [Protected]
  /// Sockets whose holders cannot be seen: signalling them needs more privilege.
  public var hidden: [SocketReport]
  /// Listeners that no process holds (the kernel's): nothing to signal.
  public var kernelHeld: [SocketReport]
  /// Sockets with visible holders that processes portctl cannot see may hold too
  /// (``SocketReport/unseenHolders``): signalling the visible ones would not free the port.
  public var partlyHidden: [SocketReport] = []

  /// Every process holding a socket in `report` becomes a target, parents before the
  /// descendants that share the socket, each once.
  public static func make(from report: PortReport, protection: ProcessProtection) -> TerminationPlan {
    var plan = TerminationPlan(targets: [], protected: [], hidden: [], kernelHeld: [])
    var index: [PID: Int] = [:]
    for entry in report.sockets {
      switch entry.owner {
      case .processes(let holders):
        if entry.unseenHolders != nil { plan.partlyHidden.append(entry) }
        for holder in holders {
          if let reason = protection.refusal(for: holder.process) {
            if !plan.protected.contains(where: { $0.process.pid == holder.process.pid }) {
              plan.protected.append(Protected(process: holder.process, reason: reason))
            }
            continue
          }
          if let existing = index[holder.process.pid] {
            plan.targets[existing].sockets.append(entry.socket)
          } else {
            index[holder.process.pid] = plan.targets.count
            plan.targets.append(
              Target(process: holder.process, sockets: [entry.socket], sharesWith: holder.sharesWith))
          }
        }
      case .hidden:
        plan.hidden.append(entry)
      case .kernel:
        plan.kernelHeld.append(entry)
      case .none:
        break
      }
    }
    return plan
  }

  /// True when nothing stands in the way of signalling every target.
  public var isUnobstructed: Bool { protected.isEmpty && hidden.isEmpty && partlyHidden.isEmpty }
}
