import Testing

@testable import PortKit

@Suite struct BindErrorParserTests {
  struct Case: CustomTestStringConvertible, Sendable {
    var file: String
    var kind: BindFailure.Kind
    var runtime: String
    var port: UInt16?
    var address: String? = nil
    var host: String? = nil
    var proto: TransportProtocol? = nil
    var operation: BindFailure.Operation = .bind
    var reuseAddress: Bool? = nil
    var testDescription: String { file }
  }

  // Captured here from the real programs (port 55697 was held by a test holder)…
  static let captured: [Case] = [
    Case(file: "node-eaddrinuse", kind: .addressInUse, runtime: "Node.js", port: 55697, address: "::", proto: .tcp),
    Case(
      file: "node-eaddrinuse-host", kind: .addressInUse, runtime: "Node.js", port: 55697, address: "127.0.0.1",
      proto: .tcp),
    Case(file: "node-eacces", kind: .permissionDenied, runtime: "Node.js", port: 80, address: "0.0.0.0", proto: .tcp),
    Case(
      file: "node-eaddrnotavail", kind: .addressNotAvailable, runtime: "Node.js", port: 3000, address: "10.9.9.9",
      proto: .tcp),
    Case(file: "python-errno98", kind: .addressInUse, runtime: "Python", port: nil),
    Case(
      file: "python-http-server", kind: .addressInUse, runtime: "Python", port: nil, proto: .tcp, reuseAddress: true),
    Case(file: "python-errno13", kind: .permissionDenied, runtime: "Python", port: nil),
    Case(file: "python-errno99", kind: .addressNotAvailable, runtime: "Python", port: nil),
    Case(file: "flask", kind: .addressInUse, runtime: "Flask", port: 55697, proto: .tcp),
    Case(file: "go-eaddrinuse", kind: .addressInUse, runtime: "Go", port: 55697, proto: .tcp),
    Case(
      file: "go-eaddrinuse-host", kind: .addressInUse, runtime: "Go", port: 55697, address: "127.0.0.1", proto: .tcp),
    Case(file: "go-eacces", kind: .permissionDenied, runtime: "Go", port: 80, proto: .tcp),
    Case(file: "go-udp", kind: .addressInUse, runtime: "Go", port: 55697, proto: .udp),
    Case(file: "ruby-eaddrinuse", kind: .addressInUse, runtime: "Ruby", port: 55697, address: "0.0.0.0"),
    Case(file: "java-bindexception", kind: .addressInUse, runtime: "Java", port: nil, proto: .tcp),
    Case(file: "nginx", kind: .addressInUse, runtime: "nginx", port: 55697, address: "0.0.0.0", proto: .tcp),
    Case(file: "redis", kind: .addressInUse, runtime: "Redis", port: 55697, proto: .tcp),
    Case(file: "socat", kind: .addressInUse, runtime: "socat", port: 55697, address: "0.0.0.0", reuseAddress: false),
    Case(file: "rust", kind: .addressInUse, runtime: "Rust", port: nil),
    Case(file: "rust-expect", kind: .addressInUse, runtime: "Rust", port: nil),
  ]

  // Captured for issue 11: UDP, programs without SO_REUSEADDR, EACCES as nobody, connect-side.
  static let capturedMore: [Case] = [
    Case(
      file: "node-dgram-eaddrinuse", kind: .addressInUse, runtime: "Node.js", port: 55697, address: "0.0.0.0",
      proto: .udp),
    Case(file: "java-datagramsocket", kind: .addressInUse, runtime: "Java", port: nil, proto: .udp),
    Case(
      file: "socat-time-wait", kind: .addressInUse, runtime: "socat", port: 49359, address: "0.0.0.0",
      reuseAddress: false),
    Case(
      file: "python-plain-bind-errno98", kind: .addressInUse, runtime: "Python", port: 55697, address: "0.0.0.0",
      reuseAddress: false),
    Case(
      file: "python-bind-errno99-address", kind: .addressNotAvailable, runtime: "Python", port: 8080,
      address: "192.0.2.10", reuseAddress: false),
    Case(
      file: "node-eacces-unprivileged", kind: .permissionDenied, runtime: "Node.js", port: 829, address: "0.0.0.0",
      proto: .tcp),
    Case(
      file: "python-http-server-eacces", kind: .permissionDenied, runtime: "Python", port: nil, proto: .tcp,
      reuseAddress: true),
    Case(
      file: "python-connect-errno99", kind: .addressNotAvailable, runtime: "Python", port: nil, operation: .connect),
    Case(
      file: "node-connect-eaddrnotavail", kind: .addressNotAvailable, runtime: "Node.js", port: 5555,
      address: "127.0.0.1", proto: .tcp, operation: .connect),
    Case(
      file: "node-connect-local-port", kind: .addressInUse, runtime: "Node.js", port: 5555, address: "0.0.0.0",
      proto: .tcp, operation: .connect),
  ]

