#if os(Linux)
import Foundation
import Testing

/// portctl ends every run through its own exit path: the standard streams are flushed
/// before the process ends, and a usage error is 64 on every platform.
///
/// On Windows, ArgumentParser's `exit(withError:)` ends the process with `_exit`, which
/// drops whatever the C library still buffers for a file (`who --json > file` left an empty
/// file). Linux's `exit(3)` flushes, so each run is made twice: as is, and with `exit(3)`
/// replaced through `LD_PRELOAD` by one that calls `_exit(2)` the way Windows' does. Only an
/// exit path that flushes by itself keeps the whole output then.
@Suite(.serialized) struct ExitPathTests {
  /// A C compiler for the `exit(3)` replacement: needed under CI, skipped visibly elsewhere.
  static let compiler: String? = ["/usr/bin/cc", "/usr/bin/gcc", "/usr/bin/clang"].first {
    FileManager.default.isExecutableFile(atPath: $0)
  }
  static let canRun = compiler != nil || ProcessInfo.processInfo.environment["CI"] == "true"

  /// A shared object whose `exit` is `_exit`: no atexit handlers, no stdio flush.
  static let exitWithoutFlush: Result<String, HolderError> = {
    guard let compiler else { return .failure(HolderError(message: "no C compiler (cc, gcc or clang) in /usr/bin")) }
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("portctl-exit-\(getpid())")
    try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    let source = directory.appendingPathComponent("exit.c")
    let library = directory.appendingPathComponent("exit-without-flush.so")
    let code = "#include <unistd.h>\nvoid exit(int status) { _exit(status); }\n"
    guard (try? code.write(to: source, atomically: true, encoding: .utf8)) != nil,
      let built = try? run(URL(fileURLWithPath: compiler), ["-shared", "-fPIC", "-o", library.path, source.path]),
      built.status == 0
    else { return .failure(HolderError(message: "could not build the exit(3) replacement with \(compiler)")) }
    return .success(library.path)
  }()

  /// What one run left: its status, the file standard output went to, and standard error.
  struct FileRun {
    var status: Int32
    var file: String
    var stderr: String
  }

  /// Runs `portctl ARGUMENTS` with standard output redirected to a new regular file (not a
  /// pipe: the C library buffers a file fully), with `exit(3)` flushing or not.
  func toFile(_ arguments: [String], unflushedExit: Bool) throws -> FileRun {
    let file = FileManager.default.temporaryDirectory.appendingPathComponent("portctl-out-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: file) }
    var preload = ""
    if unflushedExit {
      preload = "LD_PRELOAD='\(try Self.exitWithoutFlush.get())' "
    }
    let quoted = arguments.map { "'\($0)'" }.joined(separator: " ")
    let result = try run(
      URL(fileURLWithPath: "/usr/bin/timeout"),
      ["-s", "KILL", "60", "/bin/sh", "-c", "\(preload)exec '\(Products.portctl.path)' \(quoted) > '\(file.path)'"])
    let written = try String(contentsOf: file, encoding: .utf8)
    return FileRun(status: result.status, file: written, stderr: result.stderr)
  }

  /// The same run both ways.
  func bothWays(_ arguments: String...) throws -> [FileRun] {
    try [false, true].map { try toFile(arguments, unflushedExit: $0) }
  }

  @Test(.enabled(if: canRun, "needs a C compiler"))
  func usageErrorExits64WithTheMessageOnStandardError() throws {
    for result in try bothWays("who", "abc") {
      #expect(result.status == 64)
      #expect(result.file.isEmpty)
      #expect(
        result.stderr.hasPrefix("Error: invalid port spec 'abc': 'abc' is not a port number."), "\(result.stderr)")
      #expect(result.stderr.contains("Usage: portctl who"), "\(result.stderr)")
    }
    for result in try bothWays("check", "--frobnicate", "80") {
      #expect(result.status == 64)
      #expect(result.stderr.contains("--frobnicate"), "\(result.stderr)")
    }
    // With --json the usage error is the document, whole, in the file.
    for result in try bothWays("who", "abc", "--json") {
      #expect(result.status == 64)
      let document = try #require(try JSONSerialization.jsonObject(with: Data(result.file.utf8)) as? [String: Any])
      #expect(document["exitCode"] as? Int == 64)
      let error = try #require(document["error"] as? [String: Any])
      #expect(error["code"] as? String == "usage")
    }
  }

  @Test(.enabled(if: canRun, "needs a C compiler"))
  func jsonAnswerForAFreePortIsWholeInAFile() throws {
    let port = try unusedPort()
    for result in try bothWays("who", "\(port)", "--json") {
      #expect(result.status == 1, "\(result.stderr)")
      #expect(result.file.hasSuffix("}\n"), "\(result.file)")
      let document = try #require(try JSONSerialization.jsonObject(with: Data(result.file.utf8)) as? [String: Any])
      #expect(document["exitCode"] as? Int == 1)
      #expect(document["held"] as? Bool == false)
      #expect(document.sockets.isEmpty)
    }
  }

  @Test(.enabled(if: canRun, "needs a C compiler"))
  func answersOfEveryStatusAreWholeInAFile() throws {
    let port = try unusedPort()
    for result in try bothWays("who", "\(port)") {
      #expect(result.status == 1, "\(result.stderr)")
      #expect(result.file == "nothing listening on \(port)\n")
    }
    // A held port (status 0, the command returns normally) and `list` (which ends at once).
    let holder = try Holder("tcp:127.0.0.1:0")
    for result in try bothWays("who", "\(holder.port)", "--json") {
      #expect(result.status == 0, "\(result.stderr)")
      let document = try #require(try JSONSerialization.jsonObject(with: Data(result.file.utf8)) as? [String: Any])
      let pids = document.sockets.flatMap {
        ($0["processes"] as? [[String: Any]] ?? []).compactMap { $0["pid"] as? Int }
      }
      #expect(pids == [Int(holder.pid)])
    }
    for result in try bothWays("list", "--pid", "\(holder.pid)") {
      #expect(result.status == 0, "\(result.stderr)")
      #expect(result.file.hasPrefix("PROTO"), "\(result.file)")
      #expect(result.file.contains("127.0.0.1:\(holder.port)"), "\(result.file)")
    }
  }

  @Test(.enabled(if: canRun, "needs a C compiler"))
  func helpVersionAndCompletionExitZeroOnStandardOutput() throws {
    for result in try bothWays("--help") {
      #expect(result.status == 0)
      #expect(result.file.hasPrefix("OVERVIEW: Find out who holds a port, and why.\n"), "\(result.file)")
      #expect(result.file.contains("64  usage error"))
      #expect(result.stderr.isEmpty)
    }
    for result in try bothWays("help", "who") {
      #expect(result.status == 0)
      #expect(result.file.hasPrefix("OVERVIEW: Show every socket bound on the ports"), "\(result.file)")
    }
    for result in try bothWays("who", "--help") {
      #expect(result.status == 0)
      #expect(result.file.contains("USAGE: portctl who"), "\(result.file)")
    }
    for result in try bothWays("--version") {
      #expect(result.status == 0)
      #expect(result.file == "0.1.0\n")
    }
    for result in try bothWays("--generate-completion-script", "bash") {
      #expect(result.status == 0)
      #expect(result.file.hasPrefix("#!/bin/bash\n"), "\(result.file.prefix(80))")
      #expect(result.file.contains("complete "), "\(result.file.suffix(200))")
    }
  }
}
#endif
