#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

#if !os(Windows)
/// The terminal as a full screen: the alternate screen, raw mode (no echo, no line editing,
/// no signals from keys: Ctrl-C arrives as a key), the cursor hidden, line wrap off. Every
/// frame goes out in one `write`. The terminal is put back on every way out: ``restore()``
/// (normal quit, an error thrown), and a handler for SIGTERM, SIGINT, SIGHUP, SIGQUIT and
/// the crash signals that restores it and then dies of the signal as it would have.
///
/// One session at a time: the saved terminal state is global, as a signal handler needs it.
public final class TerminalSession {
  /// The terminal's file descriptor (keys are read and frames written there).
  public let descriptor: Int32
  private var previous: [String] = []
  private var previousSize = (rows: 0, columns: 0)

  /// Takes over the terminal on `descriptor`: fails when it is not a terminal.
  public init(descriptor: Int32 = 1) throws(SessionError) {
    self.descriptor = descriptor
    guard isatty(descriptor) == 1 else { throw SessionError("Standard output is not a terminal.") }
    var saved = termios()
    guard tcgetattr(descriptor, &saved) == 0 else { throw SessionError("The terminal's settings could not be read.") }
    SessionState.saved = saved
    SessionState.descriptor = descriptor
    var ends: [Int32] = [-1, -1]
    if SessionState.wakeRead < 0, pipe(&ends) == 0 {
      SessionState.wakeRead = ends[0]
      SessionState.wakeWrite = ends[1]
      for end in ends { _ = fcntl(end, F_SETFL, fcntl(end, F_GETFL) | O_NONBLOCK) }
    }
    enter()
    SessionState.installHandlers()
  }

  /// Raw mode and the alternate screen (again, after ``suspend()``).
  public func enter() {
    var raw = SessionState.saved
    raw.c_iflag &= ~tcflag_t(BRKINT | ICRNL | INPCK | ISTRIP | IXON)
    raw.c_oflag &= ~tcflag_t(OPOST)
    raw.c_cflag |= tcflag_t(CS8)
    raw.c_lflag &= ~tcflag_t(ECHO | ICANON | IEXTEN | ISIG)
    withUnsafeMutableBytes(of: &raw.c_cc) { cc in
      cc[Int(VMIN)] = 0
      cc[Int(VTIME)] = 0
    }
    // TCSADRAIN, not TCSAFLUSH: keys typed before the view was up are kept and read.
    _ = tcsetattr(descriptor, TCSADRAIN, &raw)
    SessionState.active = 1
    SessionState.writeAll(descriptor, Array(SessionState.enterSequence.utf8))
    previous = []
  }

  /// Puts the terminal back as it was (the normal screen, line mode, echo, the cursor);
  /// safe to call more than once.
  public func restore() {
    guard SessionState.active == 1 else { return }
    SessionState.restoreNow()
  }

  /// Puts the terminal back for a while (to run a command that asks on it); ``enter()``
  /// takes it over again.
  public func suspend() { restore() }

  /// Writes `prompt` and waits for one key, on the normal screen (after ``suspend()``).
  public func waitForKey(prompt: String) {
    SessionState.writeAll(descriptor, Array(prompt.utf8))
    var raw = SessionState.saved
    raw.c_lflag &= ~tcflag_t(ECHO | ICANON)
    withUnsafeMutableBytes(of: &raw.c_cc) { cc in
      cc[Int(VMIN)] = 1
      cc[Int(VTIME)] = 0
    }
    _ = tcsetattr(descriptor, TCSAFLUSH, &raw)
    var byte: UInt8 = 0
    while true {
      let count = readBytes(0, &byte, 1)
      if count >= 0 || errno != EINTR { break }
    }
    _ = tcsetattr(descriptor, TCSAFLUSH, &SessionState.saved)
  }

  /// Rows and columns of the terminal (at least 1×1; 24×80 when it reports none).
  public var size: (rows: Int, columns: Int) {
    var size = winsize()
    guard ioctl(descriptor, UInt(TIOCGWINSZ), &size) == 0, size.ws_row > 0, size.ws_col > 0 else { return (24, 80) }
    return (Int(size.ws_row), Int(size.ws_col))
  }

