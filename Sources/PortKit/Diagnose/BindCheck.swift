/// What `check` decides for one protocol, port and address.
public struct BindCheck: Hashable, Sendable {
  /// The protocol checked.
  public var proto: TransportProtocol
  /// The port checked.
  public var port: UInt16
  /// The asked address; `nil` means the addresses a typical server binds (0.0.0.0 and [::]).
  public var address: IPAddress?
  /// A real bind works on every address (TCP: with SO_REUSEADDR, as servers do).
  public var bindable: Bool
  /// Each probed address and what its bind said; empty when not probed.
  public var binds: [IPAddress: BindOutcome]
  /// TCP: a bind without SO_REUSEADDR works too (false while TIME_WAIT lingers).
  public var plainBindable: Bool?
  /// Why not, when not bindable.
  public var reasons: [BindReason]
  /// Worth knowing either way.
  public var notes: [BindReason]

  /// The addresses probed for `address`.
  public static func addresses(for address: IPAddress?) -> [IPAddress] {
    address.map { [$0] } ?? [.anyV4, .anyV6]
  }

  /// Diagnoses one target from a probe result (`nil`: no bind probe on this platform),
  /// the sockets on the port (all states), privileges and reservations; `server` says how
  /// the server being judged binds, when that differs from a typical server.
  public static func diagnose(
    proto: TransportProtocol, port: UInt16, address: IPAddress?, probe: BindProbe.Result?, report: PortReport,
    privileges: BindPrivileges, reservations: PortReservations, server: ServerBind = .typical,
    platform: HostPlatform = .current
  ) -> BindCheck {
    let asked = addresses(for: address)
    var reasons: [BindReason] = []
    var notes: [BindReason] = []
    let onPort = report.sockets.filter { $0.socket.proto == proto && $0.socket.local.port == port }
    // An IPv4 socket collides with `[::]` only when `[::]` is bound dual-stack.
    let v6OnlyWildcard = probe.map { !$0.dualStack } ?? false
    let colliding = onPort.filter { entry in
      asked.contains { asked in
        if asked == .anyV6, v6OnlyWildcard, entry.socket.local.address.ipv4Equivalent != nil { return false }
        return entry.socket.blocksBind(of: asked)
      }
    }
    // Listeners hold a port; connections a process keeps on it count only when no listener does.
    let listeners = colliding.filter { $0.owner.holdsPort && $0.socket.isListener }
    let holding = listeners.isEmpty ? colliding.filter { $0.owner.holdsPort } : listeners
    let lingering = colliding.filter { !$0.owner.holdsPort }.map(\.socket)

    var bindable: Bool
    // The server is refused where portctl is not: a plain bind, or no privilege.
    var plainBlocked = false
    var unprivilegedBlocked = false
    if let probe {
      // An address that does not exist here only matters when it was asked for.
      bindable =
        probe.outcomes.allSatisfy { key, outcome in
          outcome == .bindable || (address == nil && (outcome == .addressUnavailable || outcome == .familyUnsupported))
        } && probe.outcomes.values.contains(.bindable)
      if bindable, !server.reuseAddress, proto == .tcp, !probe.plainBindable {
        bindable = false
        plainBlocked = true
      }
      if server.unprivileged, privileges.isPrivileged(port), !probe.outcomes.values.contains(.permissionDenied) {
        bindable = false
        unprivilegedBlocked = true
      }
      // BSD lets the probe's wildcard bind succeed beside a specific listener of the same
      // user; that listener still takes its address's connections, so the port is not free.
      if bindable, platform.bindSemantics.probeNeedsTable, !listeners.isEmpty {
        bindable = false
      }
    } else {
      bindable = holding.isEmpty && reservations.exclusion(containing: port) == nil
      notes.append(
        BindReason(
          .unprobed,
          "not probed with a real bind (none is made on this platform, or on another host over --host); decided from the socket table"
        ))
    }

    if !bindable {
      for entry in holding {
        reasons.append(
          reason(for: entry, asked: address, proto: proto, port: port, dualStack: probe?.dualStack ?? true))
      }
      let outcomes = probe?.outcomes ?? [:]
      if outcomes.values.contains(.permissionDenied) || unprivilegedBlocked
        || (probe == nil && reservations.exclusion(containing: port) != nil)
      {
        if let range = reservations.exclusion(containing: port) {
          let hit = ExcludedPortHit(
            proto: proto, spec: PortSpec(ports: port...port, proto: proto, text: "\(port)"), range: range)
          reasons.append(BindReason(.excludedRange, hit.advice))
        } else if unprivilegedBlocked {
          let start = privileges.unprivilegedPortStart ?? 1024
          reasons.append(
            BindReason(
              .privileged,
              "\(port) is a privileged port (below net.ipv4.ip_unprivileged_port_start = \(start)) and the server that failed has neither root nor CAP_NET_BIND_SERVICE (it got EACCES; portctl itself may bind it, which proves nothing about the server): run it as root and drop privileges, grant it the capability (setcap cap_net_bind_service=+ep /path/to/server), lower the limit (sysctl net.ipv4.ip_unprivileged_port_start=\(port)), or use a port from \(start) up"
            ))
        } else if privileges.blocks(port) {
          let start = privileges.unprivilegedPortStart ?? 1024
          reasons.append(
            BindReason(
              .privileged,
              "\(port) is a privileged port (below net.ipv4.ip_unprivileged_port_start = \(start)) and this process has neither root nor CAP_NET_BIND_SERVICE: run the server as root and drop privileges, grant it the capability (setcap cap_net_bind_service=+ep /path/to/server), lower the limit (sysctl net.ipv4.ip_unprivileged_port_start=\(port)), or use a port from \(start) up"
            ))
        } else if platform == .windows {
          reasons.append(
            BindReason(
              .permissionDenied,
              "the bind was refused (WSAEACCES 10013) although the port is in no excluded range netsh showed: a range reserved since (netsh int ipv4 show excludedportrange protocol=\(proto.rawValue)), or a firewall or security product"
            ))
        } else {
          reasons.append(
            BindReason(
              .permissionDenied,
              "the bind was refused (EACCES) by a security policy (SELinux, AppArmor, a firewall driver)"))
        }
      }
      if outcomes.values.contains(.addressUnavailable), let address {
        reasons.append(
          BindReason(
            .addressUnavailable,
            "\(address) is not an address of this machine (EADDRNOTAVAIL): bind 0.0.0.0 or [::], or an address ip addr shows"
          ))
      }
      if let address, outcomes[address] == .familyUnsupported {
        reasons.append(
          BindReason(
            .addressUnavailable,
            "this host has no IPv6 (IPv6 sockets are unsupported, disabled, or no interface has an IPv6 address), so \(Endpoint(address: address, port: port)) is not applicable here: bind 0.0.0.0:\(port) or an IPv4 address"
          ))
      }
      if holding.isEmpty, !lingering.isEmpty, outcomes.values.contains(.inUse) || plainBlocked {
        reasons.append(timeWaitReason(lingering, reuseBinds: false, plainServer: plainBlocked))
      }
      if reasons.isEmpty {
        reasons.append(
          BindReason(
            .unexplained,
            "the bind fails (\(outcomes.values.map(describe).sorted().first ?? "unknown")) and no visible socket explains it; run with sudo to see every process"
          ))
      }
    } else if let probe, probe.plainBindable == false, !lingering.isEmpty {
      notes.append(timeWaitReason(lingering, reuseBinds: true))
    }
    if !bindable, address == .anyV6, let probe, probe.dualStack, probe.v6OnlyBindable == true {
      notes.append(
        BindReason(
          .v6OnlyBindable,
          "a server that sets IPV6_V6ONLY (IPv6 only, leaving IPv4 to others) could bind [::]:\(port) now; the default dual-stack bind cannot"
        ))
    }

    if privileges.isPrivileged(port), !privileges.blocks(port), !unprivilegedBlocked {
      notes.append(
        BindReason(
          .privilegedAllowed,
          "\(port) is privileged (below \(privileges.unprivilegedPortStart ?? 1024)); this process may bind it (\(privileges.reason ?? "allowed")), an unprivileged server may not"
        ))
    }
    if let ephemeral = reservations.ephemeral, ephemeral.contains(port),
      !reservations.reservedForExplicitBinds.contains(where: { $0.ports.contains(port) })
    {
      notes.append(
        BindReason(
          .ephemeralRange,
          "\(port) is in the ephemeral range \(ephemeral.lowerBound)-\(ephemeral.upperBound): outgoing connections may take it at any moment; a server is safer outside it"
        ))
    }
    if reservations.reservedForExplicitBinds.contains(where: { $0.ports.contains(port) }) {
      notes.append(
        BindReason(
          .reservedPort,
          "\(port) is in net.ipv4.ip_local_reserved_ports: never handed out as an ephemeral port, so a server can count on it"
        ))
    }
    if let service = WellKnownPorts.name(port, proto: proto, platform: platform) {
      notes.append(BindReason(.wellKnown, "\(port) is the usual port of \(service)"))
    }
    return BindCheck(
      proto: proto, port: port, address: address, bindable: bindable, binds: probe?.outcomes ?? [:],
      plainBindable: probe.map(\.plainBindable), reasons: reasons, notes: notes)
  }

