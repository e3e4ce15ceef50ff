#if os(Linux)
import Foundation
import Synchronization
import Testing

/// Where the built products are: beside the test bundle.
enum Products {
  static let directory: URL = {
    #if os(Linux)
    let bundle = URL(
      fileURLWithPath: (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? "")
    #else
    let bundle = Bundle.main.bundleURL
    #endif
    // swift-testing runs inside `<product>.xctest` beside the executables on Linux.
    var directory = bundle.deletingLastPathComponent()
    while !FileManager.default.fileExists(atPath: directory.appendingPathComponent("portctl").path),
      directory.path != "/"
    {
      directory.deleteLastPathComponent()
    }
    return directory
  }()

  static var portctl: URL { directory.appendingPathComponent("portctl") }
  static var holder: URL { directory.appendingPathComponent("port-holder") }
}

/// The result of one run of the built `portctl`.
struct RunResult {
  var status: Int32
  var stdout: String
  var stderr: String

  /// Standard output parsed as one JSON object.
  func json() throws -> [String: Any] {
    let object = try JSONSerialization.jsonObject(with: Data(stdout.utf8))
    return try #require(object as? [String: Any], "not a JSON object: \(stdout)")
  }
}

/// Runs `executable` with `arguments` and waits for it; stdin is `input`, or /dev/null.
func run(
  _ executable: URL, _ arguments: [String], environment: [String: String]? = nil, input: String? = nil
) throws -> RunResult {
  let process = Process()
  process.executableURL = executable
  process.arguments = arguments
  var env = ProcessInfo.processInfo.environment
  env["NO_COLOR"] = nil
  for (key, value) in environment ?? [:] { env[key] = value }
  process.environment = env
  let out = Pipe()
  let err = Pipe()
  process.standardOutput = out
  process.standardError = err
  let inputPipe = Pipe()
  process.standardInput = input == nil ? FileHandle.nullDevice : inputPipe
  try process.run()
  if let input {
    inputPipe.fileHandleForWriting.write(Data(input.utf8))
    try? inputPipe.fileHandleForWriting.close()
  }
  // Read both pipes concurrently so that neither can fill up and stall the child.
  let errorData = LockedData()
  let reader = Thread { errorData.set(err.fileHandleForReading.readDataToEndOfFile()) }
  reader.start()
  let outData = out.fileHandleForReading.readDataToEndOfFile()
  process.waitUntilExit()
  while !errorData.done { usleep(1000) }
  return RunResult(
    status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
    stderr: String(decoding: errorData.value, as: UTF8.self))
}

/// Runs the built `portctl`.
func portctl(_ arguments: String..., environment: [String: String]? = nil) throws -> RunResult {
  try run(Products.portctl, arguments, environment: environment)
}

func portctl(_ arguments: [String], environment: [String: String]? = nil) throws -> RunResult {
  try run(Products.portctl, arguments, environment: environment)
}

final class LockedData: @unchecked Sendable {
  private let lock = NSLock()
  private var data = Data()
  private var finished = false
  var value: Data { lock.withLock { data } }
  var done: Bool { lock.withLock { finished } }
  func set(_ value: Data) {
    lock.withLock {
      data = value
      finished = true
    }
  }
}

/// A running `port-holder`: real sockets held by real processes. It and its forked children
/// exit when this object closes their stdin (`stop()`, or when the test process dies).
final class Holder: @unchecked Sendable {
  let process = Process()
  private let input = Pipe()
  private let output = Pipe()
  /// The holder's pid.
  private(set) var pid: Int32 = 0
  /// The ports the kernel gave each socket, in the order asked.
  private(set) var ports: [UInt16] = []
  /// Pids of the forked children.
  private(set) var children: [Int32] = []

  /// Starts port-holder with `arguments`; `launcher` (a program and its arguments, ending
  /// in one that execs port-holder with the arguments that follow, or any server that prints
  /// the same `ready pid=… ports=… children=…` line and exits when its input closes) runs
  /// instead when given, and `environment` is added to the test's own.
  init(_ arguments: [String], launcher: [String] = [], environment: [String: String] = [:]) throws {
    if let program = launcher.first {
      process.executableURL = URL(fileURLWithPath: program)
      process.arguments = Array(launcher.dropFirst()) + arguments + ["--lifeline"]
    } else {
      process.executableURL = Products.holder
      process.arguments = arguments + ["--lifeline"]
    }
    if !environment.isEmpty {
      process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    }
    process.standardInput = input
    process.standardOutput = output
    process.standardError = FileHandle.standardError
    try process.run()
    var line = Data()
    while !line.contains(UInt8(ascii: "\n")) {
      let chunk = output.fileHandleForReading.availableData
      if chunk.isEmpty { break }
      line.append(chunk)
    }
    let text = String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    guard text.hasPrefix("ready ") else {
      stop()
      throw HolderError(message: "port-holder \(arguments) did not start: '\(text)'")
    }
    for field in text.split(separator: " ") {
      let parts = field.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
      guard parts.count == 2 else { continue }
      let values = parts[1].split(separator: ",")
      switch parts[0] {
      case "pid": pid = Int32(parts[1]) ?? 0
      case "ports": ports = values.compactMap { UInt16($0) }
      case "children": children = values.compactMap { Int32($0) }
      default: break
      }
    }
  }

