// port-holder: a test fixture, not a product. Opens sockets on request, reports the ports
// the kernel gave them, and holds them until killed (or until stdin closes, with
// --lifeline), so that tests can assert on real holders.
//
//   port-holder [options] PROTO:ADDR:PORT…      e.g. tcp:127.0.0.1:0 udp:[::]:0 tcp:[::1]:4000
//     --v6only          set IPV6_V6ONLY on IPv6 sockets (default: dual-stack)
//     --reuseport       set SO_REUSEPORT (share a port with another process)
//     --reuseaddr       set SO_REUSEADDR on TCP sockets, as most servers do
//     --fork N          fork N children that inherit every socket
//     --ignore-term     ignore SIGTERM
//     --self-connect    connect to the first TCP listener and accept, making an ESTABLISHED pair
//     --time-wait       connect to the first TCP listener, close the server side first, then
//                       close the listener too: only a TIME_WAIT socket stays on the port
//     --lifeline        exit when standard input reaches end of file (every process)
//     --supervise       act as a supervisor: a child holds the sockets, and whenever it exits a
//                       new child opens them again on the same ports (after --respawn-delay MS)
//     --crowd N         benchmark crowd: fork N children, each holding --sockets S TCP listeners
//                       (on its own 127.x.y.1 address) and --files F open files; they die with
//                       this process. The ready line lists each child's first port.
//     --handoff MS      every MS milliseconds fork a successor that keeps the sockets, and exit
//                       (a hot restart, over and over); the ready line names the first process
//     --churn N         keep N short-lived children busy: each opens the sockets' ports again
//                       (SO_REUSEPORT) and exits after a few milliseconds, replaced at once
//     --thread-table    a thread unshares its descriptor table (unshare(CLONE_FILES)) and the
//                       main thread closes its copies: only that thread's table holds the sockets
//     --main-exits      the main thread exits (pthread_exit) and another thread holds the sockets
//     --connect-to PORT a client: each TCP socket is bound (not listening) and connected to
//                       PORT on the loopback address of its family; ports= are its local ports
//     --open-on-usr1    start with no socket; open them (the ports given, not 0) on SIGUSR1: a
//                       process that takes a port over while it runs
//     --close-on-usr1   close every socket on SIGUSR1 and keep running (a holder letting go)
//     --run CMD ARG…    after setup, run CMD as a child ("{port}" in ARG is the first port), with
//                       the sockets not inherited; exit with its status. Must come last.
//
// Prints one line once everything is set up:
//   ready pid=<pid> ports=<p1,p2,…> children=<c1,c2,…>

#if os(Linux)
import Glibc

func emit(_ text: String, to fd: Int32) {
  let bytes = Array(text.utf8)
  var offset = 0
  while offset < bytes.count {
    let written = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    if written <= 0 { return }
    offset += written
  }
}

func fail(_ message: String) -> Never {
  emit("port-holder: \(message)\n", to: 2)
  exit(2)
}

struct Request {
  var tcp: Bool
  var family: Int32
  var address: String
  var port: UInt16
}

var requests: [Request] = []
var v6Only = false
var reusePort = false
/// SO_REUSEADDR on TCP sockets: with --reuseaddr, and always when a supervisor reopens.
var reuseAddressOnReopen = false
var forks = 0
var ignoreTerm = false
var selfConnect = false
var timeWait = false
var lifeline = false
var supervise = false
var respawnDelay: UInt32 = 0
var runCommand: [String] = []
var crowd = 0
var socketsPerChild = 20
var filesPerChild = 20
var handoff: UInt32 = 0
var churn = 0
var threadTable = false
var mainExits = false
var closeOnUSR1 = false
var openOnUSR1 = false
var connectTo: UInt16?

