import PortKit

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#elseif os(Windows)
// Swift's `errno` on Windows is declared in the CRT overlay (it reads `_get_errno`), which
// also re-exports the C runtime (`ucrt`): `import ucrt` alone has no `errno`.
import CRT
#endif

/// The process's standard streams and environment, as the renderer needs them.
enum Terminal {
  /// True when standard input is a terminal (someone can answer a prompt).
  static var stdinIsTTY: Bool { isTerminal(0) }

  static func isTerminal(_ fd: Int32) -> Bool {
    #if os(Windows)
    return _isatty(fd) != 0
    #else
    return isatty(fd) == 1
    #endif
  }

  /// Prints `prompt` on standard error and reads one line of answer from standard input;
  /// `nil` at end of input.
  static func ask(_ prompt: String) -> String? {
    writeError(prompt)
    return readLine(strippingNewline: true).map { String($0.filter { !$0.isWhitespace }) }
  }

  /// Reads standard input to its end (so that the program writing it never blocks or
  /// fails), keeping the part worth reading for a bind error in bounded memory.
  static func readStandardInput() -> ErrorExcerpt {
    var excerpt = ErrorExcerpt()
    var buffer = [UInt8](repeating: 0, count: 1 << 16)
    while true {
      #if os(Windows)
      let count = buffer.withUnsafeMutableBytes { Int(_read(0, $0.baseAddress, UInt32($0.count))) }
      #else
      let count = buffer.withUnsafeMutableBytes { read(0, $0.baseAddress, $0.count) }
      #endif
      if count < 0, errno == EINTR { continue }
      if count <= 0 { break }
      excerpt.append(buffer[..<count])
    }
    return excerpt
  }

  /// The width of the terminal on standard error, when it is one.
  static var errorColumns: Int? {
    #if os(Windows)
    return WindowsConsole.columns(stream: 2)
    #else
    var size = winsize()
    guard ioctl(2, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 else { return nil }
    return Int(size.ws_col)
    #endif
  }

  /// True when standard output is a terminal.
  static var stdoutIsTTY: Bool { isTerminal(1) }

  /// The width in columns of the terminal standard output goes to; `nil` when it is not a
  /// terminal (a pipe or a file gets whole lines). A terminal that reports no size counts as
  /// `COLUMNS` wide, or 80.
  static var outputWidth: Int? {
    guard stdoutIsTTY else { return nil }
    #if os(Windows)
    let reported = WindowsConsole.columns(stream: 1) ?? 0
    #else
    var size = winsize()
    let reported = ioctl(1, UInt(TIOCGWINSZ), &size) == 0 ? Int(size.ws_col) : 0
    #endif
    if reported > 0 { return reported }
    if let columns = environment("COLUMNS").flatMap({ Int($0) }), columns > 0 { return columns }
    return 80
  }

  /// Colour on standard output: only on a terminal, never with `NO_COLOR` set (to anything
  /// non-empty) or `TERM=dumb`. On Windows the terminal must also be a console that draws
  /// escape sequences: the classic console prints them raw until virtual terminal
  /// processing is turned on, which is tried only when colour is otherwise wanted.
  static var colorEnabled: Bool {
    if let noColor = environment("NO_COLOR"), !noColor.isEmpty { return false }
    if environment("TERM") == "dumb" { return false }
    guard stdoutIsTTY else { return false }
    #if os(Windows)
    return WindowsConsole.enableVirtualTerminal(stream: 1)
    #else
    return true
    #endif
  }

  static func environment(_ name: String) -> String? {
    #if os(Windows)
    // The C runtime marks `getenv` deprecated (a warning, an error in CI); `_dupenv_s` gives a
    // copy to free.
    var value: UnsafeMutablePointer<CChar>? = nil
    var length = 0
    guard _dupenv_s(&value, &length, name) == 0, let value else { return nil }
    defer { free(value) }
    return String(cString: value)
    #else
    return getenv(name).map { String(cString: $0) }
    #endif
  }

  /// Flushes the standard streams and ends the process with `status` at once, skipping the
  /// deallocation of everything still alive (worth it after a large listing).
  static func exitNow(_ status: Int32) -> Never {
    StandardStreams.finish(status)
  }

  /// Writes a line to standard error.
  static func printError(_ line: String) {
    writeError(line + "\n")
  }

  static func writeError(_ text: String) {
    var bytes = Array(text.utf8)
    var offset = 0
    while offset < bytes.count {
      #if os(Windows)
      let written = Int(bytes.withUnsafeMutableBytes { _write(2, $0.baseAddress! + offset, UInt32($0.count - offset)) })
      #else
      let written = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress! + offset, $0.count - offset) }
      #endif
      if written <= 0 { return }
      offset += written
    }
  }
}
