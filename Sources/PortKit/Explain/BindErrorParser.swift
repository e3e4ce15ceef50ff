/// A bind failure read from a program's error output.
public struct BindFailure: Hashable, Sendable {
  public enum Kind: String, Hashable, Sendable {
    /// EADDRINUSE, WSAEADDRINUSE 10048, "port is already allocated", "Port N is in use".
    case addressInUse = "address-in-use"
    /// EACCES: a privileged port, or a security policy.
    case permissionDenied = "permission-denied"
    /// WSAEACCES 10013: on Windows usually an excluded port range (Hyper-V, WinNAT, WSL2).
    case accessForbidden = "access-forbidden"
    /// EADDRNOTAVAIL: the address is not on this machine.
    case addressNotAvailable = "address-not-available"
  }

  public var kind: Kind
  /// The program or framework that printed it: `Node.js`, `Python`, `nginx`, …
  public var runtime: String
  /// The error's own name: `EADDRINUSE`, `WSAEACCES 10013`, …
  public var errorName: String
  public var port: UInt16?
  /// The address it tried, when the message gives one as an IP.
  public var address: IPAddress?
  /// A host name it tried (`localhost`), when the message gives a name rather than an IP.
  public var host: String?
  public var proto: TransportProtocol?
}

/// Recognises bind failures as real programs print them. Plain text matching, tested on
/// messages captured from the programs themselves.
public enum BindErrorParser {
  public static func parse(_ text: String) -> BindFailure? {
    let lower = text.lowercased()
    guard let (kind, errorName) = kind(lower) else { return nil }
    let (address, host, port) = endpoint(text)
    return BindFailure(
      kind: kind, runtime: runtime(lower), errorName: errorName, port: port, address: address, host: host,
      proto: proto(lower))
  }

  static func kind(_ lower: String) -> (BindFailure.Kind, String)? {
    if lower.contains("forbidden by its access permissions") || lower.contains("10013") {
      return (.accessForbidden, "WSAEACCES 10013")
    }
    let notAvailable = [
      "eaddrnotavail", "cannot assign requested address", "can't assign requested address", "errno 99]", "errno 49]",
      "address not available", "10049",
    ]
    if notAvailable.contains(where: lower.contains) { return (.addressNotAvailable, "EADDRNOTAVAIL") }
    if lower.contains("10048") || lower.contains("only one usage of each socket address") {
      return (.addressInUse, "WSAEADDRINUSE 10048")
    }
    let inUse = [
      "eaddrinuse", "address already in use", "errno 98]", "errno 48]", "port is already allocated",
      "port is already in use", "was already in use", "is already in use", "is in use", "addrinuse", "os error 98",
      "os error 48", "(98: address", "(48: address",
    ]
    if inUse.contains(where: lower.contains) { return (.addressInUse, "EADDRINUSE") }
    if ["eacces", "permission denied", "errno 13]"].contains(where: lower.contains) {
      return (.permissionDenied, "EACCES")
    }
    return nil
  }

  /// The first marker found names the program; frameworks before the languages they run on.
  static let runtimes: [(String, [String])] = [
    ("Docker", ["error response from daemon", "port is already allocated", "ports are not available"]),
    ("Spring Boot", ["web server failed to start"]),
    ("ASP.NET Core (Kestrel)", ["failed to bind to address", "aspnetcore"]),
    (".NET", ["system.net.sockets.socketexception"]),
    ("Vapor", ["[ notice ] server starting on", "vapor"]),
    ("Hummingbird", ["hummingbird"]),
    ("SwiftNIO", ["bind(descriptor:ptr:bytes:)"]),
    ("Next.js", ["next.js"]),
    ("Vite", ["vite", "error when starting dev server"]),
    ("uvicorn", ["error while attempting to bind on address", "uvicorn"]),
    ("Django", ["that port is already in use", "django"]),
    ("Flask", ["is in use by another program", "flask"]),
    ("Puma (Rails)", ["puma"]),
    ("Ruby", ["errno::eaddrinuse", "errno::eacces", "errno::eaddrnotavail", "bind(2) for"]),
    ("Node.js", ["listen eaddrinuse", "listen eacces", "listen eaddrnotavail", "node:events", "node:net"]),
    ("Go", ["listen tcp", "listen udp"]),
    ("Java", ["java.net.bindexception", "java.net."]),
    ("Rust", ["kind: addrinuse", "os error", "panicked at"]),
    ("nginx", ["nginx:", "[emerg] bind()"]),
    ("Apache httpd", ["ah00072", "make_sock"]),
    ("Redis", ["could not create server tcp listening socket", "redis"]),
    ("PostgreSQL", ["postmaster", "could not bind ipv4 address", "could not bind ipv6 address"]),
    ("MySQL", ["mysqld", "bind on tcp/ip port"]),
    ("socat", ["socat["]),
    ("Python", ["oserror", "permissionerror", "[errno", "[winerror", "traceback (most recent call last)"]),
  ]

