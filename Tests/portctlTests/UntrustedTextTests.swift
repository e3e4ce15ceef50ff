#if os(Linux)
import Foundation
import PortKit
import Testing

/// Holders whose command line, process name and working directory carry newlines, ESC
/// sequences, BEL, C1 controls, DEL, bidi and zero-width characters, a line separator and an
/// invalid UTF-8 byte: human output shows them escaped, one line per row; JSON carries them.
@Suite(.serialized) struct UntrustedTextTests {
  /// Every kind at once (valid UTF-8), as argv[0].
  static let hostileCommand =
    "evil\nFORGED 1 root\u{1B}]0;pwned\u{07}\u{1B}[2J\u{1B}[31mred\u{85}c1\u{7F}del\u{202E}txt.exe\u{2066}iso\u{200B}zw\tTAB\\back\u{2028}ls"
  static let escapedCommand =
    #"evil\nFORGED 1 root\x1b]0;pwned\x07\x1b[2J\x1b[31mred\u0085c1\x7fdel\u202etxt.exe\u2066iso\u200bzw\tTAB\\back\u2028ls"#
  /// The process name (comm) and the executable path come from the file executed: a copy of
  /// port-holder with this name.
  static let hostileName = "\u{1B}[31mevil\n\u{202E}"
  static let escapedName = #"\x1b[31mevil\n\u202e"#
  static let hostileDirectory = "cwd\u{1B}]0;t\u{07}\n\u{202E}"
  static let escapedDirectory = #"cwd\x1b]0;t\x07\n\u202e"#

