/// Which processes hold which sockets, as one flat array of (socket id, pid, descriptor)
/// sorted in that order: 16 bytes a descriptor and no allocation per socket, so a listing
/// of tens of thousands of sockets keeps its holders in a few hundred kilobytes. Lookups
/// are binary searches.
public struct SocketHolders: Hashable, Sendable {
  /// One descriptor of `pid` referring to socket `id`; `fd` is -1 where the backend does
  /// not know descriptors (Windows).
  public struct Link: Hashable, Sendable, Comparable {
    /// The socket's inode.
    public var id: UInt64
    /// The holding process.
    public var pid: PID
    /// The descriptor in it.
    public var fd: Int32

    /// A link from socket `id` to `pid`'s descriptor `fd`.
    public init(id: UInt64, pid: PID, fd: Int32) {
      self.id = id
      self.pid = pid
      self.fd = fd
    }

    /// By socket, then pid, then descriptor.
    public static func < (lhs: Self, rhs: Self) -> Bool {
      (lhs.id, lhs.pid, lhs.fd) < (rhs.id, rhs.pid, rhs.fd)
    }
  }

  /// Sorted by id, pid, descriptor; no duplicates.
  public private(set) var links: [Link]

  /// None.
  public init() {
    links = []
  }

  /// From links in any order (sorted here, duplicates dropped).
  public init(links: [Link]) {
    var sorted = links
    sorted.sort()
    self.init(sortedLinks: sorted)
  }

  /// From links already sorted; adjacent duplicates are dropped.
  init(sortedLinks: [Link]) {
    var links = sortedLinks
    if links.count > 1 {
      var kept = 1
      for index in 1..<links.count where links[index] != links[kept - 1] {
        links[kept] = links[index]
        kept += 1
      }
      links.removeLast(links.count - kept)
    }
    self.links = links
  }

  /// From socket id → holders.
  public init(_ references: [UInt64: [SocketReference]]) {
    var links: [Link] = []
    for (id, holders) in references {
      for holder in holders {
        if holder.fds.isEmpty {
          links.append(Link(id: id, pid: holder.pid, fd: -1))
        } else {
          links += holder.fds.map { Link(id: id, pid: holder.pid, fd: $0) }
        }
      }
    }
    self.init(links: links)
  }

  /// True when no socket has a holder.
  public var isEmpty: Bool { links.isEmpty }

  /// The holders of socket `id`, by pid, each with its descriptors; `nil` when none.
  public subscript(id: UInt64) -> [SocketReference]? {
    let range = self.range(of: id)
    guard !range.isEmpty else { return nil }
    return references(in: range)
  }

  /// The holders of the links at `range` (one socket's, from ``range(of:)``), by pid, each
  /// with its descriptors.
  func references(in range: Range<Int>) -> [SocketReference] {
    var holders: [SocketReference] = []
    for link in links[range] {
      let fds = link.fd >= 0 ? [link.fd] : []
      if holders.last?.pid == link.pid {
        holders[holders.count - 1].fds += fds
      } else {
        holders.append(SocketReference(pid: link.pid, fds: fds))
      }
    }
    return holders
  }

  /// The positions in ``links`` of socket `id`'s holders.
  public func range(of id: UInt64) -> Range<Int> {
    // A listing asks this twice for each of tens of thousands of sockets.
    links.withUnsafeBufferPointer { links in
      var low = 0
      var high = links.count
      while low < high {
        let middle = (low &+ high) >> 1
        if links[middle].id < id { low = middle &+ 1 } else { high = middle }
      }
      var end = low
      while end < links.count, links[end].id == id { end &+= 1 }
      return low..<end
    }
  }

  /// Every pid that holds some socket.
  public var pids: Set<PID> { Set(links.lazy.map(\.pid)) }

  /// Every socket id with at least one holder.
  public var ids: Set<UInt64> { Set(links.lazy.map(\.id)) }

  /// Drops the links of the processes `reject` picks.
  public mutating func removeAll(where reject: (PID) -> Bool) {
    links.removeAll { reject($0.pid) }
  }
}

extension SocketHolders: ExpressibleByDictionaryLiteral {
  /// The table from socket ids and their references.
  public init(dictionaryLiteral elements: (UInt64, [SocketReference])...) {
    self.init(Dictionary(elements, uniquingKeysWith: +))
  }
}
