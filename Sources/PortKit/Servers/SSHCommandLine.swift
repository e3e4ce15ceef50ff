/// An `ssh` client's command line read the way `ssh` reads it: flags combined or apart
/// (`-NfL8080:h:80`, `-N -L 8080:h:80`), flags after the destination, `-o LocalForward=…`, and
/// the first word after the destination starting the remote command.
struct SSHCommandLine: Hashable, Sendable {
  /// The port forwards it asks for, in command-line order.
  var forwards: [SSHForward]
  /// The destination (`host`, `user@host`, `ssh://…`), when given.
  var destination: String?
  /// The `-p` port, when given.
  var port: String?

  /// The flags of OpenSSH's `ssh` that take a value (its getopt string
  /// `1246ab:c:e:fgi:kl:m:no:p:qstvxAB:CD:E:F:GI:J:KL:MNO:P:Q:R:S:TVw:W:XYy`).
  private static let flagsWithValue: Set<Character> = [
    "b", "c", "e", "i", "l", "m", "o", "p", "B", "D", "E", "F", "I", "J", "L", "O", "P", "Q", "R", "S", "w", "W",
  ]

  /// Reads `arguments` (the words after the program name).
  init(arguments: [String]) {
    var forwards: [SSHForward] = []
    var destination: String?
    var port: String?
    var index = 0
    scan: while index < arguments.count {
      let word = arguments[index]
      index += 1
      if word == "--" {
        if destination == nil, index < arguments.count { destination = arguments[index] }
        break
      }
      guard word.hasPrefix("-"), word.count > 1 else {
        // The first plain word is the destination; ssh reads flags again after it, and the
        // next plain word starts the remote command.
        if destination == nil {
          destination = word
          continue
        }
        break scan
      }
      let letters = Array(word.dropFirst())
      for (position, letter) in letters.enumerated() where Self.flagsWithValue.contains(letter) {
        let attached = String(letters[(position + 1)...])
        var value: String?
        if !attached.isEmpty {
          value = attached
        } else if index < arguments.count {
          value = arguments[index]
          index += 1
        }
        guard let value else { break }
        switch letter {
        case "L": SSHForward(.local, spec: value).map { forwards.append($0) }
        case "R": SSHForward(.remote, spec: value).map { forwards.append($0) }
        case "D": SSHForward(.dynamic, spec: value).map { forwards.append($0) }
        case "p": port = value
        case "o": Self.forward(fromOption: value).map { forwards.append($0) }
        default: break
        }
        break
      }
    }
    self.forwards = forwards
    self.destination = destination
    self.port = port
  }

  /// A forward from `-o LocalForward=[bind:]port host:hostport` (or `RemoteForward`,
  /// `DynamicForward`; `=` or blanks between key and value, the key in any case).
  static func forward(fromOption option: String) -> SSHForward? {
    let trimmed = option.drop { $0 == " " || $0 == "\t" }
    guard let separator = trimmed.firstIndex(where: { $0 == "=" || $0 == " " || $0 == "\t" }) else { return nil }
    let key = trimmed[..<separator].lowercased()
    var value = trimmed[trimmed.index(after: separator)...].drop { $0 == " " || $0 == "\t" || $0 == "=" }
    while let last = value.last, last == " " || last == "\t" { value = value.dropLast() }
    let direction: SSHForward.Direction
    switch key {
    case "localforward": direction = .local
    case "remoteforward": direction = .remote
    case "dynamicforward": direction = .dynamic
    default: return nil
    }
    // `[bind:]port host:hostport`: the listen side and the target are separated by blanks.
    let parts = value.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
    guard (1...2).contains(parts.count) else { return nil }
    return SSHForward(direction, spec: parts.joined(separator: ":"), flag: "-o \(option)")
  }

  /// The forwards whose listening side is `port` on this machine (`-L` and `-D`; `-R`
  /// listens on the remote side).
  func forwards(listeningOn port: UInt16) -> [SSHForward] {
    forwards.filter { $0.direction != .remote && $0.listenPort == port }
  }
}

/// One port forward of an `ssh` client.
struct SSHForward: Hashable, Sendable {
  /// `-L` (local), `-R` (remote) or `-D` (dynamic, SOCKS).
  enum Direction: String, Hashable, Sendable {
    case local = "L"
    case remote = "R"
    case dynamic = "D"
  }