  // …and written from the programs' documented messages.
  static let documented: [Case] = [
    Case(
      file: "dotnet-kestrel", kind: .addressInUse, runtime: "ASP.NET Core (Kestrel)", port: 5000, address: "127.0.0.1",
      proto: .tcp),
    Case(file: "dotnet-windows-10048", kind: .addressInUse, runtime: ".NET", port: nil),
    Case(file: "swift-nio", kind: .addressInUse, runtime: "SwiftNIO", port: nil),
    Case(file: "vapor", kind: .addressInUse, runtime: "Vapor", port: 8080, address: "127.0.0.1", proto: .tcp),
    Case(file: "hummingbird", kind: .addressInUse, runtime: "Hummingbird", port: nil, proto: .tcp),
    Case(file: "uvicorn", kind: .addressInUse, runtime: "uvicorn", port: 8000, address: "127.0.0.1", proto: .tcp),
    Case(file: "django", kind: .addressInUse, runtime: "Django", port: 8000, address: "127.0.0.1", proto: .tcp),
    Case(file: "puma", kind: .addressInUse, runtime: "Puma", port: 3000, address: "127.0.0.1", proto: .tcp),
    Case(file: "spring-boot", kind: .addressInUse, runtime: "Spring Boot", port: 8080, proto: .tcp),
    Case(file: "postgresql", kind: .addressInUse, runtime: "PostgreSQL", port: 5432, address: "127.0.0.1", proto: .tcp),
    Case(file: "mysql", kind: .addressInUse, runtime: "MySQL", port: 3306, proto: .tcp),
    Case(file: "apache", kind: .addressInUse, runtime: "Apache httpd", port: 80, address: "::", proto: .tcp),
    Case(file: "docker-allocated", kind: .addressInUse, runtime: "Docker", port: 8080, address: "0.0.0.0"),
    Case(
      file: "docker-desktop-10013", kind: .accessForbidden, runtime: "Docker", port: 50010, address: "0.0.0.0",
      proto: .tcp),
    Case(
      file: "windows-python-10048", kind: .addressInUse, runtime: "Python", port: 3000, address: "0.0.0.0",
      reuseAddress: false),
    Case(
      file: "windows-python-10013", kind: .accessForbidden, runtime: "Python", port: 50010, address: "127.0.0.1",
      reuseAddress: false),
    Case(file: "vite", kind: .addressInUse, runtime: "Vite", port: 5173, proto: .tcp),
    Case(file: "nextjs", kind: .addressInUse, runtime: "Next.js", port: 3000, proto: .tcp),
    Case(file: "macos-python-errno48", kind: .addressInUse, runtime: "Python", port: nil),
    Case(file: "rust-display", kind: .addressInUse, runtime: "Rust", port: nil),
  ]

  @Test(arguments: captured + capturedMore + documented)
  func recognises(_ expected: Case) throws {
    let text = String(decoding: try fixture("explain/\(expected.file).txt"), as: UTF8.self)
    let failure = try #require(BindErrorParser.parse(text))
    #expect(failure.kind == expected.kind)
    #expect(failure.runtime == expected.runtime)
    #expect(failure.port == expected.port)
    #expect(failure.address?.description == expected.address)
    #expect(failure.host == expected.host)
    #expect(failure.proto == expected.proto)
    #expect(failure.operation == expected.operation)
    #expect(failure.reuseAddress == expected.reuseAddress)
  }

  @Test func protocolAndReuseFromTheWordsOfTheMessage() throws {
    let udp = ["udp://0.0.0.0:5000: bind: address already in use", "UDP bind failed: EADDRINUSE port 5000"]
    for text in udp { #expect(BindErrorParser.parse(text)?.proto == .udp, "\(text)") }
    #expect(BindErrorParser.parse("tcp://127.0.0.1:5000: address already in use")?.proto == .tcp)
    // "connectivity" is not a connect: Docker's bind failure stays a bind.
    let docker = try #require(
      BindErrorParser.parse(String(decoding: try fixture("explain/docker-allocated.txt"), as: UTF8.self)))
    #expect(docker.operation == .bind)
    // Python's socket.create_server sets SO_REUSEADDR; a bare bind in the program does not.
    let created = """
      Traceback (most recent call last):
        File "/srv/app.py", line 2, in <module>
          socket.create_server(("", 8000))
        File "/usr/lib/python3.11/socket.py", line 827, in create_server
          raise error(err.errno, msg) from None
      OSError: [Errno 98] error while attempting to bind on address ('0.0.0.0', 8000): address already in use
      """
    #expect(BindErrorParser.parse(created)?.reuseAddress == true)
  }

