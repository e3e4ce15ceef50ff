/// Parses `netstat -ano` in any language: a row is `TCP|UDP local foreign [state…] pid`;
/// everything else (localised headers, blank lines) is skipped. The state word is localised
/// (`LISTENING`, `ABHÖREN`, …), so a TCP listener is recognised by its structure, a foreign
/// address of `0.0.0.0:0` or `[::]:0`; known words in English and German name the others,
/// and a row owned by PID 0 with a peer is a TIME_WAIT leftover.
enum NetstatParser {
  struct Row: Hashable, Sendable {
    var socket: SocketEntry
    var pid: PID
  }

  static func parse(_ bytes: [UInt8]) -> [Row] {
    parse(text: WindowsText.decode(bytes))
  }

  static func parse(text: String) -> [Row] {
    var rows: [Row] = []
    for (index, line) in WindowsText.lines(text).enumerated() {
      if let row = row(line, index: index) { rows.append(row) }
    }
    return rows
  }

  static func row(_ line: Substring, index: Int) -> Row? {
    let fields = WindowsText.fields(line)
    guard fields.count >= 4, let pid = PID(fields[fields.count - 1]), pid >= 0 else { return nil }
    let proto: TransportProtocol
    switch fields[0].uppercased() {
    case "TCP": proto = .tcp
    case "UDP": proto = .udp
    default: return nil
    }
    guard let local = endpoint(fields[1]) else { return nil }
    let foreign = fields[2]
    let remote = foreign == "*:*" ? nil : endpoint(foreign)
    if foreign != "*:*", remote == nil { return nil }
    let peer = remote.flatMap { $0.port == 0 && $0.address.isWildcard ? nil : $0 }
    let stateWords = fields[3..<(fields.count - 1)].joined(separator: " ")
    let state: SocketState
    if proto == .udp {
      state = peer == nil ? .unconnected : .established
    } else if peer == nil {
      state = stateWords.isEmpty || isBound(stateWords) ? .close : .listen
    } else {
      state = tcpState(stateWords) ?? (pid == 0 ? .timeWait : .unknown)
    }
    // No inode on Windows: a row is a socket. PID 0 rows belong to no process.
    let key = "\(index) \(line)"
    let id = pid == 0 ? 0 : LsofParser.id(key)
    return Row(socket: SocketEntry(proto: proto, local: local, remote: peer, state: state, id: id), pid: pid)
  }

  /// `0.0.0.0:135`, `[::]:445`, `[fe80::1%12]:2869`.
  static func endpoint(_ text: Substring) -> Endpoint? {
    if text.hasPrefix("[") {
      guard let close = text.firstIndex(of: "]"),
        let address = IPAddress(text[text.index(after: text.startIndex)..<close]),
        text[text.index(after: close)...].hasPrefix(":"), let port = UInt16(text[text.index(close, offsetBy: 2)...])
      else { return nil }
      return Endpoint(address: address, port: port)
    }
    guard let colon = text.lastIndex(of: ":"), let address = IPAddress(text[..<colon]),
      let port = UInt16(text[text.index(after: colon)...])
    else { return nil }
    return Endpoint(address: address, port: port)
  }

  static func isBound(_ word: String) -> Bool {
    ["BOUND", "GEBUNDEN"].contains(word.uppercased())
  }

  /// English and German state words; `nil` for others.
  static func tcpState(_ word: String) -> SocketState? {
    switch word.uppercased() {
    case "LISTENING", "ABHÖREN": .listen
    case "ESTABLISHED", "HERGESTELLT": .established
    case "TIME_WAIT", "WARTEND": .timeWait
    case "CLOSE_WAIT", "SCHLIESSEN_WARTEN": .closeWait
    case "SYN_SENT", "SYN_GESENDET": .synSent
    case "SYN_RECEIVED", "SYN_EMPFANGEN": .synReceived
    case "FIN_WAIT_1", "FIN_WARTEN_1": .finWait1
    case "FIN_WAIT_2", "FIN_WARTEN_2": .finWait2
    case "LAST_ACK", "LETZTES_ACK": .lastAck
    case "CLOSING", "SCHLIESSEN": .closing
    case "CLOSED", "GESCHLOSSEN": .close
    default: nil
    }
  }
}

/// Parses `tasklist /FO CSV /NH` (image name, PID, session name, session #, memory) and
/// `tasklist /SVC /FO CSV /NH` (image name, PID, services), quoted CSV in any language.
enum TasklistParser {
  struct Row: Hashable, Sendable {
    var name: String
    var pid: PID
    /// The session name (`Services`, `Console`); `nil` from `/SVC`.
    var session: String?
    /// Hosted services (`/SVC`); empty when tasklist shows its "N/A", in any language.
    var services: [String]
  }