var arguments = CommandLine.arguments.dropFirst()
while let argument = arguments.popFirst() {
  switch argument {
  case "--v6only": v6Only = true
  case "--reuseport": reusePort = true
  case "--reuseaddr": reuseAddressOnReopen = true
  case "--ignore-term": ignoreTerm = true
  case "--self-connect": selfConnect = true
  case "--time-wait": timeWait = true
  case "--lifeline": lifeline = true
  case "--supervise": supervise = true
  case "--respawn-delay":
    guard let delay = arguments.popFirst().flatMap({ UInt32($0) }) else { fail("--respawn-delay takes milliseconds") }
    respawnDelay = delay
  case "--thread-table": threadTable = true
  case "--main-exits": mainExits = true
  case "--close-on-usr1": closeOnUSR1 = true
  case "--open-on-usr1": openOnUSR1 = true
  case "--connect-to":
    guard let port = arguments.popFirst().flatMap({ UInt16($0) }) else { fail("--connect-to takes a port") }
    connectTo = port
  case "--handoff":
    guard let interval = arguments.popFirst().flatMap({ UInt32($0) }), interval > 0 else {
      fail("--handoff takes milliseconds")
    }
    handoff = interval
  case "--churn":
    guard let count = arguments.popFirst().flatMap({ Int($0) }), count > 0 else { fail("--churn takes a count") }
    churn = count
    reusePort = true
  case "--crowd", "--sockets", "--files":
    guard let value = arguments.popFirst().flatMap({ Int($0) }), value >= 0 else { fail("\(argument) takes a count") }
    switch argument {
    case "--crowd": crowd = value
    case "--sockets": socketsPerChild = value
    default: filesPerChild = value
    }
  case "--run":
    runCommand = Array(arguments)
    arguments.removeAll()
    if runCommand.isEmpty { fail("--run takes a command") }
  case "--fork":
    guard let count = arguments.popFirst().flatMap({ Int($0) }), count >= 0 else { fail("--fork takes a count") }
    forks = count
  default:
    let parts = argument.split(separator: ":", maxSplits: 1)
    guard parts.count == 2, parts[0] == "tcp" || parts[0] == "udp" else { fail("bad socket spec \(argument)") }
    let rest = parts[1]
    guard let colon = rest.lastIndex(of: ":"), let port = UInt16(rest[rest.index(after: colon)...]) else {
      fail("bad socket spec \(argument)")
    }
    var host = String(rest[..<colon])
    var family = AF_INET
    if host.hasPrefix("[") && host.hasSuffix("]") {
      host = String(host.dropFirst().dropLast())
      family = AF_INET6
    }
    requests.append(Request(tcp: parts[0] == "tcp", family: family, address: host, port: port))
  }
}
if requests.isEmpty && crowd == 0 { fail("give at least one socket, e.g. tcp:127.0.0.1:0") }
/// --lifeline, for code that runs outside the main actor (threads, signal-driven loops).
nonisolated(unsafe) var lifelineFlag = false
lifelineFlag = lifeline

/// Benchmark crowd: children report their first port through a pipe, then hold.
@MainActor func runCrowd() -> Never {
  var channel: [Int32] = [0, 0]
  check(pipe(&channel), "pipe")
  var children: [pid_t] = []
  let parent = getpid()
  for index in 0..<crowd {
    let child = fork()
    if child < 0 { fail("fork: \(String(cString: strerror(errno)))") }
    if child == 0 {
      close(channel[0])
      let address = "127.\(1 + index / 62500).\(index / 250 % 250).\(1 + index % 250)"
      var first: UInt16 = 0
      for socketIndex in 0..<socketsPerChild {
        let port = open(Request(tcp: true, family: AF_INET, address: address, port: 0)).port
        if socketIndex == 0 { first = port }
      }
      for _ in 0..<filesPerChild { _ = Glibc.open("/dev/null", O_RDONLY) }
      emit("\(index) \(first)\n", to: channel[1])
      close(channel[1])
      // Die with the parent.
      while getppid() == parent { sleep(1) }
      exit(0)
    }
    children.append(child)
  }
  close(channel[1])
  var text = ""
  var buffer = [UInt8](repeating: 0, count: 65536)
  while text.filter({ $0 == "\n" }).count < crowd {
    let count = read(channel[0], &buffer, buffer.count)
    if count <= 0 { break }
    text += String(decoding: buffer[0..<count], as: UTF8.self)
  }
  var byIndex = [String](repeating: "0", count: crowd)
  for line in text.split(separator: "\n") {
    let fields = line.split(separator: " ")
    if fields.count == 2, let index = Int(fields[0]), index < crowd { byIndex[index] = String(fields[1]) }
  }
  let ports = byIndex.joined(separator: ",")
  emit("ready pid=\(getpid()) ports=\(ports) children=\(children.map { "\($0)" }.joined(separator: ","))\n", to: 1)
  hold()
}
// Behave like a server started from a shell: whoever spawned this (a test runner's helper
// thread, say) may have left signals blocked or ignored, and both survive exec.
var unblocked = sigset_t()
sigemptyset(&unblocked)
sigprocmask(SIG_SETMASK, &unblocked, nil)
for number in [SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2] { signal(number, SIG_DFL) }
if ignoreTerm { signal(SIGTERM, SIG_IGN) }

