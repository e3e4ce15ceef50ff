/// Parses `lsof -F` field output: one field a line, the first character naming it
/// (`p` pid, `R` ppid, `c` command, `u` uid, `L` login, `f` descriptor, `t` type, `P`
/// protocol, `n` name, `T` TCP info such as `TST=LISTEN`, `d` device, `i` inode). A `p`
/// line starts a process set, an `f` line a file set within it. Unknown fields are skipped,
/// so are lines that make no sense; nothing here trusts the input.
enum LsofParser {
  struct File: Hashable, Sendable {
    var fd: Int32?
    /// `IPv4` or `IPv6`.
    var type: String?
    /// `TCP` or `UDP`.
    var proto: String?
    /// `127.0.0.1:3000->127.0.0.1:52144`, `*:5353`, `[::1]:5432`.
    var name: String?
    /// `LISTEN`, `ESTABLISHED`, … (TCP only).
    var state: String?
    var device: String?
    var inode: String?
  }

  struct Process: Hashable, Sendable {
    var pid: PID
    var ppid: PID?
    /// The command name, cut to 9 characters by lsof on macOS.
    var command: String = ""
    var uid: UInt32?
    var login: String?
    var files: [File] = []
  }

  static func parse(_ bytes: [UInt8]) -> [Process] {
    var processes: [Process] = []
    var file: File?
    func flushFile() {
      if let done = file, !processes.isEmpty { processes[processes.count - 1].files.append(done) }
      file = nil
    }
    for rawLine in bytes.split(whereSeparator: { $0 == 0x0A || $0 == 0x00 }) {
      var line = rawLine[...]
      while line.last == 0x0D { line = line.dropLast() }
      guard let tag = line.first else { continue }
      let value = String(decoding: line.dropFirst(), as: UTF8.self)
      switch tag {
      case UInt8(ascii: "p"):
        flushFile()
        if let pid = PID(value), pid > 0 {
          processes.append(Process(pid: pid))
        } else {
          processes.append(Process(pid: -1))
        }
      case UInt8(ascii: "f"):
        flushFile()
        file = File(fd: Int32(value))
      default:
        guard !processes.isEmpty else { continue }
        if file != nil {
          switch tag {
          case UInt8(ascii: "t"): file?.type = value
          case UInt8(ascii: "P"): file?.proto = value
          case UInt8(ascii: "n"): file?.name = value
          case UInt8(ascii: "d"): file?.device = value
          case UInt8(ascii: "i"): file?.inode = value
          case UInt8(ascii: "T"):
            if value.hasPrefix("ST=") { file?.state = String(value.dropFirst(3)) }
          default: break
          }
        } else {
          let index = processes.count - 1
          switch tag {
          case UInt8(ascii: "c"): processes[index].command = value
          case UInt8(ascii: "u"): processes[index].uid = UInt32(value)
          case UInt8(ascii: "L"): processes[index].login = value
          case UInt8(ascii: "R"): processes[index].ppid = PID(value)
          default: break
          }
        }
      }
    }
    flushFile()
    return processes.filter { $0.pid > 0 }
  }

  /// The sockets in parsed output: each TCP/UDP file becomes a socket (files that are the
  /// same socket, by inode or device, or else by identical endpoints and state, share one
  /// id), and each process that has it becomes a reference.
  static func sockets(_ processes: [Process]) -> (
    sockets: [SocketEntry], references: [UInt64: [SocketReference]]
  ) {
    var sockets: [UInt64: SocketEntry] = [:]
    var order: [UInt64] = []
    var references: [UInt64: [SocketReference]] = [:]
    for process in processes {
      for file in process.files {
        guard let entry = socket(file, uid: process.uid) else { continue }
        let key: String
        if let inode = file.inode, !inode.isEmpty {
          key = "i\(inode)"
        } else if let device = file.device, !device.isEmpty {
          key = "d\(device)"
        } else {
          key = "\(entry.proto) \(entry.local) \(entry.remote?.description ?? "*") \(entry.state.rawValue)"
        }
        let id = Self.id(key)
        if sockets[id] == nil {
          var stored = entry
          stored.id = id
          sockets[id] = stored
          order.append(id)
        }
        var holders = references[id, default: []]
        if let index = holders.firstIndex(where: { $0.pid == process.pid }) {
          if let fd = file.fd { holders[index].fds.append(fd) }
        } else {
          holders.append(SocketReference(pid: process.pid, fds: file.fd.map { [$0] } ?? []))
        }
        references[id] = holders
      }
    }
    return (order.compactMap { sockets[$0] }, references)
  }