  @Test func errorNames() throws {
    let names = try ["node-eaddrinuse", "windows-python-10048", "docker-desktop-10013", "go-eacces", "python-errno99"]
      .map {
        try #require(BindErrorParser.parse(String(decoding: try fixture("explain/\($0).txt"), as: UTF8.self))).errorName
      }
    #expect(names == ["EADDRINUSE", "WSAEADDRINUSE 10048", "WSAEACCES 10013", "EACCES", "EADDRNOTAVAIL"])
  }

  /// Windows error numbers count only as numbers of their own: a log line naming
  /// `file10013.js` before a Node error must not turn it into WSAEACCES.
  @Test func windowsCodesAreWholeNumbersOnly() throws {
    let text = """
      info: compiled module 7 in 3 ms, watching /src/app/file10013.js and chunk-110048.js
      Error: listen EADDRINUSE: address already in use :::18080
      """
    let failure = try #require(BindErrorParser.parse(text))
    #expect(failure.kind == .addressInUse)
    #expect(failure.errorName == "EADDRINUSE")
    #expect(BindErrorParser.containsCode("oserror: [winerror 10013] an attempt", "10013"))
    #expect(BindErrorParser.containsCode("socketexception (10048): only one", "10048"))
    #expect(!BindErrorParser.containsCode("file10013.js", "10013"))
    #expect(!BindErrorParser.containsCode("port 100480", "10048"))
  }

  @Test(arguments: [
    "", "everything is fine, the build passed", "connection refused on port 3000", "ECONNREFUSED 127.0.0.1:3000",
  ])
  func ignoresTextWithoutABindError(_ text: String) {
    #expect(BindErrorParser.parse(text) == nil)
  }

  @Test func hostNamesAndOddEndpoints() throws {
    let kestrel = try #require(
      BindErrorParser.parse("Failed to bind to address http://localhost:5000: address already in use."))
    #expect(kestrel.host == "localhost")
    #expect(kestrel.port == 5000)
    let zero = try #require(BindErrorParser.parse("Error: listen EADDRINUSE: address already in use :::0"))
    #expect(zero.port == nil)
  }
}

@Suite struct PortFinderTests {
  struct FakeBinder: PortBinder {
    var busy: Set<UInt16>
    func tryBind(_ endpoint: Endpoint, proto: TransportProtocol, reuseAddress: Bool) -> BindOutcome {
      busy.contains(endpoint.port) ? .inUse : .bindable
    }
  }
  private func finder(busy: Set<UInt16> = [], reservations: PortReservations = PortReservations(proto: .tcp))
    -> PortFinder
  {
    PortFinder(
      probe: BindProbe(binder: FakeBinder(busy: busy)), reservations: reservations,
      privileges: BindPrivileges(unprivilegedPortStart: 1024, mayBindPrivileged: false, reason: nil))
  }

  @Test func skipsBusyServiceEphemeralReservedAndExcludedPorts() {
    let reservations = PortReservations(
      proto: .tcp, excluded: [PortRange(ports: 5434...5434)], reservedForExplicitBinds: [PortRange(ports: 5435...5435)],
      ephemeral: 5437...5440)
    let (ports, skipped) = finder(busy: [5431], reservations: reservations).find(
      .init(range: 5430...5445, from: 5430, count: 3))
    #expect(ports == [5430, 5433, 5436])
    #expect(skipped == [.busy: 1, .wellKnown: 1, .excluded: 1, .reserved: 1])
  }

  @Test func explicitRangesAreHonouredButNotExclusionsOrPrivilege() {
    let reservations = PortReservations(proto: .tcp, excluded: [PortRange(ports: 5433...5433)], ephemeral: 1...65535)
    let (ports, _) = finder(reservations: reservations).find(.init(range: 5432...5434, count: 3, explicitRange: true))
    #expect(ports == [5432, 5434])
    let (privileged, skipped) = finder().find(.init(range: 1000...1025, count: 5, explicitRange: true))
    #expect(privileged == [1024, 1025])
    #expect(skipped[.privileged] == 24)
  }

  @Test func fromWrapsAndRandomStaysInRange() {
    let (ports, _) = finder().find(.init(range: 20000...20004, from: 20003, count: 5))
    #expect(ports == [20003, 20004, 20000, 20001, 20002])
    let (random, _) = finder().find(.init(range: 20000...20100, count: 10, random: true))
    #expect(Set(random).count == 10)
    #expect(random.allSatisfy { (20000...20100).contains($0) })
  }
}