func check(_ result: Int32, _ what: String) {
  if result < 0 { fail("\(what): \(String(cString: strerror(errno)))") }
}

/// Calls `body` with a socket address for `host` and `port` in `family`.
func withSocketAddress<T>(
  _ family: Int32, _ host: String, _ port: UInt16, _ body: (UnsafePointer<sockaddr>, socklen_t) -> T
) -> T {
  if family == AF_INET6 {
    var address = sockaddr_in6()
    address.sin6_family = sa_family_t(AF_INET6)
    address.sin6_port = port.bigEndian
    guard inet_pton(AF_INET6, host, &address.sin6_addr) == 1 else { fail("bad IPv6 address \(host)") }
    return withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
    }
  }
  var address = sockaddr_in()
  address.sin_family = sa_family_t(AF_INET)
  address.sin_port = port.bigEndian
  guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else { fail("bad IPv4 address \(host)") }
  return withUnsafePointer(to: &address) {
    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
  }
}

@MainActor func open(_ request: Request) -> (fd: Int32, port: UInt16) {
  let type = Int32(request.tcp ? SOCK_STREAM.rawValue : SOCK_DGRAM.rawValue)
  let fd = socket(request.family, type, 0)
  check(fd, "socket")
  var one: Int32 = 1
  if reuseAddressOnReopen, request.tcp { check(setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, 4), "SO_REUSEADDR") }
  if reusePort { check(setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, 4), "SO_REUSEPORT") }
  if request.family == AF_INET6 {
    var flag: Int32 = v6Only ? 1 : 0
    check(setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &flag, 4), "IPV6_V6ONLY")
  }
  let result = withSocketAddress(request.family, request.address, request.port) { bind(fd, $0, $1) }
  check(result, "bind \(request.address) port \(request.port)")
  if request.tcp, let connectTo {
    let loopback = request.family == AF_INET6 ? "::1" : "127.0.0.1"
    check(withSocketAddress(request.family, loopback, connectTo) { connect(fd, $0, $1) }, "connect")
  } else if request.tcp {
    check(listen(fd, 128), "listen")
  }
  var storage = sockaddr_storage()
  var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
  let named = withUnsafeMutablePointer(to: &storage) {
    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
  }
  check(named, "getsockname")
  let port = withUnsafePointer(to: &storage) { pointer -> UInt16 in
    if request.family == AF_INET6 {
      return pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin6_port) }
    }
    return pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin_port) }
  }
  return (fd, port)
}

if crowd > 0 { runCrowd() }

/// Set by SIGUSR1 (with --open-on-usr1).
nonisolated(unsafe) var openRequested: sig_atomic_t = 0
if openOnUSR1 {
  signal(SIGUSR1) { _ in openRequested = 1 }
  emit("ready pid=\(getpid()) ports= children=\n", to: 1)
  while openRequested == 0 {
    if lifelineEnded(within: 5) { exit(0) }
  }
  _ = requests.map(open)
  while !lifelineEnded(within: 1000) {}
  exit(0)
}

let opened = requests.map(open)
var held: [Int32] = opened.map(\.fd)

/// Connects a client to the listener `index` and accepts it: (client, accepted).
@MainActor func connectPair(_ index: Int) -> (client: Int32, accepted: Int32) {
  let request = requests[index]
  let client = socket(request.family, Int32(SOCK_STREAM.rawValue), 0)
  check(client, "socket")
  let target = request.address == "0.0.0.0" ? "127.0.0.1" : (request.address == "::" ? "::1" : request.address)
  let result = withSocketAddress(request.family, target, opened[index].port) { connect(client, $0, $1) }
  check(result, "connect")
  let accepted = accept(opened[index].fd, nil, nil)
  check(accepted, "accept")
  return (client, accepted)
}