  convenience init(_ arguments: String...) throws {
    try self.init(arguments)
  }

  var port: UInt16 { ports.first ?? 0 }

  func stop() {
    try? input.fileHandleForWriting.close()
    if process.isRunning {
      process.terminate()
      process.waitUntilExit()
    }
  }

  deinit { stop() }
}

struct HolderError: Error, CustomStringConvertible {
  var message: String
  var description: String { message }
}

/// A TCP port that nothing listens on right now: bound to 0, read back, closed.
func unusedPort() throws -> UInt16 {
  let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
  defer { close(fd) }
  var address = sockaddr_in()
  address.sin_family = sa_family_t(AF_INET)
  address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
  var length = socklen_t(MemoryLayout<sockaddr_in>.size)
  let bound = withUnsafeMutablePointer(to: &address) {
    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Int32 in
      guard bind(fd, pointer, length) == 0 else { return -1 }
      return getsockname(fd, pointer, &length)
    }
  }
  try #require(bound == 0)
  return UInt16(bigEndian: address.sin_port)
}

extension [String: Any] {
  /// The `sockets` array of a report document.
  var sockets: [[String: Any]] { self["sockets"] as? [[String: Any]] ?? [] }
}

extension [[String: Any]] {
  /// Every holder pid in these sockets, in order.
  var pids: [Int] { flatMap { ($0["processes"] as? [[String: Any]] ?? []).compactMap { $0["pid"] as? Int } } }
}

/// True while `pid` names a live (not zombie) process.
func isAlive(_ pid: Int32) -> Bool {
  guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
    let close = stat.lastIndex(of: ")")
  else { return false }
  return !stat[stat.index(after: close)...].hasPrefix(" Z")
}

/// True when a plain bind (no SO_REUSEADDR) of `type` on `address` (host order; 0.0.0.0 by
/// default), port `port`, works right now.
func plainBind(_ port: UInt16, type: Int32 = Int32(SOCK_STREAM.rawValue), address: UInt32 = 0) -> Bool {
  let fd = socket(AF_INET, type, 0)
  defer { close(fd) }
  var endpoint = sockaddr_in()
  endpoint.sin_family = sa_family_t(AF_INET)
  endpoint.sin_port = port.bigEndian
  endpoint.sin_addr.s_addr = address.bigEndian
  return withUnsafePointer(to: &endpoint) {
    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
  } == 0
}

/// True when a plain TCP bind on 0.0.0.0:`port` works right now.
func canBind(_ port: UInt16) -> Bool { plainBind(port) }