  static func reason(
    for entry: SocketReport, asked: IPAddress?, proto: TransportProtocol, port: UInt16, dualStack: Bool = true
  ) -> BindReason {
    let socket = entry.socket
    let holders = entry.owner.holders.map(\.process)
    let who: String
    switch entry.owner {
    case .processes:
      who = holders.map { "\($0.name) (pid \($0.pid))" }.joined(separator: ", ")
    case .hidden(let hidden):
      return BindReason(
        .heldHidden, "\(proto.rawValue) \(socket.local) is held by \(hidden.ownerDescription); \(hidden.advice)")
    case .kernel:
      return BindReason(
        .heldByKernel, "\(proto.rawValue) \(socket.local) is held by the kernel (an in-kernel server such as nfsd)")
    case .none:
      who = "no process"
    }
    let pids = holders.map(\.pid)
    let overlap = asked.map { $0 != socket.local.address } ?? false
    // A connection a process keeps on the port (a forked child's accepted socket) blocks a
    // plain bind, and any bind when it was made without SO_REUSEADDR.
    let subject =
      socket.isListener
      ? "\(proto.rawValue) \(socket.local)"
      : "a \(proto.rawValue) connection on \(socket.local) (\(socket.state.rawValue)\(socket.remote.map { " with \($0)" } ?? ""))"
    let remedy: BindReason.Remedy = socket.isListener ? .stopHolders(port: port) : .endConnections(port: port)
    guard overlap, let asked else {
      return BindReason(.held, "\(subject) is held by \(who)", pids: pids, remedy: remedy)
    }
    let askedText = Endpoint(address: asked, port: port).description
    let explanation: String
    if asked == .anyV6, socket.local.address.ipv4Equivalent != nil, dualStack {
      explanation =
        "a bind on [::]:\(port) is dual-stack here (IPV6_V6ONLY off, the default with net.ipv6.bindv6only = 0, as Node, Python and Java servers bind it), so it needs the port on every IPv4 address too, and \(subject) (IPv4) has it"
    } else if socket.local.address == .anyV6, asked.ipv4Equivalent != nil {
      explanation =
        "[::]:\(port) is a dual-stack listener (IPV6_V6ONLY off), so it also holds every IPv4 address: a bind on \(askedText) collides with it"
    } else if socket.local.address.isWildcard {
      explanation =
        "\(socket.local) listens on every \(socket.family == .ipv4 ? "IPv4" : "IPv6") address, \(asked) included"
    } else if asked.isWildcard {
      explanation =
        "a wildcard bind on \(askedText) needs the port on every address, and \(socket.local) already has it on one; bind a specific address instead, such as \(socket.family == .ipv4 ? "[::1]" : "127.0.0.1"):\(port) if the holder leaves that family free"
    } else {
      explanation = "\(socket.local) overlaps \(askedText)"
    }
    return BindReason(.addressOverlap, "\(explanation); it is held by \(who)", pids: pids, remedy: remedy)
  }