  static func runtime(_ lower: String) -> String {
    runtimes.first { $0.1.contains(where: lower.contains) }?.0 ?? "a program"
  }

  static func proto(_ lower: String) -> TransportProtocol? {
    if lower.contains("listen udp") || lower.contains("(udp)") || lower.contains("port udp") { return .udp }
    if lower.contains("listen tcp") || lower.contains("(tcp)") || lower.contains("port tcp") || lower.contains("tcp/ip")
    {
      return .tcp
    }
    return nil
  }

  /// Address and port, by the patterns programs print, most specific first.
  static func endpoint(_ text: String) -> (IPAddress?, String?, UInt16?) {
    // Node: "address already in use :::3000", "permission denied 0.0.0.0:80".
    if let match = text.firstMatch(of: #/(?:already in use|permission denied|address not available) (\S+):(\d+)/#) {
      return resolved(String(match.1), String(match.2))
    }
    // Go: "listen tcp 127.0.0.1:8080: bind", "listen udp :53: bind".
    if let match = text.firstMatch(of: #/listen (?:tcp|udp)[46]? (\S*):(\d+):/#) {
      return resolved(String(match.1), String(match.2))
    }
    // Ruby: bind(2) for "0.0.0.0" port 3000.
    if let match = text.firstMatch(of: #/bind\(2\) for "([^"]*)" port (\d+)/#) {
      return resolved(String(match.1), String(match.2))
    }
    // uvicorn: ('127.0.0.1', 8000).
    if let match = text.firstMatch(of: #/\('([^']*)', (\d+)\)/#) {
      return resolved(String(match.1), String(match.2))
    }
    // nginx, Apache, Docker, socat, Redis: an endpoint after the words that introduce it.
    if let match = text.firstMatch(
      of:
        #/(?:bind\(\) to|bind to address|Bind for|exposing port (?:TCP|UDP)|listening socket|AF=\d+) (\[[^\]]+\]|[^\s:]*):(\d+)/#
    ) {
      return resolved(String(match.1), String(match.2))
    }
    // URLs: Kestrel, Vapor, Django.
    if let match = text.firstMatch(of: #/https?://(\[[^\]]+\]|[^/:\s]+):(\d+)/#) {
      return resolved(String(match.1), String(match.2))
    }
    // "port 5432", "Port 8080 was", "port: 3306".
    var address: IPAddress?
    if let match = text.firstMatch(of: #/address "([^"]+)"/#) { address = IPAddress(match.1) }
    if let match = text.firstMatch(of: #/[Pp]ort:? (\d+)/#), let port = UInt16(match.1), port > 0 {
      return (address, nil, port)
    }
    // Anything that looks like ADDRESS:PORT.
    if let match = text.firstMatch(of: #/(\[[0-9A-Fa-f:.%]+\]|\d+\.\d+\.\d+\.\d+|\*):(\d+)\b/#) {
      return resolved(String(match.1), String(match.2))
    }
    return (nil, nil, nil)
  }

  static func resolved(_ host: String, _ port: String) -> (IPAddress?, String?, UInt16?) {
    let number = UInt16(port).flatMap { $0 > 0 ? $0 : nil }
    var name = host
    if name.hasPrefix("["), name.hasSuffix("]") { name = String(name.dropFirst().dropLast()) }
    if name.isEmpty || name == "*" { return (nil, nil, number) }
    if let address = IPAddress(name) { return (address, nil, number) }
    return (nil, name, number)
  }
}
