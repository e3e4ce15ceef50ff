/// Finds the address and port of a failing bind in a program's output, by the shapes programs
/// print them in, preferring what stands on or next to the line that names the error.
///
/// Every shape yields candidates; the one chosen is the closest to an error line (the same
/// line, then the lines just before it, then just after, then anywhere), then the most
/// specific shape, then the first. So `Port 5173 is in use, trying another one` beats the
/// `http://localhost:5174/` a dev server prints next, and `bind() to 0.0.0.0:80` beats the
/// `FD 9` or a timestamp on the same line.
enum BindEndpoints {
  /// An address, a port, or both, found at one place in the text.
  struct Candidate {
    var host: String?
    var port: UInt16?
    var line: Int
    var position: Int
    /// How specific the shape is: 3 a shape that ties host and port together, 2 a bare
    /// `host:port`, 1 a lone `port N` or a lone address.
    var strength: Int
  }

  /// A shape: a pattern and which of its captures hold the host and the port.
  struct Shape {
    /// Nil only if the pattern does not compile, which a test rules out.
    var regex: Regex<AnyRegexOutput>?
    var host: Int?
    var port: Int?
    var strength: Int
    /// The host is taken only when it looks like one (a digit, a dot or a colon in it, or
    /// `localhost`), so "failed for listen port 22" does not read `listen` as a host.
    var addressLike: Bool

    init(_ pattern: String, host: Int?, port: Int?, strength: Int, addressLike: Bool = false) {
      regex = try? Regex(pattern)
      self.host = host
      self.port = port
      self.strength = strength
      self.addressLike = addressLike
    }
  }

  static let ipv4 = #"\d{1,3}(?:\.\d{1,3}){3}"#
  static let ipv6 = #"(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?:%[0-9A-Za-z]+)?"#
  static let bracketed = #"\[[0-9A-Za-z:.%_-]*\]"#
  /// A port: up to five digits that do not go on as a number, an address or a word.
  static let port = #"(\d{1,5})(?!\d|\.\d|:\d|[A-Za-z_])"#