  /// Runs a copy of port-holder named `link`, with `argv0` as its argv[0],
  /// in the directory `cwd` (created), all given as raw bytes.
  private func holder(argv0: [UInt8], link: String, cwd: String, in directory: URL) throws -> Holder {
    let path = directory.appendingPathComponent(link).path
    try? FileManager.default.removeItem(atPath: path)
    // Copied by another process, so that no child forked meanwhile keeps it open for writing.
    let copied = try run(URL(fileURLWithPath: "/usr/bin/install"), ["-m", "755", Products.holder.path, path])
    try #require(copied.status == 0, "\(copied.stderr)")
    let script = """
      import os, sys
      exe, cwd, argv0 = (bytes.fromhex(a) for a in sys.argv[1:4])
      os.makedirs(cwd, exist_ok=True)
      os.chdir(cwd)
      os.execv(exe, [argv0] + [a.encode() for a in sys.argv[4:]])
      """
    func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }
    let directoryPath = directory.appendingPathComponent(cwd).path
    return try Holder(
      ["tcp:127.0.0.1:0"],
      launcher: ["/usr/bin/python3", "-c", script, hex(Array(path.utf8)), hex(Array(directoryPath.utf8)), hex(argv0)])
  }

  /// Characters that must never reach a terminal raw: controls other than the line feeds
  /// that end lines, DEL and C1, format characters, line and paragraph separators.
  private func raw(_ text: String) -> [String] {
    text.unicodeScalars.filter { scalar in
      if scalar == "\n" { return false }
      switch scalar.properties.generalCategory {
      case .control, .format, .lineSeparator, .paragraphSeparator: return true
      default: return false
      }
    }.map { String(format: "U+%04X", $0.value) }
  }

  private func scratch() throws -> URL {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("portctl-untrusted-\(getpid())")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    return directory
  }

  @Test func humanOutputEscapesEveryControlAndFormatCharacter() throws {
    guard FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") else {
      Issue.record("python3 is needed to exec a holder with an arbitrary argv[0]")
      return
    }
    let directory = try scratch()
    defer { try? FileManager.default.removeItem(at: directory) }
    let hostile = try holder(
      argv0: Array(Self.hostileCommand.utf8), link: Self.hostileName, cwd: Self.hostileDirectory, in: directory)
    defer { hostile.stop() }
    let invalid = try holder(
      argv0: Array("bad".utf8) + [0xFF] + Array("byte".utf8), link: "plain-link", cwd: "plain-dir",
      in: directory)
    defer { invalid.stop() }

    let who = try portctl("who", "\(hostile.port),\(invalid.port)")
    #expect(who.status == 0, "\(who.stderr)")
    #expect(raw(who.stdout).isEmpty, "raw characters in who: \(raw(who.stdout))")
    #expect(who.stdout.contains("\(hostile.pid)"))
    #expect(who.stdout.contains(Self.escapedCommand + " tcp:127.0.0.1:0 --lifeline"))
    #expect(who.stdout.contains(Self.escapedDirectory))
    #expect(who.stdout.contains("bad\u{FFFD}byte tcp:127.0.0.1:0 --lifeline"))
    // The socket table: a header and exactly one line per socket.
    let blocks = who.stdout.components(separatedBy: "\n\n")
    let table = blocks[0].split(separator: "\n")
    #expect(table.count == 3, "\(table)")
    // The details table: one line per process, columns aligned on the escaped text (the
    // executable path and the working directory are hostile).
    let details = try #require(blocks.count > 1 ? blocks[1].split(separator: "\n").map(String.init) : nil)
    #expect(details.count == 3, "\(details)")
    let column = try #require(details[0].range(of: "CWD")).lowerBound.utf16Offset(in: details[0])
    let row = try #require(details.first { $0.hasPrefix("\(hostile.pid) ") })
    #expect(row.contains(directory.appendingPathComponent(Self.escapedName).path + "  "))
    #expect(
      row.range(of: directory.path + "/" + Self.escapedDirectory)?.lowerBound.utf16Offset(in: row) == column,
      "\(details)")
    #expect(!who.stdout.split(separator: "\n").contains { $0.hasPrefix("FORGED") })

    let list = try portctl("list", "--pid", "\(hostile.pid)")
    #expect(list.status == 0, "\(list.stderr)")
    #expect(raw(list.stdout).isEmpty, "raw characters in list: \(raw(list.stdout))")
    let rows = list.stdout.split(separator: "\n")
    #expect(rows.count == 2, "\(rows)")
    #expect(rows.last?.hasSuffix(Self.escapedCommand + " tcp:127.0.0.1:0 --lifeline") == true)

    let why = try portctl("why", "\(hostile.port)")
    #expect(why.status == 0)
    #expect(raw(why.stdout).isEmpty, "raw characters in why: \(raw(why.stdout))")
    #expect(why.stdout.contains("  \(hostile.pid) \(Self.escapedCommand) tcp:127.0.0.1:0 --lifeline  ("))

    let check = try portctl("check", "\(hostile.port)")
    #expect(check.status == 1)
    #expect(raw(check.stdout).isEmpty, "raw characters in check: \(raw(check.stdout))")
    #expect(check.stdout.contains("is held by \(Self.escapedName) (pid \(hostile.pid))"), "\(check.stdout)")

    for command in ["kill", "free"] {
      let refused = try portctl(command, "\(hostile.port)")
      #expect(refused.status == 4, "\(command): \(refused.stderr)")
      #expect(refused.stdout.isEmpty)
      #expect(raw(refused.stderr).isEmpty, "raw characters in \(command): \(raw(refused.stderr))")
      #expect(refused.stderr.contains("  \(hostile.pid)"))
      #expect(refused.stderr.contains(Self.escapedCommand))
      #expect(!refused.stderr.split(separator: "\n").contains { $0.hasPrefix("FORGED") })
      #expect(isAlive(hostile.pid))
    }
  }

  /// The prompt that asks for consent on a terminal shows the escaped command line.
  @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/script")))
  func consentPromptOnATerminalIsEscaped() throws {
    guard FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") else {
      Issue.record("python3 is needed to exec a holder with an arbitrary argv[0]")
      return
    }
    let directory = try scratch()
    defer { try? FileManager.default.removeItem(at: directory) }
    let hostile = try holder(
      argv0: Array(Self.hostileCommand.utf8), link: Self.hostileName, cwd: Self.hostileDirectory, in: directory)
    defer { hostile.stop() }
    for command in ["kill", "free"] {
      let line = "\(Products.portctl.path) \(command) \(hostile.port)"
      let declined = try run(
        URL(fileURLWithPath: "/usr/bin/script"), ["-qec", line, "/dev/null"], environment: ["NO_COLOR": "1"],
        input: "n\n")
      #expect(declined.status == 4)
      // The terminal's own carriage returns aside, nothing raw reaches it.
      let shown = declined.stdout.replacingOccurrences(of: "\r", with: "")
      #expect(shown.contains("Send SIGTERM, then SIGKILL after 5 s? [y/N]"))
      #expect(raw(shown).isEmpty, "raw characters in the \(command) prompt: \(raw(shown))")
      #expect(shown.contains(Self.escapedCommand))
      #expect(!shown.split(separator: "\n").contains { $0.hasPrefix("FORGED") })
      #expect(isAlive(hostile.pid))
    }
  }

  @Test func jsonCarriesTheExactStrings() throws {
    guard FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") else {
      Issue.record("python3 is needed to exec a holder with an arbitrary argv[0]")
      return
    }
    let directory = try scratch()
    defer { try? FileManager.default.removeItem(at: directory) }
    let hostile = try holder(
      argv0: Array(Self.hostileCommand.utf8), link: Self.hostileName, cwd: Self.hostileDirectory, in: directory)
    defer { hostile.stop() }
    let invalid = try holder(
      argv0: Array("bad".utf8) + [0xFF] + Array("byte".utf8), link: "plain-link", cwd: "plain-dir",
      in: directory)
    defer { invalid.stop() }

    let result = try portctl("who", "\(hostile.port),\(invalid.port)", "--json")
    #expect(result.status == 0)
    // Escaped inside the JSON text itself, so that even the raw document is inert on a terminal.
    #expect(raw(result.stdout).isEmpty, "raw characters in the JSON text: \(raw(result.stdout))")
    let processes = try result.json().sockets.flatMap { $0["processes"] as? [[String: Any]] ?? [] }
    let first = try #require(processes.first { $0["pid"] as? Int == Int(hostile.pid) })
    #expect((first["commandLine"] as? [String])?.first == Self.hostileCommand)
    #expect(first["name"] as? String == Self.hostileName)
    #expect(first["executable"] as? String == directory.appendingPathComponent(Self.hostileName).path)
    #expect(first["cwd"] as? String == directory.appendingPathComponent(Self.hostileDirectory).path)
    let second = try #require(processes.first { $0["pid"] as? Int == Int(invalid.pid) })
    // An invalid UTF-8 sequence is carried as U+FFFD (docs/json.md).
    #expect((second["commandLine"] as? [String])?.first == "bad\u{FFFD}byte")
  }
}

/// Each quoted value, given to a real shell, is exactly one argument equal to the value.
@Suite struct ShellQuotingRoundTripTests {
  @Test func aRealShellGetsBackEachValueAsOneWord() throws {
    let values = [
      "", "api", "api && rm -rf ~ #", "it's", "'", "''", "$(id)", "`id`", "a\nb", "a\nb\\c", "\"q\"", "*", "~",
      "=ls", "!!", "a b\tc", "${IFS}", "-n", "%1", "\u{1B}[31m", "é\u{202E}",
    ]
    let script = values.map { "printf '%s\\0' \(PortKit.ShellQuoting.quote($0))" }.joined(separator: "\n")
    let result = try run(URL(fileURLWithPath: "/bin/sh"), ["-c", script])
    #expect(result.status == 0, "\(result.stderr)")
    let words = result.stdout.split(separator: "\0", omittingEmptySubsequences: false).dropLast().map(String.init)
    #expect(words == values)
  }
}
#endif
