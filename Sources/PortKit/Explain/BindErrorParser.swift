/// A bind failure read from a program's error output.
public struct BindFailure: Hashable, Sendable {
  /// What kind of bind failure it is.
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

  /// What kind of bind failure it is.
  public var kind: Kind
  /// The program or framework that printed it: `Node.js`, `Python`, `nginx`, …
  public var runtime: String
  /// The error's own name: `EADDRINUSE`, `WSAEACCES 10013`, …
  public var errorName: String
  /// The port it tried, when the message names one.
  public var port: UInt16?
  /// The address it tried, when the message gives one as an IP.
  public var address: IPAddress?
  /// A host name it tried (`localhost`), when the message gives a name rather than an IP.
  public var host: String?
  /// The protocol, when the message (or the program that printed it) settles it; `nil`:
  /// unknown, so both are checked.
  public var proto: TransportProtocol?
  /// What failed: a server's bind, or an outgoing connection (`connect EADDRNOTAVAIL`: the
  /// ephemeral ports toward that peer are used up), where the port named is the peer's.
  public var operation: Operation = .bind
  /// Whether the program sets SO_REUSEADDR, when that is known: `false` for socat and a
  /// bare Python `socket.bind` (so TIME_WAIT blocks it), `nil` when unknown (most servers
  /// set it).
  public var reuseAddress: Bool? = nil

  /// What the program was doing when it failed.
  public enum Operation: String, Hashable, Sendable {
    /// A server binding its port (bind or listen).
    case bind
    /// A client connecting out.
    case connect
  }
}

/// Recognises bind failures as real programs print them. Plain text matching, tested on
/// messages captured from the programs themselves.
enum BindErrorParser {
  static func parse(_ text: String) -> BindFailure? {
    let lower = text.lowercased()
    guard let (kind, errorName) = kind(lower) else { return nil }
    let (address, host, port) = endpoint(text)
    let program = runtime(lower)
    return BindFailure(
      kind: kind, runtime: program, errorName: errorName, port: port, address: address, host: host,
      proto: proto(lower, runtime: program), operation: operation(text, lower),
      reuseAddress: reuseAddress(text, program))
  }

  /// Outgoing connections: Node's `connect E…` and `internalConnect`, Go's `dial`, Python's
  /// `create_connection`/`.connect(`, clients that say they could not connect.
  static func operation(_ text: String, _ lower: String) -> BindFailure.Operation {
    let markers = [
      "connect eaddrinuse", "connect eaddrnotavail", "internalconnect", "dial tcp", "dial udp", ": connect: ",
      "in create_connection", "could not connect", "failed to connect", "unable to connect", "connectexception",
      "bindexception: cannot assign requested address: connect", "- local (",
    ]
    if markers.contains(where: lower.contains) { return .connect }
    // Python: the innermost frame's source line is a `.connect(` call.
    if let frame = PythonTraceback(text).innermost, frame.source.contains(".connect(") { return .connect }
    return .bind
  }

  /// Programs known to bind without SO_REUSEADDR: socat (unless given `reuseaddr`, which its
  /// messages do not show) and a Python script calling `socket.bind` itself. Node, Go,
  /// Java, Ruby, Rust, nginx and Python's http.server, asyncio and `socket.create_server` set it.
  static func reuseAddress(_ text: String, _ program: String) -> Bool? {
    if program == "socat" { return false }
    // Python tracebacks (whatever framework printed the last line).
    guard let frame = PythonTraceback(text).innermost else { return nil }
    if frame.file.hasSuffix("socket.py"), frame.function == "create_server" { return true }
    if frame.file.hasSuffix("socketserver.py") {
      // http.server (and so Flask's and Django's development servers) set allow_reuse_address.
      let reusing = ["http/server.py", "wsgiref", "werkzeug", "django"]
      return reusing.contains(where: text.contains) ? true : nil
    }
    let library = ["/asyncio/", "socket.py", "/selectors.py", "site-packages", "dist-packages"]
    if frame.source.contains(".bind("), !library.contains(where: frame.file.contains) { return false }
    return nil
  }

  /// The frames of a Python traceback: `File "F", line N, in FUNC` and the source line under it.
  struct PythonTraceback {
    struct Frame {
      var file: String
      var function: String
      var source: String
    }
    var frames: [Frame] = []