  /// Rows of either form.
  static func parse(_ bytes: [UInt8], services: Bool = false) -> [Row] {
    let rows = WindowsText.lines(WindowsText.decode(bytes)).compactMap { line -> (fields: [String], pid: PID)? in
      let fields = csv(line)
      guard fields.count >= 2, let pid = PID(fields[1]), pid >= 0, !fields[0].isEmpty else { return nil }
      return (fields, pid)
    }
    guard services else {
      return rows.map {
        Row(name: $0.fields[0], pid: $0.pid, session: $0.fields.count > 2 ? $0.fields[2] : nil, services: [])
      }
    }
    // `/SVC` prints a localised "N/A" for a process that hosts no service ("Nicht zutreffend"
    // in German). The System Idle Process (pid 0) and System (pid 4) never host one, so what
    // they show is that word in this machine's language, whatever the language is.
    var none = noServiceWords
    for row in rows where isNeverAService(row.pid) && row.fields.count > 2 { none.insert(row.fields[2]) }
    return rows.map { row in
      let field = row.fields.count > 2 ? row.fields[2] : ""
      let list =
        isNeverAService(row.pid) || none.contains(field)
        ? [] : field.split(separator: ",").map(String.init).filter(isServiceName)
      return Row(name: row.fields[0], pid: row.pid, session: nil, services: list)
    }
  }

  /// How `tasklist /SVC` says "no services" where no pid 0 or 4 row shows it: English `N/A`
  /// and German `Nicht zutreffend`. (`N/D` and other spellings with a slash are never a
  /// service name anyway.)
  static let noServiceWords: Set<String> = ["N/A", "Nicht zutreffend"]

  /// The System Idle Process and System, which host no service.
  private static func isNeverAService(_ pid: PID) -> Bool { pid == 0 || pid == 4 }

  /// A service key name as the service control manager accepts it: 1 to 256 characters,
  /// no `/` or `\`, and no control characters.
  static func isServiceName(_ name: String) -> Bool {
    !name.isEmpty && name.count <= 256
      && name.unicodeScalars.allSatisfy {
        $0 != "/" && $0 != "\\" && $0.value >= 0x20 && !(0x7F...0x9F).contains($0.value)
      }
  }

  /// Splits one CSV line: quoted fields may hold commas, `""` is a quote.
  static func csv(_ line: Substring) -> [String] {
    var fields: [String] = []
    var current = ""
    var quoted = false
    var iterator = line.makeIterator()
    var pending: Character? = nil
    while let character = pending ?? iterator.next() {
      pending = nil
      if quoted {
        if character == "\"" {
          if let next = iterator.next() {
            if next == "\"" {
              current.append("\"")
            } else {
              quoted = false
              pending = next
            }
          } else {
            quoted = false
          }
        } else {
          current.append(character)
        }
      } else if character == "\"" {
        quoted = true
      } else if character == "," {
        fields.append(current)
        current = ""
      } else {
        current.append(character)
      }
    }
    fields.append(current)
    return fields
  }
}

/// Parses `netsh interface ipv4|ipv6 show excludedportrange protocol=tcp|udp` and
/// `netsh interface ipv4 show dynamicport tcp|udp`, by structure, in any language.
enum NetshParser {
  /// Rows of two numbers, optionally followed by `*` (an administered exclusion).
  static func excludedRanges(_ bytes: [UInt8]) -> [PortRange] {
    WindowsText.lines(WindowsText.decode(bytes)).compactMap { line in
      let fields = WindowsText.fields(line)
      guard fields.count == 2 || (fields.count == 3 && fields[2] == "*"),
        let start = UInt16(fields[0]), let end = UInt16(fields[1]), start <= end, start > 0
      else { return nil }
      return PortRange(ports: start...end, administered: fields.count == 3)
    }
  }

  /// The first two `label : number` lines: start port and number of ports.
  static func dynamicRange(_ bytes: [UInt8]) -> ClosedRange<UInt16>? {
    let numbers = WindowsText.lines(WindowsText.decode(bytes)).compactMap { line -> Int? in
      guard let colon = line.lastIndex(of: ":") else { return nil }
      return Int(line[line.index(after: colon)...].trimmingSpaces())
    }
    guard numbers.count >= 2, numbers[0] >= 1, numbers[1] >= 1, numbers[0] + numbers[1] - 1 <= 65535 else { return nil }
    return UInt16(numbers[0])...UInt16(numbers[0] + numbers[1] - 1)
  }
}
