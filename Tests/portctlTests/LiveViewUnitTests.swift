import LiveView
import PortKit
import Testing

/// The live view's pure parts: key decoding, the filter, the layout at 80 and 200 columns,
/// and the selection pinned across refreshes.
@Suite struct LiveViewUnitTests {
  // MARK: - keys

  @Test func decodesArrowsEnterBackspaceAndCtrlC() {
    var decoder = KeyDecoder()
    let keys = decoder.feed(Array("\u{1B}[A\u{1B}[B\u{1B}OC\u{1B}OD\r\u{7F}\u{03}jK/".utf8))
    #expect(
      keys == [
        .up, .down, .right, .left, .enter, .backspace, .interrupt, .character("j"), .character("K"), .character("/"),
      ])
    #expect(!decoder.hasPending)
    #expect(decoder.feed(Array("\u{1B}[5~\u{1B}[6~\u{1B}[H\u{1B}[4~".utf8)) == [.pageUp, .pageDown, .home, .end])
    #expect(decoder.feed([0x0E, 0x10]) == [.control(0x0E), .control(0x10)])
  }

  @Test func aSequenceSplitAcrossReadsIsOneKey() {
    var decoder = KeyDecoder()
    #expect(decoder.feed([0x1B]) == [])
    #expect(decoder.hasPending)
    #expect(decoder.feed(Array("[".utf8)) == [])
    #expect(decoder.feed(Array("B".utf8)) == [.down])
    // A character of several UTF-8 bytes, split.
    let bytes = Array("é".utf8)
    #expect(decoder.feed(bytes.prefix(1)) == [])
    #expect(decoder.feed(bytes.dropFirst()) == [.character("é")])
  }

  @Test func aLoneEscapeIsTheEscKeyOnlyAfterTheWait() {
    var decoder = KeyDecoder()
    #expect(decoder.feed([0x1B]) == [])
    #expect(decoder.flush() == [.escape])
    #expect(!decoder.hasPending)
    // Esc then a key typed quickly (Alt-q): Esc, then the key.
    #expect(decoder.feed(Array("\u{1B}q".utf8)) == [.escape, .character("q")])
    // Esc Esc: the first is complete at once.
    #expect(decoder.feed([0x1B, 0x1B]) == [.escape])
    #expect(decoder.flush() == [.escape])
  }

  @Test func unknownAndBrokenInputNeverTraps() {
    var decoder = KeyDecoder()
    #expect(decoder.feed(Array("\u{1B}[99x".utf8)) == [.other])
    #expect(decoder.feed([0xFF, 0xC3, 0x41]) == [.other, .other, .character("A")])
    var generator = SystemRandomNumberGenerator()
    for _ in 0..<500 {
      let bytes = (0..<Int.random(in: 0...24, using: &generator)).map { _ in
        UInt8.random(in: 0...255, using: &generator)
      }
      _ = decoder.feed(bytes)
      _ = decoder.flush()
    }
    #expect(!decoder.hasPending)
  }

  // MARK: - filter

  @Test func parsesTheFilterForms() {
    #expect(LiveFilter(":3000") == .port(3000))
    #expect(LiveFilter("!4242") == .pid(4242))
    #expect(LiveFilter("/src/app") == .path("/src/app"))
    #expect(LiveFilter("Node") == .text("node"))
    #expect(LiveFilter("  ") == .everything)
    #expect(LiveFilter(":") == .incomplete)
    #expect(LiveFilter(":70000") == .incomplete)
    #expect(LiveFilter("!-3") == .incomplete)
    #expect(LiveFilter("!abc") == .incomplete)
  }

  @Test func theFilterMatchesPortPidPathAndName() {
    let rows = Self.rows
    #expect(rows.filter(LiveFilter(":3000").matches).map(\.port) == [3000])
    #expect(rows.filter(LiveFilter("!202").matches).map(\.port) == [8080])
    #expect(rows.filter(LiveFilter("/src/app").matches).map(\.port) == [3000])
    #expect(rows.filter(LiveFilter("VITE").matches).map(\.port) == [3000])
    #expect(rows.filter(LiveFilter("nginx").matches).map(\.port) == [8080])
    #expect(rows.filter(LiveFilter(":30").matches).isEmpty)
  }

  // MARK: - layout

  @Test(arguments: [80, 200]) func everyLineIsExactlyTheWidth(width: Int) {
    var model = LiveModel()
    model.update(Self.rows, now: 1_000_100)
    let frame = LiveLayout.frame(
      model, width: width, height: 24, title: "portctl", status: "keys", panel: nil,
      paint: .init(enabled: false))
    #expect(frame.count == 24)
    for line in frame { #expect(DisplayWidth.of(line) == width, "\(line)") }
    #expect(!frame.joined().contains("\u{1B}"))
    let header = frame[1]
    for title in ["PORT", "PROTO", "PID", "PROCESS", "PROJECT", "UPTIME", "MANAGER"] {
      #expect(header.contains(title), "\(title) missing at \(width): \(header)")
    }
    if width == 200 {
      // Wide enough: nothing is cut.
      #expect(frame.contains { $0.contains("my-very-long-project-name (feature/x)") })
    } else {
      #expect(frame.contains { $0.contains("…") })
    }
    // The first row is selected, and marked so without colour.
    #expect(frame[2].hasPrefix(">"))
  }

  @Test func colourWrapsWholeLinesAndCutsNeverSplitAnEscape() {
    var model = LiveModel()
    model.update(Self.rows, now: 1_000_100)
    let plain = LiveLayout.frame(
      model, width: 60, height: 10, title: "t", status: "s", panel: nil, paint: .init(enabled: false))
    let coloured = LiveLayout.frame(
      model, width: 60, height: 10, title: "t", status: "s", panel: nil, paint: .init(enabled: true))
    for (bare, painted) in zip(plain, coloured) {
      #expect(Self.stripped(painted) == bare)
    }
  }

  @Test func displayWidthCountsWideAndCombiningCharacters() {
    #expect(DisplayWidth.of("abc") == 3)
    #expect(DisplayWidth.of("日本") == 4)
    #expect(DisplayWidth.of("e\u{301}") == 1)
    #expect(DisplayWidth.cut("日本語です", to: 5) == "日本…")
    #expect(DisplayWidth.of(DisplayWidth.fit("日本語です", to: 6)) == 6)
    #expect(DisplayWidth.cut("abcdef", to: 1) == "…")
    #expect(DisplayWidth.cut("abcdef", to: 0) == "")
  }

  @Test func textFromOtherProcessesIsEscapedInRows() {
    let process = ProcessRecord(pid: 77, ppid: 1, user: "u", name: "evil\u{1B}]0;pwned\u{07}", startTime: 1)
    let socket = SocketEntry(
      proto: .tcp, local: Endpoint(address: .v4(0x7F00_0001), port: 4000), state: .listen, id: 9)
    let row = LiveRow.row(
      for: SocketReport(socket: socket, owner: .processes([HolderProcess(process: process, fds: [3])])),
      projects: [:], managers: [:])
    #expect(!row.process.contains("\u{1B}"))
    #expect(row.process.contains("\\x1b"))
  }

  // MARK: - selection

  @Test func theSelectionStaysOnItsRowAcrossRefreshes() {
    var model = LiveModel()
    let rows = Self.rows
    model.update(rows, now: 100)
    model.move(by: 1)
    let chosen = model.selection
    #expect(chosen?.port == 8080)
    // A new row sorts before it, and the rows come in another order: still the same row.
    let early = Self.row(port: 22, pid: 9, start: 5, name: "sshd")
    model.update([rows[1], early, rows[0]], now: 101)
    #expect(model.selection?.key == chosen?.key)
    #expect(model.lines.contains(.row(early, .new)))
    // The holder is replaced on the same port by another process: the selection does not
    // follow the port; it stays on the closed row while it fades, then there is none.
    let replacement = Self.row(port: 8080, pid: 999, start: 77, name: "nginx")
    model.update([early, rows[0], replacement], now: 102)
    #expect(model.selection == nil)
    #expect(model.selectedLine != nil)
    #expect(model.lines.contains { if case .row(let row, .closed) = $0 { row.key == chosen?.key } else { false } })
    model.expire(now: 102 + LiveModel.closedFor)
    #expect(model.selectedLine == nil)
    #expect(model.selection == nil)
    #expect(!model.lines.contains { if case .row(_, .closed) = $0 { true } else { false } })
    // A key picks a row again.
    model.move(by: 1)
    #expect(model.selection != nil)
    // Same pid, another start time (a reused pid): another row.
    let reused = Self.row(port: 3000, pid: 101, start: 999, name: "node")
    #expect(reused.key != rows[0].key)
  }

  @Test func newRowsAreMarkedForAWhileButNotOnTheFirstSnapshot() {
    var model = LiveModel()
    model.update(Self.rows, now: 100)
    #expect(model.lines.allSatisfy { if case .row(_, .normal) = $0 { true } else { false } })
    let late = Self.row(port: 9000, pid: 5, start: 1, name: "late")
    model.update(Self.rows + [late], now: 101)
    #expect(model.lines.contains(.row(late, .new)))
    model.update(Self.rows + [late], now: 101 + LiveModel.newFor)
    #expect(model.lines.contains(.row(late, .normal)))
  }

  @Test func groupingByProjectAddsHeadersAndMovingSkipsThem() {
    var model = LiveModel()
    model.update(Self.rows, now: 100)
    model.grouped = true
    let lines = model.lines
    #expect(lines.first == .group("my-very-long-project-name (feature/x) (1)"))
    #expect(lines.contains(.group("no project (1)")))
    model.selectFirst()
    model.move(by: 1)
    #expect(model.selection?.port == 8080)
  }

  // MARK: - fixtures

  static func row(
    port: UInt16, pid: PID, start: UInt64, name: String, command: [String] = [], directory: String? = nil,
    project: Project? = nil
  ) -> LiveRow {
    let process = ProcessRecord(
      pid: pid, ppid: 1, uid: 0, user: "root", name: name, commandLine: command.isEmpty ? [name] : command,
      workingDirectory: directory, startTime: 1_000_000, startTicks: start)
    let socket = SocketEntry(
      proto: .tcp, local: Endpoint(address: .v4(0x7F00_0001), port: port), state: .listen, id: UInt64(port))
    let report = SocketReport(socket: socket, owner: .processes([HolderProcess(process: process, fds: [3])]))
    return LiveRow.row(for: report, projects: project.map { [pid: $0] } ?? [:], managers: [:])
  }

  static let rows: [LiveRow] = [
    row(
      port: 3000, pid: 101, start: 11, name: "node",
      command: [
        "node", "/home/me/src/app/node_modules/.bin/vite", "--port", "3000", String(repeating: "x", count: 80),
      ],
      directory: "/home/me/src/app",
      project: Project(root: "/home/me/my-very-long-project-name", branch: "feature/x")),
    row(port: 8080, pid: 202, start: 22, name: "nginx"),
  ]

  /// `text` without its SGR escape sequences.
  static func stripped(_ text: String) -> String {
    var result = ""
    var inEscape = false
    for character in text {
      if inEscape {
        if character == "m" { inEscape = false }
      } else if character == "\u{1B}" {
        inEscape = true
      } else {
        result.append(character)
      }
    }
    return result
  }
}
