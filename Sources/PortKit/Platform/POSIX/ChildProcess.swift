#if canImport(Glibc) || canImport(Darwin)
#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// A program `run` starts: standard input inherited, standard error (and standard output,
/// unless it is left to the program) read through pipes and written on to this process's
/// own, so that the bind error it prints can be read afterwards; SIGINT, SIGTERM and SIGHUP
/// sent to this process passed on to it.
struct ChildProcess {
  /// The child's pid.
  let pid: pid_t
  /// The read ends of the child's standard output (-1: not captured) and standard error.
  private let output: Int32
  private let error: Int32

  /// Starts `arguments[0]` (looked up in `PATH` as a shell does) with `arguments` and the
  /// environment `environment` (`NAME=value` strings); `captureOutput` false leaves it this
  /// process's standard output as it is. Throws with the errno when it cannot be started (not
  /// found, not executable).
  static func spawn(_ arguments: [String], environment: [String], captureOutput: Bool = true) throws(PortKitError)
    -> ChildProcess
  {
    guard let program = arguments.first else {
      throw PortKitError(.spawnFailed, "No command was given to run.")
    }
    var outputEnds: [Int32] = [-1, -1]
    var errorEnds: [Int32] = [-1, -1]
    guard !captureOutput || makePipe(&outputEnds), makePipe(&errorEnds) else {
      let code = errno
      for fd in outputEnds + errorEnds where fd >= 0 { close(fd) }
      throw PortKitError(.spawnFailed, "Could not make a pipe for the command's output (errno \(code)).", errno: code)
    }
    #if canImport(Darwin)
    var actions: posix_spawn_file_actions_t? = nil
    var attributes: posix_spawnattr_t? = nil
    #else
    var actions = posix_spawn_file_actions_t()
    var attributes = posix_spawnattr_t()
    #endif
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    if captureOutput { posix_spawn_file_actions_adddup2(&actions, outputEnds[1], 1) }
    posix_spawn_file_actions_adddup2(&actions, errorEnds[1], 2)
    // As a shell starts a program: nothing blocked (Dispatch's threads block signals) and
    // the default action for the signals this process catches or ignores.
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    var empty = sigset_t()
    sigemptyset(&empty)
    var defaults = sigset_t()
    sigemptyset(&defaults)
    for number in [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE, SIGCHLD] { sigaddset(&defaults, number) }
    posix_spawnattr_setsigmask(&attributes, &empty)
    posix_spawnattr_setsigdefault(&attributes, &defaults)
    posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
    let argv = arguments.map { strdup($0) } + [nil]
    let envp = environment.map { strdup($0) } + [nil]
    defer {
      argv.forEach { free($0) }
      envp.forEach { free($0) }
    }
    var pid: pid_t = 0
    let result = posix_spawnp(&pid, program, &actions, &attributes, argv, envp)
    for fd in [outputEnds[1], errorEnds[1]] where fd >= 0 { close(fd) }
    guard result == 0 else {
      for fd in [outputEnds[0], errorEnds[0]] where fd >= 0 { close(fd) }
      let reason = String(cString: strerror(result))
      throw PortKitError(.spawnFailed, "Could not run '\(program)': \(reason).", errno: result)
    }
    return ChildProcess(pid: pid, output: outputEnds[0], error: errorEnds[0])
  }

