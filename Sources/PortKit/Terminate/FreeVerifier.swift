/// Decides whether ports are free after their holders were ended: watches for a holder
/// coming back, then proves the port with real binds.
public struct FreeVerifier: Sendable {
  public var source: any SystemSource
  /// Real binds; `nil` where the platform has none (then the socket table decides, and the
  /// verdict says the port was not probed).
  public var probe: BindProbe?

  public init(source: any SystemSource, probe: BindProbe?) {
    self.source = source
    self.probe = probe
  }

  /// One port to verify: the protocol, and the specific addresses that were held there.
  public struct Item: Hashable, Sendable {
    public var proto: TransportProtocol
    public var port: UInt16
    public var addresses: [IPAddress]

    public init(proto: TransportProtocol, port: UInt16, addresses: [IPAddress] = []) {
      self.proto = proto
      self.port = port
      self.addresses = addresses
    }
  }

  /// A holder that took the port after the old ones were ended.
  public struct Respawn: Hashable, Sendable {
    public var holders: [HolderProcess]
    /// The parent of the new holder, the likely supervisor: never init (pid 1), the parent
    /// of every orphan, and none when the holder was already running before the signals
    /// (it took the port over; nothing restarted it).
    public var supervisor: ProcessRecord?
    /// The new holder was running before the first signal was sent.
    public var alreadyRunning: Bool = false
    /// The new socket's owner was hidden (another user's process).
    public var hiddenOwner: HiddenOwner?
  }

  /// The verdict on one port.
  public enum Verdict: String, Hashable, Sendable {
    /// A real bind works on every address.
    case free
    /// Free for servers that set SO_REUSEADDR (most do); a plain bind still fails until the
    /// TIME_WAIT (or other closing) sockets drain.
    case freeExceptTimeWait = "free-except-time-wait"
    /// Free for servers that set SO_REUSEADDR; a plain bind fails while processes keep
    /// connections on the port (forked children of the old listener, say). They do not drain
    /// on their own: they close when those processes close them.
    case freeExceptConnections = "free-except-connections"
    /// Free by the socket table; no bind test (refused for lack of privilege, or the
    /// platform has no bind probe).
    case freeUnprobed = "free-unprobed"
    /// Still held: by survivors, by a socket portctl did not end, or by processes keeping
    /// connections on the port that block the bind (see `connections`).
    case held
    /// A new process took the port after the holders were ended.
    case respawned
    /// Only TIME_WAIT (or other closing) sockets block the bind: the old listener did not
    /// set SO_REUSEADDR, so even servers that do cannot bind; or `--wait` ran out first.
    case timeWait = "time-wait"
  }

  public struct PortResult: Hashable, Sendable {
    public var item: Item
    public var verdict: Verdict
    public var probe: BindProbe.Result?
    public var respawn: Respawn?
    /// Sockets still holding the port.
    public var stillHeld: [SocketReport]
    /// TIME_WAIT (and other ownerless closing) sockets left on the port.
    public var lingering: [SocketEntry]
    /// Connections on the port that processes still hold (not listeners): they block a plain
    /// bind, and every bind when they were made without SO_REUSEADDR.
    public var connections: [SocketReport] = []

    public init(
      item: Item, verdict: Verdict, probe: BindProbe.Result?, respawn: Respawn?, stillHeld: [SocketReport],
      lingering: [SocketEntry], connections: [SocketReport] = []
    ) {
      self.item = item
      self.verdict = verdict
      self.probe = probe
      self.respawn = respawn
      self.stillHeld = stillHeld
      self.lingering = lingering
      self.connections = connections
    }

    /// True for the verdicts that let a server start.
    public var isFree: Bool {
      verdict == .free || verdict == .freeExceptTimeWait || verdict == .freeExceptConnections
        || verdict == .freeUnprobed
    }
  }

  /// What is left on a port: listeners processes hold, connections processes hold, and
  /// closing sockets no process holds.
  struct Leftovers {
    var held: [SocketReport]
    var connections: [SocketReport]
    var lingering: [SocketEntry]

    init(_ report: PortReport) {
      held = report.sockets.filter { $0.owner.holdsPort && $0.socket.isListener }
      connections = report.sockets.filter { $0.owner.holdsPort && !$0.socket.isListener }
      lingering = report.sockets.filter { !$0.owner.holdsPort }.map(\.socket)
    }
  }

  /// How the watch for a respawn ended.
  public enum WatchEnding: String, Hashable, Sendable {
    /// A new holder took every port.
    case respawned
    /// Everything that could start a holder again exited first.
    case respawnerExited = "respawner-exited"
    /// The window passed.
    case windowElapsed = "window-elapsed"
  }

