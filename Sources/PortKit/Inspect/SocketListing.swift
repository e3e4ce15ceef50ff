/// The sockets of a snapshot that match a query, in report order (port, protocol, address),
/// each joined with its holders only when it is read. `list` walks it to print tens of
/// thousands of sockets without holding a report for each: the listing itself is four bytes
/// a socket on top of the snapshot.
public struct SocketListing: RandomAccessCollection, Sendable {
  /// The snapshot the sockets come from.
  public let snapshot: SystemSnapshot
  /// Positions in `snapshot.sockets`, in report order, duplicates removed.
  private var order: [Int32]

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
  }

  /// The first position.
  public var startIndex: Int { 0 }
  /// One past the last position.
  public var endIndex: Int { order.count }

  /// The socket at `position` and its owner, joined now.
  public subscript(position: Int) -> SocketReport {
    let socket = snapshot.sockets[Int(order[position])]
    let owner = PortInspector.owner(of: socket, in: snapshot)
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
    for position in indices where include(self[position]) { kept.append(order[position]) }
    order = kept
  }

  /// When the snapshot was taken, seconds since the Unix epoch.
  public var takenAt: Double { snapshot.takenAt }
  /// How many processes could not be inspected.
  public var uninspectableCount: Int { snapshot.uninspectable.count }
}