/// Starts a program with posix_spawn, its standard streams on /dev/null; returns its pid.
/// (For programs that leave daemons behind, which keep pipes open, or whose exit Foundation's
/// Process may not observe under the test runner.)
func spawnQuietly(_ executable: String, _ arguments: [String]) -> pid_t? {
  var actions = posix_spawn_file_actions_t()
  posix_spawn_file_actions_init(&actions)
  defer { posix_spawn_file_actions_destroy(&actions) }
  for fd: Int32 in [0, 1, 2] { posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", O_RDWR, 0) }
  // Like a shell: no blocked signals and default dispositions (the test runner's threads
  // block most signals, and a spawned daemon would inherit that and ignore SIGTERM).
  var attributes = posix_spawnattr_t()
  posix_spawnattr_init(&attributes)
  defer { posix_spawnattr_destroy(&attributes) }
  var empty = sigset_t()
  sigemptyset(&empty)
  var defaults = sigset_t()
  sigemptyset(&defaults)
  for number in [SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGCHLD, SIGPIPE] { sigaddset(&defaults, number) }
  posix_spawnattr_setsigmask(&attributes, &empty)
  posix_spawnattr_setsigdefault(&attributes, &defaults)
  posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
  let argv = ([executable] + arguments).map { strdup($0) } + [nil]
  defer { argv.forEach { free($0) } }
  var pid: pid_t = 0
  return posix_spawn(&pid, executable, &actions, &attributes, argv, environ) == 0 ? pid : nil
}

/// Runs a program quietly to the end; its exit status, or -1.
func detached(_ executable: String, _ arguments: [String]) -> Int32 {
  guard let pid = spawnQuietly(executable, arguments) else { return -1 }
  var status: Int32 = 0
  while waitpid(pid, &status, 0) < 0, errno == EINTR {}
  return (status >> 8) & 0xFF
}

/// True when the tests run as root (needed for namespaces and other users).
var isRoot: Bool { geteuid() == 0 }

/// True when a plain UDP bind on 0.0.0.0:`port` works right now.
func canBindUDP(_ port: UInt16) -> Bool { plainBind(port, type: Int32(SOCK_DGRAM.rawValue)) }

/// True when a plain TCP bind on 127.0.0.1:`port` works right now.
func canBindLoopback(_ port: UInt16) -> Bool { plainBind(port, address: 0x7F00_0001) }

/// A TCP port no address holds right now (the kernel's choice for a dual-stack `[::]:0`
/// bind, which avoids every IPv4 and IPv6 address), closed again.
func portFreeEverywhere() throws -> UInt16 {
  let fd = socket(AF_INET6, Int32(SOCK_STREAM.rawValue), 0)
  guard fd >= 0 else { return try unusedPort() }
  defer { close(fd) }
  var off: Int32 = 0
  setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &off, socklen_t(MemoryLayout<Int32>.size))
  var address = sockaddr_in6()
  address.sin6_family = sa_family_t(AF_INET6)
  var length = socklen_t(MemoryLayout<sockaddr_in6>.size)
  let bound = withUnsafeMutablePointer(to: &address) {
    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Int32 in
      guard bind(fd, pointer, length) == 0 else { return -1 }
      return getsockname(fd, pointer, &length)
    }
  }
  try #require(bound == 0)
  return UInt16(bigEndian: address.sin6_port)
}

/// True while something keeps a plain TCP bind on 127.0.0.1:`port` from working (a listener
/// on 127.0.0.1 or 0.0.0.0, or a TIME_WAIT socket there); other addresses do not count.
func loopbackTaken(_ port: UInt16) -> Bool { !canBindLoopback(port) }

/// Polls `condition` every 20 ms for up to `seconds`; whether it became true.
func eventually(_ seconds: Double = 5, _ condition: () -> Bool) -> Bool {
  let deadline = Date().addingTimeInterval(seconds)
  while Date() < deadline {
    if condition() { return true }
    usleep(20_000)
  }
  return condition()
}

