/// What the snapshot script (``RemoteScript/snapshot(mode:)``) printed, parsed. The bytes
/// come from another machine and are not trusted: every field is bounded, odd lines are
/// skipped, and nothing in them can crash the parse.
struct RemoteReading: Sendable {
  /// What one process's details said (procfs remotes).
  struct ProcessDetails: Sendable {
    var pid: PID
    var uid: UInt32?
    var stat: [UInt8] = []
    var commandLine: [UInt8] = []
    var controlGroup: [UInt8] = []
    var workingDirectory: [UInt8] = []
    var executable: [UInt8] = []
  }

  /// `nil` when the output did not say (the script did not run to that point).
  var kind: String?
  var os: String?
  var effectiveUID: UInt32?
  var now: Double?
  /// The remote zone's offset from UTC, seconds east.
  var utcOffset: Int?
  /// The script's shell and its ancestors, itself first.
  var selfChain: [PID] = []
  var users: [UInt32: String] = [:]
  var ticksPerSecond: Double?
  var bootTime: Double?
  /// `/proc/net/{tcp,tcp6,udp,udp6}` as printed.
  var tables: [String: [UInt8]] = [:]
  var links: [SocketHolders.Link] = []
  var processes: [ProcessDetails] = []
  var lsof: [UInt8] = []
  var lsofStatus: Int32?
  var ps: [UInt8] = []
  /// The script printed its last line.
  var complete = false

  /// The most bytes kept of one field or table.
  static let fieldLimit = 16 << 20
  /// The most users and socket links kept.
  static let entryLimit = 1 << 20

  private enum Section {
    case none, table(String), fds, hex(WritableKeyPath<ProcessDetails, [UInt8]>), lsof, ps
  }