  /// A watch for a respawn: how long it was to last, how long it lasted and why it ended.
  public struct Watch: Hashable, Sendable {
    /// The window asked for.
    public var window: Duration
    /// How long it watched.
    public var watched: Duration
    /// Why it ended.
    public var ending: WatchEnding
  }

  /// The verdicts, and the watch for a respawn when there was one.
  public struct Verification: Sendable {
    /// The verdict on every port.
    public var ports: [PortResult]
    /// The watch; `nil` when there was none (a zero window).
    public var watch: Watch?
  }

  /// How long verification has been waiting, told about every tenth of a second.
  public enum Progress: Hashable, Sendable {
    /// Watching the socket table for a respawn: `elapsed` seconds of `window`.
    case watching(elapsed: Double, window: Double)
    /// Waiting for closing sockets on `port` to drain: `elapsed` seconds of `limit`.
    case draining(port: UInt16, elapsed: Double, limit: Double)
  }

  /// Verifies `items`. `ended` are the pids that were just ended: any other process on a
  /// listener is a respawn. The socket table is watched for `respawnWindow` (stopping as
  /// soon as a new holder shows); with `drainTimeWait`, waits up to that long for TIME_WAIT
  /// (and other closing) sockets to drain so that even a plain bind works, then reads the
  /// socket table again for the verdict. Connections that processes hold are not waited for:
  /// they do not drain on their own.
  ///
  /// `signalledAt` is when the first signal went out, in clock ticks since boot (the clock
  /// of ``ProcessRecord/startTicks``), where known.
  ///
  /// Throws when the socket table cannot be read: a port is never taken as free from a
  /// failed read. Cancelled, it stops watching and waiting at once and judges the port as
  /// it is.
  public func verify(
    _ items: [Item], ended: Set<PID>, respawnWindow: Duration, drainTimeWait: Duration? = nil,
    signalledAt: UInt64? = nil, progress: @Sendable (Progress) async -> Void = { _ in }
  ) async throws(PortKitError) -> [PortResult] {
    try await verifyWatching(
      items, ended: ended, respawnWindow: respawnWindow, drainTimeWait: drainTimeWait, signalledAt: signalledAt,
      progress: progress
    ).ports
  }