  /// Draws `lines` (each already laid out to the width, styled), writing only the lines
  /// that changed since the previous frame, in one `write`. A change of size redraws all.
  public func draw(_ lines: [String]) {
    let size = self.size
    var output = ""
    if size != previousSize || previous.count != lines.count {
      output += "\u{1B}[0m\u{1B}[2J"
      previous = []
      previousSize = size
    }
    for (row, line) in lines.enumerated() where row >= previous.count || previous[row] != line {
      // Each line fills the width: no erase after it (with wrap off, an erase at the last
      // column would take the last character with it).
      output += "\u{1B}[\(row + 1);1H\u{1B}[0m" + line + "\u{1B}[0m"
    }
    previous = lines
    guard !output.isEmpty else { return }
    SessionState.writeAll(descriptor, Array(output.utf8))
  }

  /// Forgets the previous frame, so the next ``draw(_:)`` redraws everything.
  public func invalidate() { previous = [] }

  /// Waits up to `milliseconds` for input or a resize. Returns the bytes read (empty on a
  /// timeout or a resize), and whether the window was resized.
  public func read(timeout milliseconds: Int32) -> (bytes: [UInt8], resized: Bool) {
    var fds = [pollfd(fd: 0, events: Int16(POLLIN), revents: 0)]
    if SessionState.wakeRead >= 0 { fds.append(pollfd(fd: SessionState.wakeRead, events: Int16(POLLIN), revents: 0)) }
    let ready = poll(&fds, nfds_t(fds.count), milliseconds)
    var resized = false
    if ready > 0, fds.count > 1, fds[1].revents != 0 {
      var sink = [UInt8](repeating: 0, count: 64)
      while readBytes(SessionState.wakeRead, &sink, sink.count) > 0 {}
      resized = true
    }
    guard ready > 0, fds[0].revents & Int16(POLLIN | POLLHUP | POLLERR) != 0 else { return ([], resized) }
    var buffer = [UInt8](repeating: 0, count: 4096)
    let count = readBytes(0, &buffer, buffer.count)
    if count == 0 || (count < 0 && errno != EINTR && errno != EAGAIN) { return ([0x03], resized) }
    return (count > 0 ? Array(buffer[..<count]) : [], resized)
  }

  deinit { restore() }
}

/// `read(2)`, named apart from ``TerminalSession/read(timeout:)``.
private func readBytes(_ descriptor: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int) -> Int {
  read(descriptor, buffer, count)
}

/// Why the terminal could not be taken over.
public struct SessionError: Error, CustomStringConvertible {
  /// A full sentence.
  public var description: String
  init(_ description: String) { self.description = description }
}

/// What the signal handlers need, as globals: they may run at any moment, on any thread,
/// and only touch these values and async-signal-safe calls (`write`, `tcsetattr`, `signal`,
/// `raise`).
enum SessionState {
  nonisolated(unsafe) static var saved = termios()
  nonisolated(unsafe) static var descriptor: Int32 = 1
  nonisolated(unsafe) static var active: Int32 = 0
  nonisolated(unsafe) static var wakeRead: Int32 = -1
  nonisolated(unsafe) static var wakeWrite: Int32 = -1
  nonisolated(unsafe) static var installed = false

  /// Alternate screen, cursor hidden, wrap off.
  static let enterSequence = "\u{1B}[?1049h\u{1B}[?25l\u{1B}[?7l\u{1B}[0m\u{1B}[2J"
  /// Attributes reset, wrap on, cursor shown, normal screen.
  static let leaveBytes: [UInt8] = Array("\u{1B}[0m\u{1B}[?7h\u{1B}[?25h\u{1B}[?1049l".utf8)

  static func restoreNow() {
    active = 0
    leaveBytes.withUnsafeBytes { _ = write(descriptor, $0.baseAddress, $0.count) }
    _ = tcsetattr(descriptor, TCSAFLUSH, &saved)
  }

  static func writeAll(_ descriptor: Int32, _ bytes: [UInt8]) {
    var offset = 0
    while offset < bytes.count {
      let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress! + offset, $0.count - offset) }
      if written < 0, errno == EINTR || errno == EAGAIN { continue }
      if written <= 0 { return }
      offset += written
    }
  }

  static func installHandlers() {
    guard !installed else { return }
    installed = true
    for number in [SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGABRT, SIGILL, SIGTRAP, SIGSEGV, SIGBUS, SIGFPE] {
      _ = signal(number) { number in
        if SessionState.active == 1 { SessionState.restoreNow() }
        _ = signal(number, SIG_DFL)
        _ = raise(number)
      }
    }
    _ = signal(SIGWINCH) { _ in
      let saved = errno
      var byte: UInt8 = 1
      if SessionState.wakeWrite >= 0 { _ = write(SessionState.wakeWrite, &byte, 1) }
      errno = saved
    }
  }
}
#endif
