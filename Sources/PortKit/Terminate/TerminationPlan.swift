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
  /// The targets grouped by the server they belong to, with how each group is stopped
  /// (filled by ``arrange(servers:managers:request:)``; empty until then).
  public var groups: [Group] = []

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

extension TerminationPlan {
  /// Targets stopped together: a recognised server (its master and the workers that hold the
  /// port), or one bare process; with what will be sent, and what goes with them.
  public struct Group: Hashable, Sendable {
    /// The server, when portctl recognises it.
    public var server: RecognizedServer?
    /// What owns the group's life (a systemd unit, supervisord…), most specific first.
    public var manager: ProcessManager?
    /// What is sent to whom: the master (or every process of a server that wants that)
    /// first, the others waited on, SIGKILL after the grace.
    public var stop: TerminationStop
    /// The listeners the group's processes hold besides the asked ones (they go too); `nil`
    /// when they were not read.
    public var otherListeners: [SocketEntry]? = nil
    /// Processes that are not targets but go with the group: the server's other workers and
    /// the children of its processes; `nil` when they were not read.
    public var children: [ProcessRecord]? = nil

    /// The directory the manager's daemon runs from (supervisord's or pm2's executable),
    /// where its control program (`supervisorctl`, `pm2`) is looked for after the system
    /// directories when portctl runs as root; `nil` when not known.
    public var managerDirectory: String? = nil

    /// The process the stop is aimed at: the server's master, or the lone target.
    public var master: ProcessRecord { stop.master }
    /// Sent ``signal`` first: the master, or every process of a server that wants that.
    public var signalled: [ProcessRecord] { stop.signalled }
    /// The group's other processes: not signalled at first, waited on (they stop with the
    /// master), SIGKILLed with the rest if still alive when the grace ends.
    public var followers: [ProcessRecord] { stop.followers }
    /// The first signal.
    public var signal: Signal { stop.signal }
    /// How long after ``signal`` before SIGKILL.
    public var grace: Duration { stop.grace }
    /// The group's processes that hold the asked sockets.
    public var holders: Set<PID> { stop.holders }

    /// Every process of the group, signalled ones first.
    public var processes: [ProcessRecord] { signalled + followers }

    /// The manager's stop command when portctl may run it itself (`--via-manager`): a single
    /// command (a systemd unit, a container, a supervisord program, a pm2 app, a runit or s6
    /// service) whose claim does not rest only on what the holder says about itself.
    public var managerCommand: String? {
      guard let manager, !manager.evidence.isSelfReported else { return nil }
      let runnable: Set<ProcessManager.Kind> = [
        .systemdUnit, .systemdUserUnit, .docker, .podman, .supervisord, .pm2, .runit, .s6,
      ]
      guard runnable.contains(manager.kind), !manager.stop.contains(", then"), !manager.stop.contains(" (or ")
      else { return nil }
      return manager.stop
    }
  }

  /// Groups the targets by the server they belong to (`servers` and `managers` by holder
  /// pid, from their provenance). A server's master leads its group and is added as a target
  /// when it does not hold the socket itself, and so is each of its workers that does not
  /// (waited on as a follower, or signalled where the server wants each process signalled);
  /// a target with no server is a group of its own. The signal and
  /// grace are the server's unless `request` names them; `force` signals every process of a
  /// group with SIGKILL at once.
  public mutating func arrange(
    servers: [PID: RecognizedServer], managers: [PID: ProcessManager], request: TerminationRequest
  ) {
    var order: [PID] = []
    var members: [PID: [ProcessRecord]] = [:]
    var serverOf: [PID: RecognizedServer] = [:]
    var masters: [PID: RecognizedServer] = [:]
    for target in targets {
      if let server = servers[target.process.pid] { masters[server.master.pid] = masters[server.master.pid] ?? server }
    }
    for target in targets {
      // A target no server claims that is some server's master leads that server's group
      // (its pid is the group's key either way).
      let key = servers[target.process.pid]?.master.pid ?? target.process.pid
      if members[key] == nil {
        order.append(key)
        serverOf[key] = masters[key]
      }
      members[key, default: []].append(target.process)
    }
    var added: [Target] = []
    groups = order.compactMap { key -> Group? in
      guard let holders = members[key], let first = holders.first else { return nil }
      let server = serverOf[key]
      let master = server?.master ?? first
      var processes = holders
      if !processes.contains(where: { $0.pid == master.pid }) {
        processes.insert(master, at: 0)
        added.append(Target(process: master, sockets: [], sharesWith: nil))
      } else if let index = processes.firstIndex(where: { $0.pid == master.pid }), index != 0 {
        processes.insert(processes.remove(at: index), at: 0)
      }
      // Its workers go with it, holders of the socket or not (a node cluster's workers hold
      // none): each is waited on, or signalled where the server wants every process signalled.
      if let server {
        for worker in server.workers where !processes.contains(where: { $0.pid == worker.pid }) {
          processes.append(worker)
          added.append(Target(process: worker, sockets: [], sharesWith: master.pid))
        }
      }
      let (signal, grace) = request.stop(for: server)
      let everyOne = request.force || server == nil || server?.signalsEveryProcess == true
      let manager = managers[master.pid] ?? holders.lazy.compactMap { managers[$0.pid] }.first
      return Group(
        server: server, manager: manager,
        stop: TerminationStop(
          master: master, signalled: everyOne ? processes : [master],
          followers: everyOne ? [] : Array(processes.dropFirst()), signal: signal, grace: grace,
          holders: Set(holders.map(\.pid))))
    }
    for target in added where !targets.contains(where: { $0.process.pid == target.process.pid }) {
      targets.append(target)
    }
  }

  /// The group `pid` belongs to.
  public func group(of pid: PID) -> Group? {
    groups.first { $0.processes.contains { $0.pid == pid } }
  }
}