  /// A pipe whose ends are closed on exec (the child gets its own copies through dup2).
  private static func makePipe(_ ends: inout [Int32]) -> Bool {
    guard pipe(&ends) == 0 else { return false }
    for fd in ends { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
    return true
  }

  /// Copies the child's standard output to `outputTarget` and its standard error to
  /// `errorTarget` as it arrives, feeding both into an excerpt, until the child exits (what
  /// it wrote before exiting is read to the end; a daemon it left holding the pipes is not
  /// waited for). Returns its wait status and the excerpt.
  func relay(to outputTarget: Int32, _ errorTarget: Int32, excerpt: ErrorExcerpt) -> (ChildExit, ErrorExcerpt) {
    var excerpt = excerpt
    var streams: [(source: Int32, target: Int32)] = [(output, outputTarget), (error, errorTarget)].filter {
      $0.source >= 0
    }
    for stream in streams { _ = fcntl(stream.source, F_SETFL, fcntl(stream.source, F_GETFL) | O_NONBLOCK) }
    var buffer = [UInt8](repeating: 0, count: 1 << 16)
    var exit: ChildExit?
    /// Reads what `source` has now; false at its end.
    func pump(_ source: Int32, _ target: Int32) -> Bool {
      while true {
        let count = buffer.withUnsafeMutableBytes { read(source, $0.baseAddress, $0.count) }
        if count > 0 {
          excerpt.append(buffer[..<count])
          Self.writeAll(buffer[..<count], to: target)
          continue
        }
        if count < 0, errno == EINTR { continue }
        // EAGAIN: nothing more for now; 0 or another error: the end.
        return count < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)
      }
    }
    while !streams.isEmpty {
      var polled = streams.map { pollfd(fd: $0.source, events: Int16(POLLIN), revents: 0) }
      let ready = poll(&polled, nfds_t(polled.count), exit == nil ? 100 : 0)
      if ready < 0, errno != EINTR { break }
      var open: [(source: Int32, target: Int32)] = []
      for (index, stream) in streams.enumerated() {
        if polled[index].revents == 0 || pump(stream.source, stream.target) {
          open.append(stream)
        } else {
          close(stream.source)
        }
      }
      streams = open
      if exit != nil { break }
      exit = Self.reap(pid, blocking: false)
    }
    for stream in streams { close(stream.source) }
    return (exit ?? Self.reap(pid, blocking: true) ?? .exited(code: 1), excerpt)
  }

  /// The child's exit, once it has exited (`blocking`: waits for it). Signals stop being
  /// passed on before it is reaped, so that none can reach another process given its pid.
  private static func reap(_ pid: pid_t, blocking: Bool) -> ChildExit? {
    var info = siginfo_t()
    while true {
      // WNOWAIT: see that it exited, leaving it a zombie for now (its pid still taken).
      let result = waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT | (blocking ? 0 : WNOHANG))
      if result < 0, errno == EINTR { continue }
      if result < 0 { break }
      #if canImport(Glibc)
      let exited = info._sifields._sigchld.si_pid == pid
      #else
      let exited = info.si_pid == pid
      #endif
      if !exited { return nil }
      break
    }
    forwardedChild = 0
    for number in [SIGINT, SIGTERM, SIGHUP] { signal(number, SIG_DFL) }
    var status: Int32 = 0
    while true {
      let result = waitpid(pid, &status, 0)
      if result < 0, errno == EINTR { continue }
      guard result == pid else { return .exited(code: 1) }
      let signal = status & 0x7F
      return signal == 0 ? .exited(code: (status >> 8) & 0xFF) : .signalled(signal: signal)
    }
  }

  private static func writeAll(_ bytes: ArraySlice<UInt8>, to fd: Int32) {
    var offset = bytes.startIndex
    while offset < bytes.endIndex {
      let written = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
      if written < 0, errno == EINTR { continue }
      if written < 0, errno == EAGAIN || errno == EWOULDBLOCK {
        var target = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        _ = poll(&target, 1, 100)
        continue
      }
      // A reader that went away: the rest is dropped, and the child keeps running.
      if written <= 0 { return }
      offset += written
    }
  }

  // MARK: - passing signals on

  /// Passes SIGINT, SIGTERM and SIGHUP sent to this process on to `pid`, except those the
  /// kernel sent (a terminal's Ctrl-C, a hang-up): those reach the whole foreground process
  /// group, the child included, already.
  static func forwardSignals(to pid: pid_t) {
    forwardedChild = pid
    for number in [SIGINT, SIGTERM, SIGHUP] {
      var action = sigaction()
      #if canImport(Glibc)
      action.__sigaction_handler.sa_sigaction = forwardSignal
      action.sa_flags = SA_SIGINFO | SA_RESTART
      #else
      action.__sigaction_u.__sa_sigaction = forwardSignal
      action.sa_flags = SA_SIGINFO | SA_RESTART
      #endif
      sigemptyset(&action.sa_mask)
      sigaction(number, &action, nil)
    }
  }
}

/// The child signals are passed on to; set before the handlers are installed.
nonisolated(unsafe) private var forwardedChild: pid_t = 0

/// The handler: only async-signal-safe calls.
private func forwardSignal(_ number: Int32, _ info: UnsafeMutablePointer<siginfo_t>?, _: UnsafeMutableRawPointer?) {
  let child = forwardedChild
  guard child > 0 else { return }
  // si_code > 0: sent by the kernel (SI_KERNEL for a terminal's keys), not by kill(2).
  if let info, info.pointee.si_code > 0 { return }
  kill(child, number)
}
#endif