if selfConnect, let index = requests.firstIndex(where: \.tcp) {
  let pair = connectPair(index)
  held += [pair.client, pair.accepted]
}

if timeWait, let index = requests.firstIndex(where: \.tcp) {
  let pair = connectPair(index)
  close(pair.accepted)  // the side that closes first ends in TIME_WAIT
  usleep(20_000)
  close(pair.client)
  close(opened[index].fd)
  held.removeAll { $0 == opened[index].fd }
  usleep(50_000)
}

/// Blocks until stdin closes (with --lifeline) or forever.
@MainActor func hold() -> Never {
  if lifeline {
    var byte: UInt8 = 0
    while true {
      let count = read(0, &byte, 1)
      if count == 0 || (count < 0 && errno != EINTR) { exit(0) }
    }
  }
  while true { pause() }
}

/// Supervisor mode: children hold the sockets; each one that exits is replaced.
@MainActor func superviseForever(first: pid_t) -> Never {
  var child = first
  while true {
    if lifeline {
      var descriptor = pollfd(fd: 0, events: Int16(POLLIN), revents: 0)
      if poll(&descriptor, 1, 5) > 0 {
        var byte: UInt8 = 0
        if read(0, &byte, 1) <= 0 {
          kill(child, SIGKILL)
          exit(0)
        }
      }
    } else {
      usleep(5000)
    }
    var status: Int32 = 0
    guard waitpid(child, &status, WNOHANG) == child else { continue }
    if respawnDelay > 0 { usleep(respawnDelay * 1000) }
    let reopened = requests.indices.map { index -> Int32 in
      var request = requests[index]
      request.port = opened[index].port
      return reopen(request)
    }
    child = fork()
    if child == 0 { hold() }
    for fd in reopened { close(fd) }
  }
}

/// Opens a socket again on a known port, allowing for TIME_WAIT leftovers.
@MainActor func reopen(_ request: Request) -> Int32 {
  let saved = reuseAddressOnReopen
  reuseAddressOnReopen = true
  defer { reuseAddressOnReopen = saved }
  return open(request).fd
}

/// True when standard input has reached end of file (with --lifeline), waiting up to
/// `milliseconds` for it.
func lifelineEnded(within milliseconds: Int32) -> Bool {
  guard lifelineFlag else {
    if milliseconds > 0 { usleep(UInt32(milliseconds) * 1000) }
    return false
  }
  var descriptor = pollfd(fd: 0, events: Int16(POLLIN), revents: 0)
  guard poll(&descriptor, 1, milliseconds) > 0 else { return false }
  var byte: UInt8 = 0
  return read(0, &byte, 1) <= 0
}

/// Hand-off mode: this process forks its successor, which keeps every socket, and exits;
/// the successor does the same after the interval.
@MainActor func handOffForever() -> Never {
  while true {
    if lifelineEnded(within: Int32(handoff)) { exit(0) }
    let child = fork()
    if child < 0 { continue }
    if child > 0 { exit(0) }
  }
}

/// Churn mode: children come and go, each holding the ports for a few milliseconds.
@MainActor func churnForever() -> Never {
  var alive = 0
  var seed = UInt32(truncatingIfNeeded: getpid())
  while true {
    while alive < churn {
      seed = seed &* 1_103_515_245 &+ 12345
      let lifetime = 1000 + (seed >> 8) % 8000
      let child = fork()
      if child == 0 {
        for index in requests.indices {
          var request = requests[index]
          request.port = opened[index].port
          _ = open(request)
        }
        usleep(lifetime)
        _exit(0)
      }
      if child > 0 { alive += 1 }
    }
    var status: Int32 = 0
    while waitpid(-1, &status, WNOHANG) > 0 { alive -= 1 }
    if lifelineEnded(within: 1) { exit(0) }
  }
}

/// Descriptors for the threads below.
nonisolated(unsafe) var threadSockets: [Int32] = []
nonisolated(unsafe) var threadReady: [Int32] = [0, 0]