/// Runs `body`; its result and how many seconds it took.
func timed<T>(_ body: () throws -> T) rethrows -> (value: T, seconds: Double) {
  let clock = ContinuousClock()
  let start = clock.now
  let value = try body()
  let elapsed = clock.now - start
  return (value, Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
}

/// A flag one thread sets and another reads.
final class Flag: Sendable {
  private let value = Mutex(false)

  func set() { value.withLock { $0 = true } }
  var isSet: Bool { value.withLock { $0 } }
}

/// The name of the user the tests run as (as portctl shows it: the uid when it has no name).
var userName: String {
  getpwuid(geteuid()).map { String(cString: $0.pointee.pw_name) } ?? "\(geteuid())"
}

/// `text` padded with spaces to `width` columns (one per Unicode scalar, as portctl counts).
func padded(_ text: String, to width: Int) -> String {
  text + String(repeating: " ", count: max(0, width - text.unicodeScalars.count))
}

/// Real programs the end-to-end tests run, where they are installed.
enum Programs {
  static let python = "/usr/bin/python3"
  static let node = "/usr/bin/node"
  static let socat = "/usr/bin/socat"
  static func installed(_ paths: String...) -> Bool {
    paths.allSatisfy { FileManager.default.isExecutableFile(atPath: $0) }
  }
}

/// A real program started for a test (a server, a client), its streams on /dev/null; killed
/// and reaped when the test lets go of it. Only for processes the test starts itself.
final class Spawned: @unchecked Sendable {
  let pid: pid_t
  private var reaped = false

  init(_ executable: String, _ arguments: [String]) throws {
    guard let pid = spawnQuietly(executable, arguments) else {
      throw HolderError(message: "could not start \(executable) \(arguments)")
    }
    self.pid = pid
  }

  /// SIGKILL (or `signal`) and reap.
  func stop(_ signal: Int32 = SIGKILL) {
    guard !reaped else { return }
    kill(pid, signal)
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0, errno == EINTR {}
    reaped = true
  }

  /// Waits for it to exit by itself (up to `seconds`); its exit status, or nil.
  func exitStatus(within seconds: Double = 5) -> Int32? {
    let deadline = Date().addingTimeInterval(seconds)
    var status: Int32 = 0
    while Date() < deadline {
      if waitpid(pid, &status, WNOHANG) == pid {
        reaped = true
        return (status >> 8) & 0xFF
      }
      usleep(10_000)
    }
    return nil
  }

  deinit { stop() }
}

/// The children of `pid`, from /proc.
func childPIDs(of pid: pid_t) -> [pid_t] {
  guard let tasks = try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task") else { return [] }
  var children: [pid_t] = []
  for task in tasks {
    let text = (try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/children", encoding: .utf8)) ?? ""
    children += text.split(separator: " ").compactMap { pid_t($0) }
  }
  return children.sorted()
}

/// A TIME_WAIT socket on a fresh port, made by a real close: a server that accepts one
/// connection and closes it first, then exits. With `reuseAddress` the server is Python's
/// http.server (which sets SO_REUSEADDR) answering one real request; without, a Python
/// script that binds with a bare `socket.bind`. Returns the port.
func realTimeWait(reuseAddress: Bool) throws -> UInt16 {
  let port = try portFreeEverywhere()
  let directory = FileManager.default.temporaryDirectory.appendingPathComponent("portctl-tw-\(getpid())-\(port)")
  try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
  defer { try? FileManager.default.removeItem(at: directory) }
  let server: Spawned
  if reuseAddress {
    server = try Spawned(
      Programs.python, ["-m", "http.server", "\(port)", "--bind", "127.0.0.1", "--directory", directory.path])
  } else {
    let script = directory.appendingPathComponent("plain_server.py")
    try """
    import socket, sys
    s = socket.socket()
    s.bind(("127.0.0.1", int(sys.argv[1])))
    s.listen()
    c, _ = s.accept()
    c.sendall(b"bye\\n")
    c.close()
    s.close()
    """.write(to: script, atomically: true, encoding: .utf8)
    server = try Spawned(Programs.python, [script.path, "\(port)"])
  }
  try #require(eventually { loopbackTaken(port) }, "the server did not listen on \(port)")
  // The client closes only after the server's FIN (recv gives b''), so the server's side is
  // the one left in TIME_WAIT.
  let client = """
    import socket
    c = socket.create_connection(('127.0.0.1', \(port)))
    \(reuseAddress ? "c.sendall(b'GET / HTTP/1.0\\r\\n\\r\\n')" : "")
    while c.recv(4096):
        pass
    c.close()
    """
  let answered = try run(URL(fileURLWithPath: Programs.python), ["-c", client])
  try #require(answered.status == 0, "client: \(answered.stderr)")
  if reuseAddress { server.stop(SIGTERM) } else { _ = server.exitStatus() }
  server.stop()
  try #require(loopbackTaken(port), "no TIME_WAIT socket was left on \(port)")
  return port
}

/// Runs `script` with `sh -c` and returns what it printed (stdout and stderr together).
func shell(_ script: String) throws -> RunResult {
  try run(URL(fileURLWithPath: "/bin/sh"), ["-c", script])
}
/// Runs `command` in a pseudo-terminal (script(1)) with `environment` added. With `answer`,
/// waits for `prompt`, calls `whenPrompted`, then types `answer` and Return. Standard output
/// and error come back together in `stdout`, with "\r\n" made "\n".
func onPseudoTerminal(
  _ command: String, answering answer: String? = nil, after prompt: String = "[y/N",
  environment: [String: String] = [:], whenPrompted: () throws -> Void = {}
) throws -> RunResult {
  let process = Process()
  process.executableURL = URL(fileURLWithPath: "/usr/bin/script")
  process.arguments = ["-qec", command, "/dev/null"]
  process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
  let input = Pipe()
  let output = Pipe()
  process.standardInput = input
  process.standardOutput = output
  process.standardError = output
  try process.run()
  var text = Data()
  if let answer {
    while !String(decoding: text, as: UTF8.self).contains(prompt) {
      let chunk = output.fileHandleForReading.availableData
      if chunk.isEmpty { break }
      text.append(chunk)
    }
    try whenPrompted()
    input.fileHandleForWriting.write(Data((answer + "\n").utf8))
  }
  text.append(output.fileHandleForReading.readDataToEndOfFile())
  try? input.fileHandleForWriting.close()
  process.waitUntilExit()
  return RunResult(
    status: process.terminationStatus,
    stdout: String(decoding: text, as: UTF8.self).replacingOccurrences(of: "\r\n", with: "\n"), stderr: "")
}

#endif