  /// Parses the script's output; never fails (what is missing stays `nil` or empty).
  static func parse(_ bytes: [UInt8]) -> RemoteReading {
    var reading = RemoteReading()
    var section = Section.none
    var current: ProcessDetails?
    var fdPID: PID?
    func flush() {
      if let done = current, reading.processes.count < RemoteScript.processLimit * 2 { reading.processes.append(done) }
      current = nil
    }
    var start = bytes.startIndex
    while start < bytes.endIndex {
      let end = bytes[start...].firstIndex(of: UInt8(ascii: "\n")) ?? bytes.endIndex
      let line = bytes[start..<end]
      start = end + 1
      if line.first == UInt8(ascii: "@") {
        let text = String(decoding: line.prefix(512), as: UTF8.self)
        let parts = text.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false)
        let name = parts[0]
        let value = parts.count > 1 ? String(parts[1]) : ""
        var handled = true
        switch name {
        case "@os": reading.os = String(value.prefix(64))
        case "@euid": reading.effectiveUID = UInt32(value)
        case "@now": reading.now = Double(value).flatMap { $0.isFinite ? $0 : nil }
        case "@zone": reading.utcOffset = Self.zoneOffset(value)
        case "@self", "@ancestor":
          if let pid = PID(value), reading.selfChain.count < 128 { reading.selfChain.append(pid) }
        case "@user":
          let fields = value.split(separator: " ", maxSplits: 1)
          if fields.count == 2, let uid = UInt32(fields[0]), reading.users.count < entryLimit, reading.users[uid] == nil
          {
            reading.users[uid] = String(fields[1].prefix(256))
          }
        case "@kind": reading.kind = String(value.prefix(16))
        case "@ticks": reading.ticksPerSecond = Double(value).flatMap { $0 > 0 && $0.isFinite ? $0 : nil }
        case "@btime": reading.bootTime = Double(value).flatMap { $0.isFinite ? $0 : nil }
        case "@table":
          if ["tcp", "tcp6", "udp", "udp6"].contains(value) { section = .table(value) } else { section = .none }
        case "@fds": section = .fds
        case "@procs": section = .none
        case "@pid":
          flush()
          current = PID(value).map { ProcessDetails(pid: $0) }
          section = .none
        case "@uid": current?.uid = UInt32(value)
        case "@stat": section = .hex(\.stat)
        case "@cmdline": section = .hex(\.commandLine)
        case "@cgroup": section = .hex(\.controlGroup)
        case "@cwd": section = .hex(\.workingDirectory)
        case "@exe": section = .hex(\.executable)
        case "@end":
          flush()
          section = .none
        case "@lsof": section = .lsof
        case "@lsof-status":
          reading.lsofStatus = Int32(value)
          section = .none
        case "@ps": section = .ps
        case "@done":
          flush()
          reading.complete = true
          section = .none
        default: handled = false
        }
        if handled { continue }
      }
      switch section {
      case .none: break
      case .table(let name):
        if reading.tables[name, default: []].count + line.count < fieldLimit {
          reading.tables[name, default: []] += line
          reading.tables[name, default: []].append(UInt8(ascii: "\n"))
        }
      case .fds:
        if let link = Self.link(line, pid: &fdPID), reading.links.count < entryLimit { reading.links.append(link) }
      case .hex(let path):
        if current != nil, let decoded = Self.hex(line), (current?[keyPath: path].count ?? 0) < fieldLimit {
          current?[keyPath: path] += decoded
        }
      case .lsof:
        if reading.lsof.count < fieldLimit {
          reading.lsof += line
          reading.lsof.append(UInt8(ascii: "\n"))
        }
      case .ps:
        if reading.ps.count < fieldLimit {
          reading.ps += line
          reading.ps.append(UInt8(ascii: "\n"))
        }
      }
    }
    flush()
    return reading
  }

  /// `+0100` → 3600, `-0530` → -19800.
  static func zoneOffset(_ text: String) -> Int? {
    let scalars = Array(text.utf8)
    guard scalars.count == 5, scalars[0] == UInt8(ascii: "+") || scalars[0] == UInt8(ascii: "-"),
      let hours = Int(String(decoding: scalars[1..<3], as: UTF8.self)),
      let minutes = Int(String(decoding: scalars[3..<5], as: UTF8.self)), hours < 24, minutes < 60
    else { return nil }
    let seconds = hours * 3600 + minutes * 60
    return scalars[0] == UInt8(ascii: "-") ? -seconds : seconds
  }

  /// One line of `ls -lq /proc/*/fd/`: a `/proc/PID/fd:` header sets the pid, and
  /// `… FD -> socket:[INODE]` is a link of it.
  static func link(_ line: ArraySlice<UInt8>, pid: inout PID?) -> SocketHolders.Link? {
    let text = String(decoding: line.prefix(1024), as: UTF8.self)
    if text.hasPrefix("/proc/"), text.hasSuffix("/fd:") {
      pid = PID(text.dropFirst(6).dropLast(4))
      return nil
    }
    guard let pid, let arrow = text.firstRange(of: " -> socket:[") else { return nil }
    let target = text[arrow.upperBound...]
    guard target.hasSuffix("]"), let inode = UInt64(target.dropLast()), inode > 0,
      let fd = text[..<arrow.lowerBound].split(separator: " ").last.flatMap({ Int32($0) }), fd >= 0
    else { return nil }
    return SocketHolders.Link(id: inode, pid: pid, fd: fd)
  }

  /// `od -An -v -tx1` output: hex byte pairs separated by spaces; `nil` for any other line.
  static func hex(_ line: ArraySlice<UInt8>) -> [UInt8]? {
    var bytes: [UInt8] = []
    bytes.reserveCapacity(line.count / 3 + 1)
    var high: UInt8?
    for character in line {
      if character == UInt8(ascii: " ") || character == UInt8(ascii: "\t") || character == UInt8(ascii: "\r") {
        if high != nil { return nil }
        continue
      }
      let value: UInt8
      switch character {
      case UInt8(ascii: "0")...UInt8(ascii: "9"): value = character - UInt8(ascii: "0")
      case UInt8(ascii: "a")...UInt8(ascii: "f"): value = character - UInt8(ascii: "a") + 10
      case UInt8(ascii: "A")...UInt8(ascii: "F"): value = character - UInt8(ascii: "A") + 10
      default: return nil
      }
      if let first = high {
        bytes.append(first << 4 | value)
        high = nil
      } else {
        high = value
      }
    }
    return high == nil ? bytes : nil
  }
}