  // Regex<AnyRegexOutput> is not Sendable; these are immutable and only ever matched.
  nonisolated(unsafe) static let shapes: [Shape] = [
    // Python and Erlang tuples: ('127.0.0.1', 8000), ('::', 45921, 0, 0), ("", 80).
    Shape(#"\(\s*['"]([^'"\s]*)['"]\s*,\s*(\d{1,5})\s*(?:,\s*\d+\s*)*\)"#, host: 1, port: 2, strength: 3),
    // Dovecot: bind(127.0.0.1, 143), listen(127.0.0.1, 143).
    Shape(#"\b(?:bind|listen)\(\s*([0-9A-Fa-f.:]+|\*)\s*,\s*(\d{1,5})\s*\)"#, host: 1, port: 2, strength: 3),
    // DNS servers: 127.0.0.1@5300 (NSD), 127.0.0.1#53 (BIND).
    Shape("(\(ipv4)|\(bracketed)|\(ipv6))[@#]\(port)", host: 1, port: 2, strength: 3),
    // sshd, CherryPy: "port 2222 on 127.0.0.1", "Port 8005 not free on 127.0.0.1.".
    Shape(
      #"(?i)\bport (\d{1,5}) (?:not free )?on ([^\s,;]+?)[.,:;!)]*(?:\s|$)"#, host: 2, port: 1, strength: 3,
      addressLike: true),
    // Ruby, Unbound, ssh, curl, nc, git daemon: for "127.0.0.1" port 80, for nil port 80,
    // for 127.0.0.1 port 53, to host 127.0.0.1 port 22, for host 192.0.2.10 on port 9418.
    Shape(
      #"(?i)\b(?:for|on|to|at|host|address)\s+"?([^\s"',]+?)"?,?\s+(?:on\s+)?port:?\s+'?(\d{1,5})\b"#, host: 1, port: 2,
      strength: 3, addressLike: true),
    // MariaDB and MySQL: IP: '127.0.0.1', port: '3306'.
    Shape(#"(?i)\bIP:\s*'([^']*)',\s*port:\s*'(\d{1,5})'"#, host: 1, port: 2, strength: 3),
    // host:127.0.0.1, port:5555 and host="db", port=5432.
    Shape(
      #"(?i)\bhost\s*[:=]\s*['"]?([^\s'",]+?)['"]?\s*,?\s*port\s*[:=]\s*['"]?(\d{1,5})\b"#, host: 1, port: 2,
      strength: 3),
    // address [localhost] and port [8005].
    Shape(#"(?i)\baddress\s*\[?([^\]\s,]+)\]?,?\s+and\s+port\s*\[?(\d{1,5})\]?"#, host: 1, port: 2, strength: 3),
    // URLs: http://localhost:3000, tcp://0.0.0.0:5000, udp://[::1]:53.
    Shape(#"(?i)\b[a-z][a-z0-9+.-]*://(\[[^\]\s]+\]|[^/:\s'"@\[\]]*)?:(\d{1,5})(?!\d)"#, host: 1, port: 2, strength: 3),
    // Tomcat's connectors: http-nio-127.0.0.1-8080, http-nio-8080, Connector[HTTP/1.1-8080].
    Shape(
      #"(?i)\b(?:https?|ajp)-(?:nio2?|apr|bio)-(?:([0-9A-Za-z.:%]+)-)?(\d{1,5})\b"#, host: 1, port: 2, strength: 3),
    Shape(#"(?i)\bConnector\[(?:HTTP/1\.1|AJP/1\.3|[A-Za-z0-9./]+)-(\d{1,5})\]"#, host: nil, port: 1, strength: 3),
    // Twisted endpoint strings (Daphne): tcp:port=8000:interface=127.0.0.1.
    Shape(#"(?i)\b(?:tcp|udp|ssl)6?:port=(\d{1,5})(?::interface=([^\s:]+))?"#, host: 2, port: 1, strength: 3),
    // Net-SNMP and Twisted-style endpoints: udp:127.0.0.1:161, tcp6:[::1]:161.
    Shape("(?i)\\b(?:tcp|udp)6?:(" + ipv4 + "|" + bracketed + "):" + port, host: 1, port: 2, strength: 3),
    Shape("(?i)\\b(?:tcp|udp)6?:" + port, host: nil, port: 1, strength: 2),
    // Erlang: {ip,{0,0,0,0}},{port,8083} and {127,0,0,1},57701.
    Shape(#"\{ip,\{(\d{1,3},\d{1,3},\d{1,3},\d{1,3})\}\},\{port,(\d{1,5})\}"#, host: 1, port: 2, strength: 3),
    Shape(#"\{(\d{1,3},\d{1,3},\d{1,3},\d{1,3})\},(\d{1,5})\b"#, host: 1, port: 2, strength: 3),
    // A bare host:port: 0.0.0.0:80, [::]:80, :::3000 (Node), ::1:8080, *:80, null:3001, :8080,
    // Java's /127.0.0.1:8080 and 0.0.0.0/0.0.0.0:80, OpenVPN's [AF_INET]127.0.0.1:1194.
    Shape(
      #"(?i)(?:^|[^\w.:%@-])("# + ipv4 + "|" + bracketed + "|" + ipv6
        + #"|\*|localhost|null|nil|any):"# + port, host: 1, port: 2, strength: 2),
    // No host, only a port: "listen tcp :8080", "socket :8080" (not "(command line):1:").
    Shape(#"(?:^|[\s"'(=\[]):"# + port, host: nil, port: 1, strength: 2),
    // BSD style, address.port: 127.0.0.1.1080 (Dante).
    Shape("(?:^|[^\\w.])(" + ipv4 + ")\\.(\\d{1,5})(?![\\d.])", host: 1, port: 2, strength: 2),
    // A quoted or bare port after listen/bind words: listening on '2222', bind to 8080.
    Shape(
      #"(?i)\b(?:listen(?:ing)?|bind(?:ing)?)\s+(?:on|to)\s+(?:port\s+)?['"]?(\d{1,5})['"]?(?![\d.:])"#, host: nil,
      port: 1, strength: 2),
    // A name and a port after the words that introduce an endpoint: "listen tcp db.local:5432".
    Shape(
      #"(?i)\b(?:tcp[46]?|udp[46]?|on|to|at|address|socket|bind)\s+([A-Za-z][A-Za-z0-9.-]*[A-Za-z0-9]):"# + port,
      host: 1, port: 2, strength: 2),
    // Go's %v of local and remote port pairs: "the requested ports: [{8080 80}]".
    Shape(#"(?i)\bports?:?\s*\[\{(\d{1,5}) \d{1,5}\}"#, host: nil, port: 1, strength: 1),
    // A port in words: port 5432, Port 8080 was, port: 3306, port '3306', PORT=3000.
    Shape(#"(?i)\bports?(?:\s+(?:number|to|on))?\s*[:=,]?\s*['"\[(]?"# + port, host: nil, port: 1, strength: 1),
    // An address in words: address "127.0.0.1" (PostgreSQL), interface(s) 127.0.0.1 (memcached),
    // socket for 127.0.0.1 (dnsmasq), bind to 0.0.0.0 (git daemon), IP: '0.0.0.0'.
    Shape(
      #"(?i)\b(?:address|interface\(s\)|socket for|bind to|listen on|ip:)\s*["'\[]?("# + ipv4 + "|" + ipv6
        + #")["'\]]?"#,
      host: 1, port: nil, strength: 1),
    // Any other IP address on its own (not followed by a port).
    Shape("(?:^|[^\\w.:])(" + ipv4 + "|" + bracketed + ")(?!\\d|\\.\\d|:\\d)", host: 1, port: nil, strength: 0),
  ]

  /// The endpoint of the failing bind: its address (an IP, or a name), and its port.
  static func find(in lines: [Substring], anchors: [Int]) -> (address: IPAddress?, host: String?, port: UInt16?) {
    var candidates: [Candidate] = []
    for index in linesToRead(lines.count, anchors: anchors) {
      // A line longer than this is not a message (ErrorExcerpt.focus has cut it already).
      let text = lines[index].prefix(4096)
      // A bind that worked ("bound to TCP address 127.0.0.1:35923") is not the one that failed.
      if successWords.contains(where: text.lowercased().contains) { continue }
      for shape in shapes {
        guard let regex = shape.regex else { continue }
        for match in text.matches(of: regex) {
          let host = shape.host.flatMap { match.output[$0].substring.map(String.init) }.map(erlangAddress)
          let port = shape.port.flatMap { match.output[$0].substring }.flatMap { UInt16($0) }
          if shape.port != nil, port == nil || port == 0 { continue }
          if shape.port == nil, host.flatMap(address(of:)) == nil { continue }
          if shape.addressLike, let host, !looksLikeHost(host) { continue }
          // A colon makes it IPv6 or nothing: "2026:03:48" in a timestamp is not a host.
          if let host, host.contains(":"), meaningful(host).map({ address(of: $0) == nil }) == true { continue }
          let position = text.distance(from: text.startIndex, to: match.range.lowerBound)
          candidates.append(
            Candidate(host: host, port: port, line: index, position: position, strength: shape.strength))
        }
      }
    }
    func rank(_ candidate: Candidate) -> (Int, Int, Int, Int, Int) {
      let distance = anchors.map { abs($0 - candidate.line) }.min() ?? Int.max
      let before = anchors.contains { $0 > candidate.line && $0 - candidate.line == distance }
      let near =
        distance == 0 ? 0 : distance <= 3 ? (before ? 1 : 2) : 3
      return (near, near == 3 ? 0 : distance, -candidate.strength, candidate.line, candidate.position)
    }
    // Far from every error line, only a specific shape (a URL, a tuple) or a line about
    // serving counts ("Listening on 127.0.0.1:8080", "listen tcp 0.0.0.0:2375"), not any
    // socket a log mentions ("mapped to socket 0 (127.0.0.1:35923)").
    candidates.removeAll { candidate in
      guard rank(candidate).0 == 3, candidate.strength < 3 else { return false }
      let line = lines[candidate.line].lowercased()
      return !["listen", "bind", "serv", "start", "running", "port"].contains(where: line.contains)
    }
    let ported = candidates.filter { $0.port != nil }
    let best = ported.min { rank($0) < rank($1) }
    var host = best?.host.flatMap(meaningful)
    // An address on the error line itself says more than a host:port from a line near it
    // (Kamailio lists its aliases, localhost:5060, above `bind(…) on 127.0.0.1: …in use`).
    if let best, rank(best).0 > 0,
      let onLine = candidates.filter({ rank($0).0 == 0 && $0.host.flatMap(meaningful).flatMap(address(of:)) != nil })
        .min(by: { rank($0) < rank($1) })
    {
      host = onLine.host.flatMap(meaningful)
    }
    if host == nil {
      // The address from another shape near the error: `could not bind IPv4 address "0.0.0.0"`
      // with the port on the HINT line.
      let addressed = candidates.filter { $0.host.flatMap(meaningful).flatMap(address(of:)) != nil }
      if let near = addressed.min(by: { rank($0) < rank($1) }), rank(near).0 < 3 || best == nil {
        host = near.host.flatMap(meaningful)
      }
    }
    guard let host else { return (nil, nil, best?.port) }
    if let address = address(of: host) { return (address, nil, best?.port) }
    return (nil, host, best?.port)
  }

  static func looksLikeHost(_ host: String) -> Bool {
    host.contains { $0.isNumber || $0 == ":" }
      || ["localhost", "nil", "null", "*", "any"].contains(host.lowercased())
      || host.wholeMatch(of: #/[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+/#) != nil
  }

  /// Erlang's `127,0,0,1` as `127.0.0.1`; anything else as it is.
  static func erlangAddress(_ host: String) -> String {
    let parts = host.split(separator: ",")
    return parts.count == 4 && parts.allSatisfy({ UInt8($0) != nil }) ? parts.joined(separator: ".") : host
  }

  /// The lines worth matching shapes on: those within `reach` lines of an error line,
  /// nearest first, at most `limit` of them, so a long log costs no more than a short one.
  static func linesToRead(_ count: Int, anchors: [Int], reach: Int = 60, limit: Int = 400) -> [Int] {
    guard !anchors.isEmpty else { return Array(0..<min(count, limit)) }
    var distance = [Int](repeating: Int.max, count: count)
    for anchor in anchors where anchor < count {
      for index in max(0, anchor - reach)...min(count - 1, anchor + reach) {
        distance[index] = min(distance[index], abs(index - anchor))
      }
    }
    let near = distance.indices.filter { distance[$0] != Int.max }
    return near.sorted { (distance[$0], $0) < (distance[$1], $1) }.prefix(limit).sorted()
  }

  static let successWords = ["bound to", "auto-assigned", "successfully"]

  /// `host` without brackets, or nil for the words that mean any address.
  static func meaningful(_ host: String) -> String? {
    var name = host
    if name.hasPrefix("["), name.hasSuffix("]") { name = String(name.dropFirst().dropLast()) }
    let wildcards: Set<String> = ["", "*", "null", "nil", "any", "none", "undefined", "undef"]
    return wildcards.contains(name.lowercased()) ? nil : name
  }

  /// `host` as an IP address, brackets and an IPv6 zone left out.
  static func address(of host: String) -> IPAddress? {
    var name = host
    if name.hasPrefix("["), name.hasSuffix("]") { name = String(name.dropFirst().dropLast()) }
    if let zone = name.firstIndex(of: "%") { name = String(name[..<zone]) }
    return IPAddress(name)
  }
}
