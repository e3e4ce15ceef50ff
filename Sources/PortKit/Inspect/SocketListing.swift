/// The sockets of a snapshot that match a query, in report order (port, protocol, address),
/// each joined with its holders only when it is read. `list` walks it to print tens of
/// thousands of sockets without holding a report for each: the listing itself is eight
/// bytes a socket on top of the snapshot.
public struct SocketListing: RandomAccessCollection, Sendable {
  /// The snapshot the sockets come from.
  public let snapshot: SystemSnapshot
  /// Positions in `snapshot.sockets`, in report order, duplicates removed.
  private var order: [Int32]
  /// For each position, where its socket's links start in `snapshot.references.links`:
  /// found once, so that writing a listing (two passes over tens of thousands of sockets)
  /// searches nothing (a binary search there misses the cache at almost every step). Four
  /// bytes a socket, and nothing else held while they are found.
  private var linkStarts: [Int32]

  /// Selects, orders and de-duplicates `snapshot`'s sockets for `query`.
  public init(snapshot: SystemSnapshot, query: SocketQuery) {
    self.snapshot = snapshot
    let sockets = snapshot.sockets
    var order: [Int32] = []
    order.reserveCapacity(sockets.count)
    for index in sockets.indices where query.matches(sockets[index]) { order.append(Int32(index)) }
    order.sort { PortInspector.socketOrder(sockets[Int($0)], sockets[Int($1)]) }
    // A socket seen twice (the same inode, or an identical entry without one) sorts next to
    // itself: keep the first of each.
    var kept = 0
    var runStart = 0
    for position in order.indices {
      let socket = sockets[Int(order[position])]
      if kept > runStart, !PortInspector.sameSortKey(sockets[Int(order[runStart])], socket) { runStart = kept }
      let duplicate = order[runStart..<kept].contains { earlier in
        let other = sockets[Int(earlier)]
        return socket.id != 0 ? other.id == socket.id : other == socket
      }
      if !duplicate {
        order[kept] = order[position]
        kept += 1
      }
    }
    order.removeLast(order.count - kept)
    self.order = order
    linkStarts = order.map { index in
      let socket = snapshot.sockets[Int(index)]
      return socket.id == 0 ? -1 : Int32(snapshot.references.range(of: socket.id).lowerBound)
    }
  }

  /// The first position.
  public var startIndex: Int { 0 }
  /// One past the last position.
  public var endIndex: Int { order.count }

  /// The socket at `position` and its owner, joined now.
  public subscript(position: Int) -> SocketReport {
    let socket = snapshot.sockets[Int(order[position])]
    // -1: a socket without an inode, which no descriptor can name.
    let start = Int(linkStarts[position])
    var end = start
    if start >= 0 {
      let links = snapshot.references.links
      while end < links.count, links[end].id == socket.id { end += 1 }
    }
    let owner = PortInspector.owner(of: socket, links: start < 0 ? 0..<0 : start..<end, in: snapshot)
    return SocketReport(
      socket: socket, owner: owner, unseenHolders: PortInspector.unseenHolders(of: socket, owner: owner, in: snapshot))
  }

  /// The socket at `position`, without its owner.
  public func socket(at position: Int) -> SocketEntry {
    snapshot.sockets[Int(order[position])]
  }

  /// Keeps the sockets `include` accepts.
  public mutating func narrow(to include: (SocketReport) -> Bool) {
    var kept: [Int32] = []
    var keptStarts: [Int32] = []
    for position in indices where include(self[position]) {
      kept.append(order[position])
      keptStarts.append(linkStarts[position])
    }
    order = kept
    linkStarts = keptStarts
  }

  /// When the snapshot was taken, seconds since the Unix epoch.
  public var takenAt: Double { snapshot.takenAt }
  /// How many processes could not be inspected.
  public var uninspectableCount: Int { snapshot.uninspectable.count }
}