  static func timeWaitReason(_ lingering: [SocketEntry], reuseBinds: Bool, plainServer: Bool = false) -> BindReason {
    let states = Set(lingering.map(\.state.rawValue)).sorted().joined(separator: ", ")
    let one = lingering.count == 1
    let (they, close, them) = one ? ("it", "closes", "it") : ("they", "close", "them")
    let left =
      lingering.compactMap(\.timer?.remainingSeconds).max().map {
        "; \(they) \(close) within \(Int($0.rounded(.up))) s"
      }
      ?? ""
    let what =
      plainServer
      ? "the server that failed binds without SO_REUSEADDR, so it cannot bind until \(they) \(close) (a server that sets SO_REUSEADDR could bind now; for socat add reuseaddr: TCP-LISTEN:PORT,reuseaddr)"
      : reuseBinds
        ? "a server that sets SO_REUSEADDR (most do) can bind now; a plain bind fails until \(they) \(close)"
        : "the server that left \(them) did not set SO_REUSEADDR, so every bind fails until \(they) \(close); servers that set SO_REUSEADDR avoid this"
    return BindReason(
      .timeWait,
      lingering.count == 1
        ? "only 1 \(states) socket remains on the port, owned by no process: \(what)\(left)"
        : "only \(lingering.count) \(states) sockets remain on the port, owned by no process: \(what)\(left)")
  }