    init(_ text: String) {
      let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
      for (index, line) in lines.enumerated() {
        guard let match = line.firstMatch(of: #/^\s*File "([^"]*)", line \d+, in (\S+)/#) else { continue }
        var source = ""
        if index + 1 < lines.count, !lines[index + 1].contains("File \""),
          lines[index + 1].hasPrefix("    ")
        {
          source = String(lines[index + 1].drop { $0 == " " || $0 == "\t" })
        }
        frames.append(Frame(file: String(match.1), function: String(match.2), source: source))
      }
    }

    var innermost: Frame? { frames.last }
  }

  /// True when `code` stands in `text` as a number of its own (`WinError 10013`,
  /// `(10048)`), not inside another word or number (`file10013.js`, `110048`).
  static func containsCode(_ text: String, _ code: String) -> Bool {
    var rest = text[...]
    while let range = rest.firstRange(of: code) {
      let before = range.lowerBound > text.startIndex ? text[text.index(before: range.lowerBound)] : " "
      let after = range.upperBound < text.endIndex ? text[range.upperBound] : " "
      if !before.isLetter, !before.isNumber, !after.isLetter, !after.isNumber { return true }
      rest = text[range.upperBound...]
    }
    return false
  }

  static func kind(_ lower: String) -> (BindFailure.Kind, String)? {
    if lower.contains("forbidden by its access permissions") || containsCode(lower, "10013") {
      return (.accessForbidden, "WSAEACCES 10013")
    }
    let notAvailable = [
      "eaddrnotavail", "cannot assign requested address", "can't assign requested address", "errno 99]", "errno 49]",
      "address not available",
    ]
    if notAvailable.contains(where: lower.contains) || containsCode(lower, "10049") {
      return (.addressNotAvailable, "EADDRNOTAVAIL")
    }
    if containsCode(lower, "10048") || lower.contains("only one usage of each socket address") {
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
    (
      "Node.js",
      ["listen eaddrinuse", "listen eacces", "listen eaddrnotavail", "node:events", "node:net", "node:dgram"]
    ),
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

  /// UDP markers first (Node's dgram, Java's DatagramSocket, `udp://`, the word UDP), then
  /// TCP ones (Node's `listen`, which is net's, Java's ServerSocket, `tcp://`, HTTP servers),
  /// then programs that only serve TCP; `nil` when the text does not settle it.
  static func proto(_ lower: String, runtime: String) -> TransportProtocol? {
    let udp = [
      "listen udp", "(udp)", "port udp", "node:dgram", "dgram", "datagramsocket", "datagramchannel", "udp://",
      "udp socket", "sock_dgram", "udpsocket",
    ]
    if udp.contains(where: lower.contains) || lower.contains(#/\budp[46]?\b/#) { return .udp }
    let tcp = [
      "listen tcp", "(tcp)", "port tcp", "tcp/ip", "tcp://", "tcp socket", "sock_stream", "serversocket",
      "serversocketchannel", "tcpserver", "tcplistener", "listen eaddrinuse", "listen eacces", "listen eaddrnotavail",
      "http/server.py", "http://", "https://",
    ]
    if tcp.contains(where: lower.contains) || lower.contains(#/\btcp[46]?\b/#) { return .tcp }
    let tcpOnly: Set<String> = [
      "Spring Boot", "ASP.NET Core (Kestrel)", "Vapor", "Hummingbird", "Next.js", "Vite", "uvicorn", "Django", "Flask",
      "Puma (Rails)", "Apache httpd", "Redis", "PostgreSQL", "MySQL",
    ]
    return tcpOnly.contains(runtime) ? .tcp : nil
  }

  /// Address and port, by the patterns programs print, most specific first.
  static func endpoint(_ text: String) -> (IPAddress?, String?, UInt16?) {
    // Node: "address already in use :::3000", "permission denied 0.0.0.0:80"; dgram and
    // connect: "bind EADDRINUSE 0.0.0.0:41234", "connect EADDRNOTAVAIL 127.0.0.1:5432".
    if let match = text.firstMatch(
      of: #/(?:already in use|permission denied|address not available|(?:bind|connect) E[A-Z]+) (\S+):(\d+)/#)
    {
      return resolved(String(match.1), String(match.2))
    }
    // Python source lines in a traceback: sock.bind(("10.9.9.9", 8080)).
    if let match = text.firstMatch(of: #/\.bind\(\(\s*['"]([^'"]*)['"]\s*,\s*(\d+)\s*\)\)/#) {
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