  /// Which way it forwards.
  var direction: Direction
  /// The address it listens on, as written (brackets removed), when given.
  var bindAddress: String?
  /// The port it listens on; `nil` when it listens on a Unix socket path.
  var listenPort: UInt16?
  /// The Unix socket path it listens on, when it does.
  var listenPath: String?
  /// Where connections go: `host:port`, `[v6]:port` or a socket path; `nil` for `-D` and a
  /// dynamic `-R`.
  var target: String?
  /// The flag as written: `-L 8080:h:80`, `-o LocalForward=…`.
  var flag: String

  /// A forward from the value of `-L`, `-R` or `-D`: `[bind_address:]port:host:hostport`,
  /// `[bind_address:]port:remote_socket`, `local_socket:host:hostport`,
  /// `local_socket:remote_socket`, or for `-D` and a dynamic `-R` `[bind_address:]port`. An
  /// IPv6 address is written in brackets. `nil` for anything else.
  init?(_ direction: Direction, spec: String, flag: String? = nil) {
    guard let fields = Self.fields(spec), !fields.isEmpty, fields.count <= 4 else { return nil }
    self.direction = direction
    self.flag = flag ?? "-\(direction.rawValue) \(spec)"
    var listen: String
    switch fields.count {
    case 1:
      guard direction != .local else { return nil }
      listen = fields[0]
    case 2 where direction != .local && !fields[0].contains("/") && UInt16(fields[1]) != nil:
      // `-D bind:port`, or a dynamic `-R bind:port`.
      bindAddress = fields[0]
      listen = fields[1]
    case 2:
      // `socket:socket` or `port:socket`.
      guard direction != .dynamic, fields[1].contains("/") else { return nil }
      listen = fields[0]
      target = fields[1]
    case 3 where fields[2].contains("/"):
      guard direction != .dynamic else { return nil }
      bindAddress = fields[0]
      listen = fields[1]
      target = fields[2]
    case 3:
      guard direction != .dynamic, UInt16(fields[2]) != nil else { return nil }
      listen = fields[0]
      target = Self.hostPort(fields[1], fields[2])
    default:
      guard direction != .dynamic, UInt16(fields[3]) != nil else { return nil }
      bindAddress = fields[0]
      listen = fields[1]
      target = Self.hostPort(fields[2], fields[3])
    }
    if let port = UInt16(listen) {
      listenPort = port
    } else if listen.contains("/"), bindAddress == nil {
      listenPath = listen
    } else {
      return nil
    }
  }

  /// `host:port`, with an IPv6 address in brackets.
  private static func hostPort(_ host: String, _ port: String) -> String {
    host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
  }

  /// The `:`-separated fields of a forward, a field in `[…]` taken whole (brackets
  /// removed); `nil` when a bracket is not closed or not followed by `:`.
  static func fields(_ spec: String) -> [String]? {
    var fields: [String] = []
    var rest = Substring(spec)
    while true {
      if rest.first == "[" {
        guard let close = rest.firstIndex(of: "]") else { return nil }
        fields.append(String(rest[rest.index(after: rest.startIndex)..<close]))
        rest = rest[rest.index(after: close)...]
        if rest.isEmpty { return fields }
        guard rest.first == ":" else { return nil }
        rest = rest.dropFirst()
        continue
      }
      guard let colon = rest.firstIndex(of: ":") else {
        fields.append(String(rest))
        return fields
      }
      fields.append(String(rest[..<colon]))
      rest = rest[rest.index(after: colon)...]
    }
  }

  /// Where it listens: `127.0.0.1:8080`, `[::1]:8080`, `8080`, or the socket path.
  var listenSide: String {
    if let listenPath { return listenPath }
    let port = listenPort.map { "\($0)" } ?? "?"
    guard let bindAddress else { return port }
    return bindAddress.contains(":") ? "[\(bindAddress)]:\(port)" : "\(bindAddress):\(port)"
  }

  /// `local port 8080 to h:80`, `SOCKS proxy on 1080`, `remote port 9000 to localhost:80`.
  var summary: String {
    switch direction {
    case .local: "local \(listenSide) to \(target ?? "?")"
    case .dynamic: "SOCKS proxy on \(listenSide)"
    case .remote: "remote \(listenSide)\(target.map { " to \($0)" } ?? " (SOCKS)")"
    }
  }
}
