/// Follows listeners as they appear, change holders and close: `watch` as one library call.
///
/// ```swift
/// let watching = PortWatching(system: try System.make())
/// for try await event in watching.events(for: try PortSpec.parseList("3000")) {
///   print(event.kind, event.listener?.key.local as Any)
/// }
/// ```
public struct PortWatching: Sendable {
  /// The machine watched.
  public var system: System

  /// A watcher on `system`.
  public init(system: System) {
    self.system = system
  }

  /// The events for the listeners on `specs` (every port when `nil`) of `protocols`,
  /// polling every `interval`: first the starting state (a `present` event per listener,
  /// then `ready`), then a `listening`, `changed` or `closed` event per change, until the
  /// task is cancelled (the sequence then ends).
  ///
  /// Each poll reads listeners only, with the ports handed to the backend (netlink filters
  /// them in the kernel) and a summary of each holder (name, command line, user, start
  /// time); no ancestry, manager or environment is read. Between full reads a poll reads
  /// the socket table alone and checks the last holders (see ``PortWatchEvents/Iterator``);
  /// `fullReadEvery` bounds the time between two full reads. A socket table that cannot be
  /// read ends the sequence with that error: it is never reported as every listener closing.
  public func events(
    for specs: [PortSpec]? = nil, protocols: Set<TransportProtocol> = [.tcp, .udp],
    interval: Duration = .milliseconds(250), fullReadEvery: Duration = PortWatchEvents.fullReadEvery
  ) -> PortWatchEvents {
    var events = PortWatchEvents(
      source: system.source,
      query: SocketQuery(specs: specs, protocols: protocols, listenersOnly: true, detail: .summary),
      interval: interval)
    events.fullReadEvery = fullReadEvery
    return events
  }
}

/// The events of a watch: an `AsyncSequence` that polls when asked for the next event.
/// It ends when the task iterating it is cancelled, and throws when a poll fails.
public struct PortWatchEvents: AsyncSequence, Sendable {
  /// One change, or a marker of the starting state.
  public typealias Element = PortWatchEvent
  /// A poll that failed (the socket table could not be read).
  public typealias Failure = PortKitError

  /// Where the sockets are read.
  public var source: any SystemSource
  /// What each poll reads.
  public var query: SocketQuery
  /// The time from one poll's start to the next's.
  public var interval: Duration
  /// The longest time between two full snapshots.
  public var fullReadEvery: Duration = Self.fullReadEvery

  /// Events from polling `source` for `query` every `interval`.
  public init(source: any SystemSource, query: SocketQuery, interval: Duration) {
    self.source = source
    self.query = query
    self.interval = interval
  }

  /// An iterator that starts with the first poll.
  public func makeAsyncIterator() -> Iterator {
    Iterator(source: source, query: query, interval: interval, fullReadEvery: fullReadEvery)
  }

  /// Polls, and hands out each poll's events in order.
  ///
  /// A poll reads the socket table alone where the backend can (``SystemSource/socketsOnly(for:)``)
  /// and checks the last holders cheaply (``SystemSource/holderCheck(_:previous:)``: they
  /// still hold their sockets and have the same children); only when either differs, or
  /// every ``fullReadEvery``, does it take a full snapshot (every process's descriptors
  /// walked) and compare listeners.
  public struct Iterator: AsyncIteratorProtocol {
    let source: any SystemSource
    let query: SocketQuery
    let interval: Duration
    let fullReadEvery: Duration
    private let clock = ContinuousClock()
    private var pending: [PortWatchEvent] = []
    private var last: [WatchedListener]?
    private var nextPoll: ContinuousClock.Instant?
    private var finished = false
    /// What the last full snapshot saw, for the cheap comparison.
    private var lastSockets: Set<SocketSignature> = []
    private var lastReferences = SocketHolders()
    private var lastCheck: HolderCheck?
    private var lastFullRead: ContinuousClock.Instant?

    init(source: any SystemSource, query: SocketQuery, interval: Duration, fullReadEvery: Duration) {
      self.source = source
      self.query = query
      self.interval = interval
      self.fullReadEvery = fullReadEvery
    }

    /// The next event; `nil` once the task is cancelled; throws when a poll fails (and
    /// ends the sequence).
    public mutating func next() async throws(PortKitError) -> PortWatchEvent? {
      try await next(isolation: nil)
    }

    /// The same, on the caller's actor.
    public mutating func next(isolation actor: isolated (any Actor)?) async throws(PortKitError) -> PortWatchEvent? {
      while pending.isEmpty {
        guard !finished, !Task.isCancelled else {
          finished = true
          return nil
        }
        if let nextPoll {
          do {
            try await clock.sleep(until: nextPoll)
          } catch {
            finished = true
            return nil
          }
        }
        let started = clock.now
        nextPoll = started.advanced(by: interval)
        do {
          try await poll(at: started, isolation: actor)
        } catch {
          finished = true
          throw error
        }
      }
      return pending.removeFirst()
    }

    /// One poll: the cheap comparison, then a full snapshot only when it differs.
    private mutating func poll(
      at now: ContinuousClock.Instant, isolation actor: isolated (any Actor)?
    ) async throws(PortKitError) {
      if last != nil, let lastFullRead, now - lastFullRead < fullReadEvery, let lastCheck,
        let sockets = try await source.socketsOnly(for: query)
      {
        // The same sockets, the holders still holding them, the same children: no change.
        if Set(sockets.lazy.map(SocketSignature.init)) == lastSockets,
          let check = await source.holderCheck(lastReferences, previous: lastCheck),
          check.children == lastCheck.children
        {
          self.lastCheck = check
          return
        }
      }
      let snapshot = try await source.snapshot(for: query)
      // A poll that the cancellation interrupted reports nothing.
      if Task.isCancelled { return }
      let listeners = ListenerChanges.listeners(in: snapshot, query: query)
      if let last {
        pending = ListenerChanges.changes(from: last, to: listeners, at: snapshot.takenAt)
      } else {
        pending = ListenerChanges.start(with: listeners, at: snapshot.takenAt)
      }
      last = listeners
      lastFullRead = now
      lastSockets = Set(snapshot.sockets.lazy.filter(query.matches).map(SocketSignature.init))
      lastReferences = snapshot.references
      lastCheck = await source.holderCheck(snapshot.references, previous: nil)
    }
  }

  /// The longest time between two full snapshots by default: a holder that gains a socket
  /// other than by a fork (passed over a Unix socket) is seen within it.
  public static let fullReadEvery: Duration = .seconds(10)
}

/// What identifies a socket between two polls: its id (inode) and its address.
struct SocketSignature: Hashable {
  var id: UInt64
  var proto: TransportProtocol
  var local: Endpoint

  init(_ socket: SocketEntry) {
    id = socket.id
    proto = socket.proto
    local = socket.local
  }
}
