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
    /// The program says its bind or listen failed but not why ("no acceptor", "could not
    /// create listening sockets"): the check of the port decides.
    case unspecified
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
    /// An ssh remote forward (`ssh -R`): the server at the other end could not listen, so
    /// the port to look at is on that machine.
    case remoteBind = "remote-bind"
  }
}

/// Recognises bind failures as real programs print them: the error on the line that names
/// it, the endpoint by the shapes programs print (``BindEndpoints``), the protocol from the
/// words near the error, and the program from ``KnownPrograms``. Plain text matching, tested on
/// the messages in `Tests/PortKitTests/Fixtures/explain-corpus`.
enum BindErrorParser {
  static func parse(_ text: String) -> BindFailure? {
    let lines = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline)
    let lowered = lines.map { $0.lowercased() }
    // A message wrapped across lines ("…forbidden by its access\npermissions") is read whole too.
    let flat = lowered.joined(separator: " ")
    let settled = lowered.filter { line in !ambiguousPhrases.contains(where: line.has) }
    guard let (kind, errorName, anchors) = kind(lowered, flat: settled.joined(separator: " ")) else { return nil }
    let (address, host, port) = BindEndpoints.find(in: lines, anchors: anchors)
    let signature = KnownPrograms.signature(in: lowered.joined(separator: "\n"))
    let program = signature?.name ?? KnownPrograms.unnamed
    var failure = BindFailure(
      kind: kind, runtime: program, errorName: errorName, port: port, address: address, host: host,
      proto: proto(lowered, anchors: anchors, flat: flat, listenMeansTCP: signature?.datagram != true)
        ?? signature?.proto,
      operation: operation(text, flat, program: program, kind: kind, lines: lowered, anchors: anchors),
      reuseAddress: reuseAddress(text, program))
    if failure.operation == .connect, failure.kind == .unspecified { failure.kind = .addressInUse }
    return failure
  }

  /// What each kind of failure is called, in the order a line is judged: a line naming two
  /// counts as the first.
  struct KindMarkers {
    var kind: BindFailure.Kind
    var errorName: String
    var phrases: [String]
    /// Error numbers that stand as numbers of their own (`(98)`, `errno=98`, `WinError 10048`).
    var codes: [String]
  }

  static let kinds: [KindMarkers] = [
    KindMarkers(
      kind: .accessForbidden, errorName: "WSAEACCES 10013",
      phrases: ["forbidden by its access permissions", "wsaeacces"], codes: ["10013"]),
    KindMarkers(
      kind: .addressNotAvailable, errorName: "EADDRNOTAVAIL",
      phrases: [
        "eaddrnotavail", "cannot assign requested address", "can't assign requested address", "errno 99]",
        "errno 49]", "address not available", "requested address is not valid in its context", "can't be assigned to",
        "addrnotavailable", "os error 99", "os error 49", "wsaeaddrnotavail", "address is not available",
      ], codes: ["10049"]),
    // WSAENOBUFS: Windows ran out of ephemeral ports or socket buffers (connect side).
    KindMarkers(
      kind: .addressInUse, errorName: "WSAENOBUFS 10055",
      phrases: ["wsaenobufs", "no buffer space available", "lacked sufficient buffer space", "系统缓冲区空间不足"],
      codes: ["10055"]),
    KindMarkers(
      kind: .addressInUse, errorName: "WSAEADDRINUSE 10048",
      phrases: ["only one usage of each socket address", "wsaeaddrinuse"], codes: ["10048"]),
    KindMarkers(
      kind: .addressInUse, errorName: "EADDRINUSE",
      phrases: [
        "eaddrinuse", "address already in use", "errno 98]", "errno 48]", "port is already allocated",
        "already in use", "is in use", "addrinuse", "os error 98", "os error 48", "(98: address", "(48: address",
        "not free on", "already running on port", "another instance of", "another server running on port",
        "another postmaster", "0x80070020", "being used by another process", "address in use", "port is taken",
        "is already being used", "already bound", "already be in use", "may be another",
      ], codes: []),
    KindMarkers(
      kind: .permissionDenied, errorName: "EACCES",
      phrases: [
        "eacces", "permission denied", "errno 13]", "access is denied", "access denied", "requires root",
        "privileged port", "operation not permitted",
      ], codes: []),
  ]

  /// Said when a bind failed without a reason ("no acceptor", "could not create listening
  /// sockets", "remote port forwarding failed"); also lines worth reading for the endpoint.
  static let failurePhrases = [
    "no acceptor", "could not create listening socket", "unable to listen on any", "port forwarding failed",
    "failed to bind", "unable to bind", "could not bind", "can't bind", "cannot bind", "bind failed",
    "failed to listen",
    "couldn't listen", "cannot listen", "unable to listen", "error listening", "failed to start listener",
    "could not open ports", "listen failure", "listen sockets", "failed to register url", "can't grab",
    "cannot start the server on port", "failed to start server",
  ]

  /// A failure to open, bind or listen on something network-like, in other words:
  /// `Error opening specified endpoint`, `Cannot open listening socket`, `Could not listen on port`.
  nonisolated(unsafe) static let failedEndpoint =
    #/(?:fail(?:ed|ure)?|error|unable|cannot|can't|could ?not|couldn't)\s+(?:to\s+)?(?:open|opening|create|creating|bind|binding|listen|listening|start|starting|allocate|set ?up)\b[^.\n]{0,40}?\b(?:endpoint|socket|port|listener|address|interface)/#

  /// Words one of which `failedEndpoint` needs, looked for first because they are cheap.
  static let failureVerbs = ["fail", "error", "unable", "cannot", "can't", "could", "couldn't"]

  /// Lines that name two causes and so settle neither: EventMachine's "no acceptor (port is
  /// in use or requires root privileges)".
  static let ambiguousPhrases = ["no acceptor", "in use or requires root", "are you root, or"]

  /// Lines whose "permission denied" is about a file, not a socket.
  static let fileWords = [
    "/dev/", "log file", "cannot open", "can't open", "no such file", "open(", ".log", "pid file", "pidfile",
  ]

  /// The kind, its error's name, and the lines that say it (the anchors the endpoint is
  /// looked for around). A kind said on a line about a bind (or next to one) wins over one
  /// said elsewhere, then the order of ``kinds``.
  static func kind(_ lines: [String], flat: String) -> (BindFailure.Kind, String, [Int])? {
    var found: [(markers: Int, line: Int)] = []
    for (index, line) in lines.enumerated() where !ambiguousPhrases.contains(where: line.has) {
      for (order, markers) in kinds.enumerated() where says(markers, line) {
        if markers.kind == .permissionDenied, fileWords.contains(where: line.has) { continue }
        found.append((order, index))
      }
    }
    let failureLines = lines.indices.filter { index in
      failurePhrases.contains(where: lines[index].has)
        || (failureVerbs.contains(where: lines[index].has) && lines[index].contains(failedEndpoint))
    }
    if found.isEmpty {
      // Wrapped across lines: the phrase is only whole in the joined text.
      if let order = kinds.firstIndex(where: { says($0, flat) }) {
        let first = lines.indices.first { index in
          let pair = lines[index] + " " + (index + 1 < lines.count ? lines[index + 1] : "")
          return says(kinds[order], pair)
        }
        return (kinds[order].kind, kinds[order].errorName, first.map { [$0, $0 + 1] } ?? failureLines)
      }
      guard !failureLines.isEmpty else { return nil }
      return (.unspecified, "no error code", failureLines)
    }
    func aboutBind(_ line: Int) -> Bool {
      let window = lines[max(0, line - 1)...min(lines.count - 1, line + 1)]
      return window.contains { text in
        ["bind", "listen", "socket", "port", "address", "serve", "10048", "10013"].contains(where: text.has)
      }
    }
    let chosen = found.min {
      (aboutBind($0.line) ? 0 : 1, $0.markers, $0.line) < (aboutBind($1.line) ? 0 : 1, $1.markers, $1.line)
    }!
    let markers = kinds[chosen.markers]
    let anchors = found.filter { kinds[$0.markers].kind == markers.kind }.map(\.line) + failureLines
    return (markers.kind, markers.errorName, anchors)
  }

  static func says(_ markers: KindMarkers, _ line: String) -> Bool {
    markers.phrases.contains(where: line.has) || markers.codes.contains { line.hasNumber($0) }
      || (markers.kind == .addressInUse && markers.codes.isEmpty && saysErrorNumber(line, ["98", "48"]))
      || (markers.kind == .addressNotAvailable && saysErrorNumber(line, ["99", "49"]))
      || (markers.kind == .permissionDenied && saysErrorNumber(line, ["13"]))
  }

  /// `errno 98`, `errno=98`, `error 98`, `error: 98`, `(98)`, `[98]` for one of `numbers`.
  static func saysErrorNumber(_ line: String, _ numbers: [String]) -> Bool {
    guard numbers.contains(where: line.has) else { return false }
    return numbers.contains { number in
      // Joined here, so that no line of this file reads like C code using errno.
      let forms =
        ["errno", "error"].flatMap { word in [" ", "=", ": "].map { word + $0 + number } }
        + ["(\(number))", "[\(number)]"]
      // The number must end there: "error 98" is not "error 980".
      return forms.contains { form in
        line.byteMatch(of: form) { _, after in after.map { $0 < UInt8(ascii: "0") || $0 > UInt8(ascii: "9") } ?? true }
      }
    }
  }

  /// The protocol the words on and around the error lines say, then the whole text's:
  /// UDP words first (`listen udp`, dgram, DatagramSocket, `udp://`), then TCP ones (`listen
  /// tcp`, Node's `listen E…`, ServerSocket, `tcp://`, HTTP); `nil` when no word says.
  ///
  /// Failing that, listening (`listen`, `listener`, `listening socket`) on or next to the error
  /// line means TCP, as only stream sockets listen, unless the program is one that also
  /// listens on UDP in its own words (DNS and VPN servers): then `nil`, and both are checked.
  static func proto(_ lines: [String], anchors: [Int], flat: String, listenMeansTCP: Bool) -> TransportProtocol? {
    var near = Set<Int>()
    for anchor in anchors where anchor < lines.count {
      near.formUnion(max(0, anchor - 2)...min(lines.count - 1, anchor + 2))
    }
    // "TCP/UDP" (OpenVPN) names both and so settles nothing.
    func plain(_ text: String) -> String {
      text.replacing("tcp/udp", with: " ").replacing("udp/tcp", with: " ")
    }
    let onLines = plain(anchors.filter { $0 < lines.count }.map { lines[$0] }.joined(separator: " "))
    let nearby = plain(near.sorted().map { lines[$0] }.joined(separator: " "))
    for text in [onLines, nearby, plain(flat)] {
      if let found = protocolWords(text) { return found }
    }
    guard listenMeansTCP else { return nil }
    let listening = ["listen", "listener", "listening"]
    if listening.contains(where: { KnownPrograms.containsWord(nearby, $0) }) { return .tcp }
    return nil
  }

  static func protocolWords(_ text: String) -> TransportProtocol? {
    let udp = [
      "listen udp", "(udp)", "port udp", "node:dgram", "dgram", "datagram", "udp://", "udp socket", "sock_dgram",
      "udpsocket", "udp:port=", "listenudp",
    ]
    if udp.contains(where: text.has) || KnownPrograms.containsWord(text, "udp") { return .udp }
    let tcp = [
      "listen tcp", "(tcp)", "port tcp", "tcp/ip", "tcp://", "tcp socket", "sock_stream", "serversocket", "tcpserver",
      "tcplistener", "listen eaddrinuse", "listen eacces", "listen eaddrnotavail", "http/server.py", "httpserver",
      "start_tcp_server", "listen socket", "listener for connections", "failed to listen", "cannot listen:",
      "listen(", "tcp:port=", "stream_socket", "web server", "listentcp", "node:net:", "node:internal/cluster",
      "{listen,",
    ]
    if tcp.contains(where: text.has)
      || ["tcp", "http", "https"].contains(where: { KnownPrograms.containsWord(text, $0) })
    {
      return .tcp
    }
    return nil
  }

  /// Outgoing connections: Node's `connect E…` and `internalConnect`, Go's `dial`, Python's
  /// `create_connection`/`.connect(`, Java's `Net.connect`, socat's `connect(`, clients that
  /// say they could not connect; a client's own fixed local port (curl's `--local-port`);
  /// ssh's remote forward, which the server at the other end failed to listen on.
  /// Each marker counts only near an error line (Syncthing logs a `dial tcp` DNS failure two
  /// lines above its bind error): Go's and Node's on the line itself, a client's "could not
  /// connect" on it or the line before, a stack frame within a traceback's reach.
  static func operation(
    _ text: String, _ lower: String, program: String, kind: BindFailure.Kind, lines: [String], anchors: [Int]
  ) -> BindFailure.Operation {
    if lower.contains("remote port forwarding failed") { return .remoteBind }
    if lower.contains("stream_socket_server") { return .bind }
    // WSAENOBUFS is a connecting side running out of ports; a server's bind does not see it.
    if containsCode(lower, "10055") || lower.contains("no buffer space available") { return .connect }
    func window(_ before: Int, _ after: Int) -> String {
      var near = Set<Int>()
      for anchor in anchors where anchor < lines.count {
        near.formUnion(max(0, anchor - before)...min(lines.count - 1, anchor + after))
      }
      return near.sorted().map { lines[$0] }.joined(separator: "\n")
    }
    let onLine = window(0, 0)
    let onLineMarkers = [
      "connect eaddrinuse", "connect eaddrnotavail", "dial tcp", "dial udp", ": connect: ", "- local (",
      "connect(2) for", "connect to host", " e connect(", "error trying to connect", "bind local error", "connectex",
      "connecting to ",
      "bindexception: cannot assign requested address: connect",
    ]
    if onLineMarkers.contains(where: onLine.has) || onLine.contains(#/connect to [\w.:\[\]]+ port \d/#) {
      return .connect
    }
    let clients = ["could not connect", "failed to connect", "unable to connect"]
    if clients.contains(where: window(1, 0).has) { return .connect }
    let frames = [
      "internalconnect", "in create_connection", "connectexception", "net.connect(", "socket.connect(", "connect0(",
      "create_connection",
    ]
    if frames.contains(where: window(8, 12).has) { return .connect }
    // The error line says connect: "{backend-connect}: Cannot assign requested address"
    // (and not "connect/bind").
    if KnownPrograms.containsWord(onLine, "connect"), !KnownPrograms.containsWord(onLine, "bind") { return .connect }
    // curl and ncat are clients: a bind of theirs is the local end of a connection (curl's
    // --local-port, --interface), and ncat says "bind to" when it listens.
    if program == "curl", kind == .addressInUse { return .connect }
    if program == "Ncat", !lower.contains("bind to"), !lower.contains("listen") { return .connect }
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
        guard String(line).has("File \""),
          let match = line.firstMatch(of: #/^\s*File "([^"]*)", line \d+, in (\S+)/#)
        else { continue }
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
  static func containsCode(_ text: String, _ code: String) -> Bool { text.hasNumber(code) }

}
