#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Darwin)
@preconcurrency import Darwin
#elseif os(Windows)
@preconcurrency import CRT
#endif

/// Guards the standard streams for the whole run: a closed one is replaced before anything
/// else can be opened in its place (a socket opened as descriptor 1 would receive the
/// output), a reader that goes away ends the output instead of killing the process, and a
/// failed write to standard output turns the exit status into 2 with a sentence saying why.
enum StandardStreams {
  /// Set once in ``prepare()``, before any other thread starts.
  nonisolated(unsafe) private static var standardOutputWasClosed = false
  /// Set by the first ``checkOutput()``, on the exiting thread.
  nonisolated(unsafe) private static var outputChecked = false

  static func prepare() {
    #if !os(Windows)
    signal(SIGPIPE, SIG_IGN)
    for fd: Int32 in 0...2 where fcntl(fd, F_GETFD) == -1 && errno == EBADF {
      if fd == 1 {
        // A pipe whose reader is gone: every write fails (EPIPE), which the exit check
        // reports, while `-q` (which writes nothing) still answers by its status.
        var ends: [Int32] = [-1, -1]
        if pipe(&ends) == 0 {
          close(ends[0])
          if ends[1] != 1 {
            dup2(ends[1], 1)
            close(ends[1])
          }
          standardOutputWasClosed = true
          continue
        }
      }
      let null = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY)
      if null >= 0, null != fd {
        dup2(null, fd)
        close(null)
      }
    }
    atexit { StandardStreams.checkOutput() }
    #endif
  }

  /// Ends the process with `status`, after writing out what standard output and standard
  /// error still buffer (a failed write to standard output turns it into 2). Every exit of
  /// portctl goes through here, so nothing relies on how the platform's exit flushes: the
  /// `_exit` ArgumentParser uses on Windows flushes nothing.
  static func finish(_ status: Int32) -> Never {
    checkOutput()
    fflush(stderr)
    exit(status)
  }

  /// Flushes standard output and, when a write failed, says so and exits 2. Runs once: from
  /// ``finish(_:)``, or at exit when the process ends another way.
  private static func checkOutput() {
    guard !outputChecked else { return }
    outputChecked = true
    #if os(Windows)
    fflush(stdout)
    #else
    errno = 0
    let flushed = fflush(stdout) == 0
    let code = errno
    guard !flushed || ferror(stdout) != 0 else { return }
    if standardOutputWasClosed {
      Terminal.printError("portctl: could not write the output: standard output is closed.")
    } else if code != EPIPE {
      Terminal.printError("portctl: could not write the output: \(String(cString: strerror(code))).")
    }
    _exit(ExitStatus.systemError)
    #endif
  }
}