  static func describe(_ outcome: BindOutcome) -> String {
    switch outcome {
    case .bindable: "bindable"
    case .inUse: "EADDRINUSE"
    case .permissionDenied: "EACCES"
    case .addressUnavailable: "EADDRNOTAVAIL"
    case .familyUnsupported: "EAFNOSUPPORT"
    case .failed(let errno): "errno \(errno)"
    }
  }
}

/// The usual ports of well-known services and development servers.
enum WellKnownPorts {
  /// Development-server defaults: worth a note, but a fine choice for another dev server.
  static let developmentPorts: Set<UInt16> = [3000, 4200, 5173, 8000, 8080]

  /// A service's port on any platform (not a development default): `find` passes over these.
  static func isServicePort(_ port: UInt16, proto: TransportProtocol) -> Bool {
    HostPlatform.allCases.contains { name(port, proto: proto, platform: $0) != nil } && !developmentPorts.contains(port)
  }

  /// The usual service on `port` as `platform` knows it: notes about HTTP.sys are for
  /// Windows, the AirPlay Receiver is for macOS.
  static func name(_ port: UInt16, proto: TransportProtocol, platform: HostPlatform = .current) -> String? {
    let windows = platform == .windows
    let macOS = platform == .macOS
    switch (port, proto) {
    case (22, .tcp): return "SSH"
    case (53, _): return "DNS"
    case (80, .tcp):
      return windows ? "HTTP (on Windows often HTTP.sys for IIS or another service, under PID 4)" : "HTTP"
    case (443, .tcp):
      return windows ? "HTTPS (on Windows often HTTP.sys for IIS or another service, under PID 4)" : "HTTPS"
    case (5000, .tcp):
      return macOS
        ? "Flask and ASP.NET development servers, and the macOS AirPlay Receiver (ControlCenter)"
        : "Flask and ASP.NET development servers"
    case (7000, .tcp): return macOS ? "the macOS AirPlay Receiver (ControlCenter)" : nil
    default: return commonName(port, proto: proto)
    }
  }

  static func commonName(_ port: UInt16, proto: TransportProtocol) -> String? {
    switch (port, proto) {
    case (1433, .tcp): "SQL Server"
    case (3000, .tcp): "Node, Rails and Grafana development servers"
    case (3306, .tcp): "MySQL and MariaDB"
    case (4200, .tcp): "the Angular development server"
    case (5173, .tcp): "the Vite development server"
    case (5353, .udp): "mDNS (Bonjour, Avahi)"
    case (5432, .tcp): "PostgreSQL"
    case (5672, .tcp): "RabbitMQ"
    case (6379, .tcp): "Redis"
    case (8000, .tcp): "Django and other development servers"
    case (8080, .tcp): "HTTP alternates (Tomcat, proxies, development servers)"
    case (9200, .tcp): "Elasticsearch"
    case (11211, _): "memcached"
    case (27017, .tcp): "MongoDB"
    default: nil
    }
  }
}
