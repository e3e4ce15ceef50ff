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
  /// Connections from the port that no server on it accepted (clients that bound the port
  /// locally and connected elsewhere): never targets.
  public var clients: [SocketReport] = []
  /// Sockets with visible holders that processes portctl cannot see may hold too
  /// (``SocketReport/unseenHolders``): signalling the visible ones would not free the port.
  public var partlyHidden: [SocketReport] = []

  /// Every process holding a socket in `report` becomes a target, parents before the
  /// descendants that share the socket, each once. Of the sockets that are not listeners
  /// (`--all`), only those a server accepted on the port count (see ``isAccepted(_:in:peerListeners:)``):
  /// a client that connected elsewhere from that local port is not a target. `peerListeners`
  /// are this host's listeners on the ports those connections lead to, where known.
  public static func make(
    from report: PortReport, protection: ProcessProtection, peerListeners: [SocketEntry] = []
  ) -> TerminationPlan {
    var plan = TerminationPlan(targets: [], protected: [], hidden: [], kernelHeld: [])
    var index: [PID: Int] = [:]
    let listeners = report.sockets.map(\.socket).filter(\.isListener)
    for entry in report.sockets {
      if !entry.socket.isListener, entry.owner.holdsPort,
        !isAccepted(entry.socket, listeners: listeners, peerListeners: peerListeners)
      {
        plan.clients.append(entry)
        continue
      }
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

  /// True when `connection` (not a listener) was accepted by a server on its local port: a
  /// listener on that port covers its local address (an accepted connection has the
  /// listener's port and one of its addresses), or no listener is left on the port (the
  /// server that accepted it has gone, as with socat `fork`'s children). It is a client
  /// instead when its remote end is a listener on this host (it connected there), or when
  /// listeners on its port exist but none covers its address.
  public static func isAccepted(
    _ connection: SocketEntry, listeners: [SocketEntry], peerListeners: [SocketEntry] = []
  ) -> Bool {
    if let remote = connection.remote,
      peerListeners.contains(where: {
        $0.proto == connection.proto && $0.local.port == remote.port
          && SocketEntry.addressesCollide($0.local.address, v6Only: $0.v6Only, remote.address)
      })
    {
      return false
    }
    let onPort = listeners.filter { $0.proto == connection.proto && $0.local.port == connection.local.port }
    guard !onPort.isEmpty else { return true }
    return onPort.contains {
      SocketEntry.addressesCollide($0.local.address, v6Only: $0.v6Only, connection.local.address)
    }
  }

  /// True when nothing stands in the way of signalling every target.
  public var isUnobstructed: Bool { protected.isEmpty && hidden.isEmpty && partlyHidden.isEmpty }
}