  /// ``verify(_:ended:respawnWindow:drainTimeWait:signalledAt:)``, saying how the watch went;
  /// the watch also ends once `respawnersGone` says nothing is left that could start a
  /// holder again (asked every 100 ms).
  public func verifyWatching(
    _ items: [Item], ended: Set<PID>, respawnWindow: Duration, drainTimeWait: Duration? = nil,
    signalledAt: UInt64? = nil, respawnersGone: (@Sendable () async -> Bool)? = nil,
    progress: @Sendable (Progress) async -> Void = { _ in }
  ) async throws(PortKitError) -> Verification {
    let clock = ContinuousClock()
    // Nothing to watch for and every bind works: the port is free, no need to read the
    // socket tables again.
    if respawnWindow <= .zero, let probe {
      let quick = items.map { item in
        probe.probe(port: item.port, proto: item.proto, addresses: item.addresses.filter { !$0.isWildcard })
      }
      if quick.allSatisfy({ $0.isBindable && $0.plainBindable }) {
        return Verification(
          ports: zip(items, quick).map {
            PortResult(item: $0, verdict: .free, probe: $1, respawn: nil, stillHeld: [], lingering: [])
          }, watch: nil)
      }
    }
    let start = clock.now
    let deadline = start + respawnWindow
    var lastTold = start
    var reports: [Item: PortReport] = [:]
    var respawns: [Item: Respawn] = [:]
    var ending = WatchEnding.windowElapsed
    var lastAsked = start
    while true {
      for item in items where respawns[item] == nil {
        let report = try await inspect(item)
        reports[item] = report
        if let respawn = Self.respawn(in: report, ended: ended, signalledAt: signalledAt) {
          respawns[item] = respawn
        }
      }
      if respawns.count == items.count {
        ending = .respawned
        break
      }
      if clock.now >= deadline { break }
      if let respawnersGone, clock.now - lastAsked >= .milliseconds(100) {
        lastAsked = clock.now
        if await respawnersGone() {
          // Read once more: a holder started right before its respawner exited still counts.
          for item in items where respawns[item] == nil {
            let report = try await inspect(item)
            reports[item] = report
            if let respawn = Self.respawn(in: report, ended: ended, signalledAt: signalledAt) {
              respawns[item] = respawn
            }
          }
          ending = respawns.count == items.count ? .respawned : .respawnerExited
          break
        }
      }
      if clock.now - lastTold >= .milliseconds(100) {
        lastTold = clock.now
        await progress(.watching(elapsed: (clock.now - start).seconds, window: respawnWindow.seconds))
      }
      do { try await Task.sleep(for: min(.milliseconds(20), deadline - clock.now)) } catch { break }
    }
    let watch = respawnWindow > .zero ? Watch(window: respawnWindow, watched: clock.now - start, ending: ending) : nil

    var results: [PortResult] = []
    for item in items {
      let report = reports[item] ?? PortReport(sockets: [], takenAt: 0, effectiveUID: 0)
      var left = Leftovers(report)
      if let respawn = respawns[item] {
        results.append(
          PortResult(
            item: item, verdict: .respawned, probe: nil, respawn: respawn, stillHeld: left.held,
            lingering: left.lingering, connections: left.connections))
        continue
      }
      guard let probe else {
        let verdict: Verdict = left.held.isEmpty ? .freeUnprobed : .held
        results.append(
          PortResult(
            item: item, verdict: verdict, probe: nil, respawn: nil, stillHeld: left.held, lingering: left.lingering,
            connections: left.connections))
        continue
      }
      let addresses = item.addresses.filter { !$0.isWildcard }
      var result = probe.probe(port: item.port, proto: item.proto, addresses: addresses)
      // Closing sockets drain on the kernel's timer; connections processes keep do not.
      if let drainTimeWait, !(result.isBindable && result.plainBindable), left.held.isEmpty,
        left.connections.isEmpty, !left.lingering.isEmpty
      {
        let drainStart = clock.now
        let drainDeadline = drainStart + drainTimeWait
        var lastDrainTold = drainStart
        while !(result.isBindable && result.plainBindable), clock.now < drainDeadline {
          if clock.now - lastDrainTold >= .milliseconds(100) {
            lastDrainTold = clock.now
            await progress(
              .draining(port: item.port, elapsed: (clock.now - drainStart).seconds, limit: drainTimeWait.seconds))
          }
          do { try await Task.sleep(for: min(.milliseconds(50), drainDeadline - clock.now)) } catch { break }
          result = probe.probe(port: item.port, proto: item.proto, addresses: addresses)
        }
        // The verdict describes the port as it is now, not as it was before the wait.
        left = Leftovers(try await inspect(item))
      }
      let verdict: Verdict
      if result.isBindable {
        if result.plainBindable {
          verdict = .free
        } else if !left.connections.isEmpty {
          // `--wait` asked for a plain bind; these will not drain, so it is not free.
          verdict = drainTimeWait == nil ? .freeExceptConnections : .held
        } else {
          verdict = drainTimeWait == nil ? .freeExceptTimeWait : .timeWait
        }
      } else if result.isPrivilegeDenied, left.held.isEmpty, left.connections.isEmpty {
        verdict = .freeUnprobed
      } else if left.held.isEmpty, left.connections.isEmpty, !left.lingering.isEmpty {
        verdict = .timeWait
      } else {
        verdict = .held
      }
      let free = verdict == .free
      results.append(
        PortResult(
          item: item, verdict: verdict, probe: result, respawn: nil, stillHeld: left.held,
          lingering: free ? [] : left.lingering, connections: free ? [] : left.connections))
    }
    return Verification(ports: results, watch: watch)
  }

  private func inspect(_ item: Item) async throws(PortKitError) -> PortReport {
    let spec = PortSpec(ports: item.port...item.port, proto: item.proto, text: "\(item.port)")
    let query = SocketQuery(specs: [spec], protocols: [item.proto], listenersOnly: false)
    do {
      return PortInspector.report(from: try await source.snapshot(for: query), query: query)
    } catch {
      throw PortKitError(
        error.code,
        "Could not read the sockets on \(item.port)/\(item.proto.rawValue) again to prove it free, so it is not reported free. \(error.message)",
        errno: error.errno)
    }
  }

  /// A listener on the port held by a process that was not just ended, or by a hidden one.
  static func respawn(in report: PortReport, ended: Set<PID>, signalledAt: UInt64? = nil) -> Respawn? {
    for entry in report.sockets where entry.socket.isListener {
      switch entry.owner {
      case .processes(let holders) where holders.contains(where: { !ended.contains($0.process.pid) }):
        let fresh = holders.filter { !ended.contains($0.process.pid) }
        let root = fresh.first { $0.sharesWith == nil } ?? fresh[0]
        let alreadyRunning = signalledAt.map { at in root.process.startTicks.map { $0 < at } ?? false } ?? false
        // Init adopts every orphan: being its child says nothing about who started it.
        let parent = root.process.ppid > 1 && !alreadyRunning ? report.parents[root.process.ppid] : nil
        return Respawn(holders: fresh, supervisor: parent, alreadyRunning: alreadyRunning, hiddenOwner: nil)
      case .hidden(let owner):
        return Respawn(holders: [], supervisor: nil, hiddenOwner: owner)
      default:
        continue
      }
    }
    return nil
  }
}
