/// The part of a program's output worth reading for a bind error, gathered from input of any
/// size in bounded memory: the last `tailLimit` bytes (a server that cannot bind usually says
/// so as it exits), and, from everything before them, the lines that name a bind error with
/// the lines right after them (a message wrapped across lines), up to `hitLimit` bytes.
///
/// Each byte is looked at once, so `npm run dev 2>&1 | portctl explain` costs time in
/// proportion to the output and memory in proportion to the limits.
public struct ErrorExcerpt: Sendable {
  /// Bytes kept from the end of the input.
  public let tailLimit: Int
  /// Bytes kept of earlier lines that name a bind error.
  public let hitLimit: Int
  /// Bytes seen in all.
  public private(set) var bytesRead = 0

  private var tail: [UInt8] = []
  private var hits: [UInt8] = []
  /// Lines still to keep after a hit, as context.
  private var contextLeft = 0

  /// Words that mark a line of a bind error, in the spellings programs print.
  static let markers: [[UInt8]] = [
    "EADDRINUSE", "EACCES", "EADDRNOTAVAIL", "in use", "IN USE", "In use", "10048", "10013", "Errno",
    "ermission denied", "assign requested", "bind", "Bind", "BIND", "listen", "Listen", "not free",
    "already running", "0x80070020",
  ].map { Array($0.utf8) }

  /// An empty excerpt keeping at most `tailLimit` bytes of the end and `hitLimit` bytes of lines that look like bind errors.
  public init(tailLimit: Int = 256 << 10, hitLimit: Int = 64 << 10) {
    self.tailLimit = max(1, tailLimit)
    self.hitLimit = hitLimit
  }

  /// True when some input was left out.
  public var isShortened: Bool { bytesRead > tail.count + hits.count }

  /// Adds the next bytes of input.
  public mutating func append(_ bytes: some Collection<UInt8>) {
    bytesRead += bytes.count
    tail.append(contentsOf: bytes)
    if tail.count >= 2 * tailLimit { trim() }
  }

  /// The excerpt as text (invalid UTF-8 replaced).
  public var text: String {
    var copy = self
    if copy.tail.count > copy.tailLimit { copy.trim() }
    if copy.hits.isEmpty { return String(decoding: copy.tail, as: UTF8.self) }
    return String(decoding: copy.hits + [UInt8(ascii: "\n")] + copy.tail, as: UTF8.self)
  }

  /// Moves whole lines from the front of the tail, past the last `tailLimit` bytes, through
  /// the marker scan.
  private mutating func trim() {
    var cut = tail.count - tailLimit
    // Cut after a newline, so no kept line is cut short, unless no newline is near.
    let newline = UInt8(ascii: "\n")
    if let next = tail[cut...].firstIndex(of: newline), next - cut < 4096, next + 1 < tail.count {
      cut = next + 1
    } else if let previous = tail[..<cut].lastIndex(of: newline), cut - previous < 4096 {
      cut = previous + 1
    }
    scan(tail[..<cut])
    tail.removeSubrange(..<cut)
  }

  private mutating func scan(_ dropped: ArraySlice<UInt8>) {
    guard hits.count < hitLimit else { return }
    var lines: [Range<Int>] = []
    dropped.withUnsafeBufferPointer { bytes in
      var start = 0
      var context = contextLeft
      while start < bytes.count {
        var end = start
        while end < bytes.count, bytes[end] != UInt8(ascii: "\n") { end += 1 }
        let line = UnsafeBufferPointer(rebasing: bytes[start..<min(end, start + 4096)])
        if Self.marks(line) {
          context = 2
          lines.append(start..<start + line.count)
        } else if context > 0 {
          context -= 1
          lines.append(start..<start + line.count)
        }
        start = end + 1
      }
      contextLeft = context
    }
    for line in lines where hits.count < hitLimit {
      keep(dropped[(dropped.startIndex + line.lowerBound)..<(dropped.startIndex + line.upperBound)])
    }
  }

  private mutating func keep(_ line: ArraySlice<UInt8>) {
    hits.append(contentsOf: line.prefix(hitLimit - hits.count))
    hits.append(UInt8(ascii: "\n"))
  }

  /// True when `line` holds one of the ``markers``.
  static func marks(_ line: UnsafeBufferPointer<UInt8>) -> Bool {
    line.count >= 4 && !positions(in: line, upTo: 1).isEmpty
  }

  /// Which bytes start a marker.
  static let firstBytes: [Bool] = {
    var table = [Bool](repeating: false, count: 256)
    for marker in markers { table[Int(marker[0])] = true }
    return table
  }()

  /// `text` narrowed to what a parser needs when it is long (over `limit` bytes): the lines
  /// with a marker, each cut to 1 KiB either side of its markers, with two lines before and
  /// eight after (a stack trace names the runtime); the last `limit` bytes when nothing
  /// marks. Linear in the text, so a huge line cannot make parsing slow.
  public static func focus(_ text: String, limit: Int = 64 << 10) -> String {
    let bytes = Array(text.utf8)
    guard bytes.count > limit else { return text }
    var kept: [UInt8] = []
    var lines: [Range<Int>] = []
    var start = 0
    while start <= bytes.count {
      let end = bytes[start...].firstIndex(of: UInt8(ascii: "\n")) ?? bytes.count
      lines.append(start..<end)
      start = end + 1
    }
    var keep = [Bool](repeating: false, count: lines.count)
    var windows: [Int: [Range<Int>]] = [:]
    bytes.withUnsafeBufferPointer { all in
      for (index, line) in lines.enumerated() {
        let hits = positions(in: UnsafeBufferPointer(rebasing: all[line]))
        guard !hits.isEmpty else { continue }
        for neighbour in max(0, index - 2)...min(lines.count - 1, index + 8) { keep[neighbour] = true }
        windows[index] = hits.map {
          max(line.lowerBound, line.lowerBound + $0 - 1024)..<min(line.upperBound, line.lowerBound + $0 + 1024)
        }
      }
    }
    guard keep.contains(true) else { return String(decoding: bytes.suffix(limit), as: UTF8.self) }
    for (index, line) in lines.enumerated() where keep[index] && kept.count < limit {
      for window in windows[index] ?? [line.lowerBound..<min(line.upperBound, line.lowerBound + 2048)] {
        kept.append(contentsOf: bytes[window])
        kept.append(UInt8(ascii: " "))
      }
      kept.append(UInt8(ascii: "\n"))
    }
    return String(decoding: kept.prefix(limit), as: UTF8.self)
  }

  /// Where markers start in `line`, at most `limit` of them.
  static func positions(in line: UnsafeBufferPointer<UInt8>, upTo limit: Int = 16) -> [Int] {
    var found: [Int] = []
    var position = 0
    while position < line.count, found.count < limit {
      if firstBytes[Int(line[position])] {
        for marker in markers where marker[0] == line[position] && position + marker.count <= line.count {
          var matched = 1
          while matched < marker.count, line[position + matched] == marker[matched] { matched += 1 }
          if matched == marker.count {
            found.append(position)
            position += marker.count - 1
            break
          }
        }
      }
      position += 1
    }
    return found
  }
}
