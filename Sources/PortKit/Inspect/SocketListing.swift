/// The sockets of a snapshot that match a query, in report order (port, protocol, address),
/// each joined with its holders only when it is read. `list` walks it to print tens of
/// thousands of sockets without holding a report for each: the listing itself is twelve
/// bytes a socket on top of the snapshot.
public struct SocketListing: RandomAccessCollection, Sendable {
  /// The snapshot the sockets come from.
  public let snapshot: SystemSnapshot
  /// Positions in `snapshot.sockets`, in report order, duplicates removed.
  private var order: [Int32]
  /// For each position, where its socket's links are in `snapshot.references.links`: found
  /// once, by one merge of the two sorted by socket id, so that writing a listing (two passes
  /// over tens of thousands of sockets) does no search (a binary search there misses the
  /// cache at almost every step). Eight bytes a socket.
  private var links: [Range<Int32>]

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
    links = Self.linkRanges(of: order, in: snapshot)
  }

  /// The ranges of `links` for the sockets at `order`'s positions.
  private static func linkRanges(of order: [Int32], in snapshot: SystemSnapshot) -> [Range<Int32>] {
    var ranges = [Range<Int32>](repeating: 0..<0, count: order.count)
    var byID: [(id: UInt64, position: Int32)] = []
    byID.reserveCapacity(order.count)
    for (position, index) in order.enumerated() where snapshot.sockets[Int(index)].id != 0 {
      byID.append((snapshot.sockets[Int(index)].id, Int32(position)))
    }
    byID.sort { $0.id < $1.id }
    snapshot.references.links.withUnsafeBufferPointer { links in
      var start = 0
      for (id, position) in byID {
        while start < links.count, links[start].id < id { start += 1 }
        var end = start
        while end < links.count, links[end].id == id { end += 1 }
        ranges[Int(position)] = Int32(start)..<Int32(end)
      }
    }
    return ranges
  }

  /// The first position.
  public var startIndex: Int { 0 }
  /// One past the last position.
  public var endIndex: Int { order.count }

  /// The socket at `position` and its owner, joined now.
  public subscript(position: Int) -> SocketReport {
    let socket = snapshot.sockets[Int(order[position])]
    let range = links[position]
    let owner = PortInspector.owner(of: socket, links: Int(range.lowerBound)..<Int(range.upperBound), in: snapshot)
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
    var keptLinks: [Range<Int32>] = []
    for position in indices where include(self[position]) {
      kept.append(order[position])
      keptLinks.append(links[position])
    }
    order = kept
    links = keptLinks
  }

  /// When the snapshot was taken, seconds since the Unix epoch.
  public var takenAt: Double { snapshot.takenAt }
  /// How many processes could not be inspected.
  public var uninspectableCount: Int { snapshot.uninspectable.count }
}
