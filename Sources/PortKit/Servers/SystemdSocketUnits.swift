/// One listener of a systemd socket unit, as `systemctl list-sockets` shows it.
struct SystemdSocketUnit: Hashable, Sendable {
  /// What it listens on, as shown: `[::]:22`, `0.0.0.0:631`, `127.0.0.1:8080`, a path,
  /// `route 1361`.
  var listen: String
  /// The socket unit: `ssh.socket`.
  var unit: String
  /// The units it activates: `ssh.service`; empty when none is shown (`Accept=yes`).
  var activates: [String]

  /// The port of an `address:port` listener; `nil` for paths and netlink listeners.
  var port: UInt16? {
    guard !listen.hasPrefix("/"), !listen.hasPrefix("@"), let colon = listen.lastIndex(of: ":") else {
      return UInt16(listen)
    }
    return UInt16(listen[listen.index(after: colon)...])
  }

  /// The address of an `address:port` listener, brackets removed; `nil` when there is none.
  var address: IPAddress? {
    guard port != nil, let colon = listen.lastIndex(of: ":") else { return nil }
    var host = listen[..<colon]
    if host.hasPrefix("["), host.hasSuffix("]") { host = host.dropFirst().dropLast() }
    return IPAddress(host)
  }

  /// True when it listens on `endpoint`: the same port, and the same address or a wildcard
  /// (`[::]` covers IPv4 too, as a dual-stack socket).
  func covers(_ endpoint: Endpoint) -> Bool {
    guard let port, port == endpoint.port else { return false }
    guard let address else { return true }
    return address.isWildcard || address == endpoint.address
  }

  /// `name.service` for `name.socket`: what systemd activates when the unit names none.
  var defaultService: String {
    (unit.hasSuffix(".socket") ? String(unit.dropLast(7)) : unit) + ".service"
  }

  /// True when the unit starts `service`: it is listed, or (nothing listed) it is the
  /// default service or an instance of `name@.service` (`Accept=yes`).
  func activates(_ service: String) -> Bool {
    if activates.contains(service) { return true }
    guard activates.isEmpty else { return false }
    let stem = unit.hasSuffix(".socket") ? String(unit.dropLast(7)) : unit
    return service == defaultService || (service.hasPrefix(stem + "@") && service.hasSuffix(".service"))
  }

  /// The rows of `systemctl list-sockets --all --full --no-legend --no-pager`: `LISTEN UNIT
  /// ACTIVATES…`, columns separated by blanks; LISTEN may itself contain a blank (`route
  /// 1361`), so a row is split at its first word ending in `.socket`. A header row, blank rows
  /// and rows without a `.socket` word are skipped.
  static func parse(_ text: String) -> [SystemdSocketUnit] {
    var units: [SystemdSocketUnit] = []
    for line in text.split(whereSeparator: \.isNewline) {
      let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
      guard let index = words.firstIndex(where: { $0.hasSuffix(".socket") }), index > 0 else { continue }
      let activates = words[(index + 1)...].flatMap { $0.split(separator: ",").map(String.init) }.filter {
        !$0.isEmpty
      }
      units.append(
        SystemdSocketUnit(
          listen: words[..<index].joined(separator: " "), unit: words[index], activates: activates))
    }
    return units
  }
}