/// Starts a thread running `body`.
func startThread(_ body: @escaping @convention(c) (UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer?) {
  var thread = pthread_t()
  if pthread_create(&thread, nil, body, nil) != 0 { fail("pthread_create failed") }
}

/// The sockets SIGUSR1 closes (with --close-on-usr1).
nonisolated(unsafe) var socketsToClose: [Int32] = []
if closeOnUSR1 {
  socketsToClose = held
  signal(SIGUSR1) { _ in
    for fd in socketsToClose { close(fd) }
  }
}

if threadTable || mainExits {
  threadSockets = held
  check(pipe(&threadReady), "pipe")
  if threadTable {
    // The thread takes a private copy of the table and says so; the main thread then
    // closes the sockets in the shared one.
    startThread { _ in
      // Glibc's module hides unshare(2) (it needs _GNU_SOURCE): look it up. 0x400 is CLONE_FILES.
      typealias Unshare = @convention(c) (Int32) -> Int32
      guard let symbol = dlsym(dlopen(nil, RTLD_NOW), "unshare") else { fail("no unshare(2)") }
      if unsafeBitCast(symbol, to: Unshare.self)(0x400) != 0 {
        fail("unshare(CLONE_FILES): \(String(cString: strerror(errno)))")
      }
      var byte: UInt8 = 1
      _ = write(threadReady[1], &byte, 1)
      while true { pause() }
    }
    var byte: UInt8 = 0
    _ = read(threadReady[0], &byte, 1)
    for fd in held { close(fd) }
    held = []
  } else {
    startThread { _ in
      var byte: UInt8 = 0
      _ = read(threadReady[0], &byte, 1)
      while !lifelineEnded(within: 1000) {}
      exit(0)
    }
  }
  let ports = opened.map { "\($0.port)" }.joined(separator: ",")
  emit("ready pid=\(getpid()) ports=\(ports) children=\n", to: 1)
  if mainExits {
    var byte: UInt8 = 1
    _ = write(threadReady[1], &byte, 1)
    pthread_exit(nil)
  }
  hold()
}

if handoff > 0 || churn > 0 {
  let ports = opened.map { "\($0.port)" }.joined(separator: ",")
  emit("ready pid=\(getpid()) ports=\(ports) children=\n", to: 1)
  if handoff > 0 { handOffForever() }
  churnForever()
}

var children: [pid_t] = []
if supervise {
  let child = fork()
  if child < 0 { fail("fork: \(String(cString: strerror(errno)))") }
  if child == 0 { hold() }
  for fd in held { close(fd) }
  let ports = opened.map { "\($0.port)" }.joined(separator: ",")
  emit("ready pid=\(getpid()) ports=\(ports) children=\(child)\n", to: 1)
  superviseForever(first: child)
}

if !runCommand.isEmpty {
  let port = opened.first.map { "\($0.port)" } ?? ""
  let arguments = runCommand.map { $0.replacingPlaceholder("{port}", with: port) }
  for fd in held { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
  emit("ready pid=\(getpid()) ports=\(opened.map { "\($0.port)" }.joined(separator: ",")) children=\n", to: 1)
  let child = fork()
  if child == 0 {
    var argv = arguments.map { strdup($0) }
    argv.append(nil)
    execv(arguments[0], &argv)
    fail("exec \(arguments[0]): \(String(cString: strerror(errno)))")
  }
  var status: Int32 = 0
  while waitpid(child, &status, 0) < 0 && errno == EINTR {}
  exit((status >> 8) & 0xFF)
}

for _ in 0..<forks {
  let child = fork()
  if child < 0 { fail("fork: \(String(cString: strerror(errno)))") }
  if child == 0 { hold() }
  children.append(child)
}

let ports = opened.map { "\($0.port)" }.joined(separator: ",")
emit("ready pid=\(getpid()) ports=\(ports) children=\(children.map { "\($0)" }.joined(separator: ","))\n", to: 1)
hold()

extension String {
  func replacingPlaceholder(_ placeholder: String, with value: String) -> String {
    var result = ""
    var rest = Substring(self)
    while let range = rest.firstRange(of: placeholder) {
      result += rest[..<range.lowerBound] + value
      rest = rest[range.upperBound...]
    }
    return result + rest
  }
}
#else
// The fixture uses Linux socket options and fork(); elsewhere it only says so.
print("port-holder: this test fixture runs on Linux")
#endif