  /// One file as a socket, or `nil` when it is not a TCP/UDP socket with a readable name.
  static func socket(_ file: File, uid: UInt32?) -> SocketEntry? {
    let proto: TransportProtocol
    switch file.proto?.uppercased() {
    case "TCP": proto = .tcp
    case "UDP": proto = .udp
    default: return nil
    }
    let family: AddressFamily = file.type?.uppercased() == "IPV6" ? .ipv6 : .ipv4
    guard let name = file.name else { return nil }
    let parts = name.split(separator: "->", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
    guard let local = endpoint(parts[0], family: family) else { return nil }
    var remote = parts.count > 1 ? endpoint(parts[1], family: family) : nil
    if let peer = remote, peer.port == 0, peer.address.isWildcard { remote = nil }
    let state: SocketState
    if proto == .udp {
      state = remote == nil ? .unconnected : .established
    } else {
      state = tcpState(file.state)
    }
    return SocketEntry(proto: proto, local: local, remote: remote, state: state, uid: uid, id: 0)
  }

  /// `*:7000`, `127.0.0.1:5432`, `[::1]:5432`, `[fe80::1%lo0]:123`, `*:*`.
  static func endpoint(_ text: String, family: AddressFamily) -> Endpoint? {
    var host: Substring
    var port: Substring
    if text.hasPrefix("[") {
      guard let close = text.firstIndex(of: "]") else { return nil }
      host = text[text.index(after: text.startIndex)..<close]
      let rest = text[text.index(after: close)...]
      guard rest.hasPrefix(":") else { return nil }
      port = rest.dropFirst()
    } else {
      guard let colon = text.lastIndex(of: ":") else { return nil }
      host = text[..<colon]
      port = text[text.index(after: colon)...]
    }
    let address: IPAddress
    if host == "*" {
      address = family == .ipv4 ? .anyV4 : .anyV6
    } else {
      guard let parsed = IPAddress(host) else { return nil }
      address = parsed
    }
    if port == "*" { return Endpoint(address: address, port: 0) }
    guard let number = UInt16(port) else { return nil }
    return Endpoint(address: address, port: number)
  }

  /// lsof's TCP state names on macOS (`FIN_WAIT_1`, `SYN_RECEIVED`) and Linux (`FIN_WAIT1`,
  /// `SYN_RECV`).
  static func tcpState(_ text: String?) -> SocketState {
    switch text?.uppercased().replacingUnderscoreDigits() {
    case "LISTEN": .listen
    case "ESTABLISHED": .established
    case "SYN_SENT": .synSent
    case "SYN_RECV", "SYN_RECEIVED", "SYN_RCVD": .synReceived
    case "FIN_WAIT1": .finWait1
    case "FIN_WAIT2": .finWait2
    case "TIME_WAIT": .timeWait
    case "CLOSE", "CLOSED": .close
    case "CLOSE_WAIT": .closeWait
    case "LAST_ACK": .lastAck
    case "CLOSING": .closing
    default: .unknown
    }
  }

  /// A stable 64-bit id for a socket key (FNV-1a), never 0.
  static func id(_ key: String) -> UInt64 {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in key.utf8 {
      hash ^= UInt64(byte)
      hash = hash &* 0x100_0000_01b3
    }
    return hash == 0 ? 1 : hash
  }
}

extension String {
  /// `FIN_WAIT_1` → `FIN_WAIT1`.
  fileprivate func replacingUnderscoreDigits() -> String {
    var result = self
    for digit in ["1", "2"] where result.hasSuffix("_" + digit) {
      result = String(result.dropLast(2)) + digit
    }
    return result
  }
}
