import PortKit

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#elseif os(Windows)
// `errno` on Windows comes from the CRT overlay, which re-exports `ucrt`.
import CRT
#endif

/// The socket table of `who`, `wait` and `list`, written straight into an output buffer:
/// one pass over the sockets for the column widths (and `list`'s notes), one to write. A
/// listing can have tens of thousands of rows; no row is kept, and a process's cells are
/// formatted once however many sockets it holds. The layout is ``TextTable``'s: columns
/// two spaces apart, the last one unpadded, colour applied after padding.
struct ListTable<Sockets: RandomAccessCollection<SocketReport>> {
  private let listing: Sockets
  private let takenAt: Double
  private let style: Style
  private let showRemote: Bool
  /// Each holder's project; the PROJECT column is shown when some holder has one.
  private let projects: [PID: Project]
  private let showProject: Bool
  private var widths: [Int]
  private var processes: [PID: ProcessCells] = [:]
  private var output = OutputBuffer()

  /// PPID, USER, UPTIME and COMMAND of one process, with their widths. The user and command
  /// are escaped (``TerminalText``) and measured as escaped: one line per row, always.
  private struct ProcessCells {
    var texts: [String]
    var widths: [Int]
  }

  /// `showRemote` adds the REMOTE column (when some socket has a peer); `projects` adds the
  /// PROJECT column when it is not empty.
  init(_ sockets: Sockets, takenAt: Double, showRemote: Bool, style: Style, projects: [PID: Project] = [:]) {
    listing = sockets
    self.takenAt = takenAt
    self.style = style
    self.showRemote = showRemote
    self.projects = projects
    showProject = !projects.isEmpty
    widths = ReportText.headers(showRemote: showRemote, showProject: showProject).map(\.unicodeScalars.count)
  }

  /// The columns after PID: PPID, USER, UPTIME, (PROJECT,) COMMAND.
  private var processColumns: Int { showProject ? 5 : 4 }

  /// Writes the table, then the notes under it when `withNotes`.
  mutating func write(withNotes: Bool = false) {
    var notes = ReportText.Footnotes()
    for position in listing.indices {
      let entry = listing[position]
      if withNotes { notes.add(entry) }
      measure(entry)
    }
    let headers = ReportText.headers(showRemote: showRemote, showProject: showProject)
    for (column, header) in headers.enumerated() {
      cell(header, column: column, width: header.unicodeScalars.count, tint: .bold)
    }
    endLine()
    for position in listing.indices { write(listing[position]) }
    let lines = notes.lines
    if !lines.isEmpty {
      output.append("\n")
      for line in lines {
        output.append(line)
        output.append("\n")
      }
    }
    output.flush()
  }

  // MARK: Widths

  private var firstProcessColumn: Int { showRemote ? 5 : 4 }

  private mutating func measure(_ entry: SocketReport) {
    let socket = entry.socket
    widths[0] = max(widths[0], socket.proto.rawValue.utf8.count)
    widths[1] = max(widths[1], Self.width(of: socket.local))
    if showRemote {
      let remote = if let endpoint = socket.remote { Self.width(of: endpoint) } else { 1 }
      widths[2] = max(widths[2], remote)
    }
    let state = showRemote ? 3 : 2
    widths[state] = max(widths[state], socket.state.rawValue.utf8.count)
    let pid = state + 1
    switch entry.owner {
    case .processes(let holders):
      for holder in holders {
        let digits = Self.digits(Int(holder.process.pid))
        widths[pid] = max(widths[pid], holder.sharesWith == nil ? digits : digits + 2)
        let cells = processCells(holder.process)
        for (offset, width) in cells.widths.enumerated() {
          widths[pid + 1 + offset] = max(widths[pid + 1 + offset], width)
        }
      }
    case .hidden(let hidden):
      widths[pid + 2] = max(widths[pid + 2], hiddenUser(hidden).unicodeScalars.count)
    case .kernel:
      widths[pid + 2] = max(widths[pid + 2], socket.uid.map { Self.digits(Int($0)) } ?? 1)
    case .none:
      break
    }
  }

  private mutating func processCells(_ process: ProcessRecord) -> ProcessCells {
    if let known = processes[process.pid] { return known }
    var texts = [
      "\(process.ppid)", TerminalText.escape(process.user ?? process.uid.map { "\($0)" } ?? "?"),
      process.startTime.map { Durations.compact(takenAt - $0) } ?? "-",
    ]
    if showProject { texts.append(projects[process.pid].map { ProjectText.cell($0) } ?? "-") }
    texts.append(TerminalText.escape(process.displayCommand))
    let made = ProcessCells(texts: texts, widths: texts.map(\.unicodeScalars.count))
    processes[process.pid] = made
    return made
  }

  private func hiddenUser(_ hidden: HiddenOwner) -> String {
    TerminalText.escape(hidden.user ?? hidden.uid.map { "\($0)" } ?? "?")
  }

  // MARK: Rows

  private mutating func write(_ entry: SocketReport) {
    let socket = entry.socket
    let pid = showRemote ? 4 : 3
    func socketCells(blank: Bool) {
      if blank {
        for column in 0..<pid { cell("", column: column, width: 0) }
        return
      }
      cell(socket.proto.rawValue, column: 0, width: socket.proto.rawValue.utf8.count)
      endpoint(socket.local, column: 1)
      if showRemote {
        if let remote = socket.remote { endpoint(remote, column: 2) } else { cell("*", column: 2, width: 1) }
      }
      cell(
        socket.state.rawValue, column: pid - 1, width: socket.state.rawValue.utf8.count,
        tint: socket.isListener ? .green : .yellow)
    }
    switch entry.owner {
    case .processes(let holders):
      for (index, holder) in holders.enumerated() {
        socketCells(blank: index > 0)
        let process = holder.process
        let text = holder.sharesWith == nil ? "\(process.pid)" : "└ \(process.pid)"
        cell(text, column: pid, width: text.unicodeScalars.count, tint: .bold)
        let cells = processCells(process)
        for offset in cells.texts.indices {
          cell(cells.texts[offset], column: pid + 1 + offset, width: cells.widths[offset])
        }
        endLine()
      }
    case .hidden(let hidden):
      socketCells(blank: false)
      let user = hiddenUser(hidden)
      cell("?", column: pid, width: 1, tint: .yellow)
      cell("-", column: pid + 1, width: 1)
      cell(user, column: pid + 2, width: user.unicodeScalars.count)
      for offset in 3..<processColumns { cell("-", column: pid + offset, width: 1) }
      cell("(owner hidden)", column: pid + processColumns, width: 14, tint: .yellow)
      endLine()
    case .kernel:
      socketCells(blank: false)
      let uid = socket.uid.map { "\($0)" } ?? "-"
      cell("-", column: pid, width: 1)
      cell("-", column: pid + 1, width: 1)
      cell(uid, column: pid + 2, width: uid.utf8.count)
      for offset in 3..<processColumns { cell("-", column: pid + offset, width: 1) }
      cell("(held by the kernel)", column: pid + processColumns, width: 20)
      endLine()
    case .none:
      socketCells(blank: false)
      let timer = socket.timer.map { "; \(Durations.compact($0.remainingSeconds)) left" } ?? ""
      for offset in 0..<processColumns { cell("-", column: pid + offset, width: 1) }
      cell("(no process\(timer))", column: pid + processColumns, width: 0, tint: .dim)
      endLine()
    }
  }

  /// One cell: the separator before it, the text (tinted), and padding unless it is last.
  private mutating func cell(_ text: String, column: Int, width: Int, tint: Tint = .plain) {
    if column > 0 { output.append("  ") }
    if tint == .plain || !style.enabled || text.isEmpty {
      output.append(text)
    } else {
      output.append(tint.apply(text, style))
    }
    pad(column: column, width: width)
  }

  private mutating func pad(column: Int, width: Int) {
    guard column < widths.count - 1 else { return }
    output.spaces(widths[column] - width)
  }

  /// An endpoint written without building its text when it is IPv4.
  private mutating func endpoint(_ endpoint: Endpoint, column: Int) {
    if column > 0 { output.append("  ") }
    guard case .v4(let raw) = endpoint.address else {
      let text = endpoint.description
      output.append(text)
      pad(column: column, width: text.utf8.count)
      return
    }
    for shift in [24, 16, 8, 0] as [UInt32] {
      output.decimal(Int(raw >> shift & 0xFF))
      if shift > 0 { output.byte(UInt8(ascii: ".")) }
    }
    output.byte(UInt8(ascii: ":"))
    output.decimal(Int(endpoint.port))
    pad(column: column, width: Self.width(of: endpoint))
  }

  private mutating func endLine() {
    output.trimTrailingSpaces()
    output.byte(UInt8(ascii: "\n"))
    output.flushIfFull()
  }

  /// The printed width of an endpoint (`127.0.0.1:3000`, `[::1]:3000`).
  static func width(of endpoint: Endpoint) -> Int {
    guard case .v4(let raw) = endpoint.address else { return endpoint.description.utf8.count }
    var width = 4 + digits(Int(endpoint.port))
    for shift in [24, 16, 8, 0] as [UInt32] { width += digits(Int(raw >> shift & 0xFF)) }
    return width
  }

  static func digits(_ value: Int) -> Int {
    var count = 1
    var rest = value
    if rest < 0 {
      count += 1
      rest = -rest
    }
    while rest >= 10 {
      rest /= 10
      count += 1
    }
    return count
  }
}

/// Bytes for standard output, written in 64 KiB pieces.
struct OutputBuffer {
  private var bytes: [UInt8] = []
  private let limit = 64 << 10

  init() {
    bytes.reserveCapacity(limit + 4096)
  }

  mutating func append(_ text: String) { bytes.append(contentsOf: text.utf8) }
  mutating func byte(_ value: UInt8) { bytes.append(value) }

  mutating func spaces(_ count: Int) {
    if count > 0 { bytes.append(contentsOf: repeatElement(UInt8(ascii: " "), count: count)) }
  }

  mutating func decimal(_ value: Int) {
    if value >= 10 { decimal(value / 10) }
    bytes.append(UInt8(ascii: "0") + UInt8(value % 10))
  }

  mutating func trimTrailingSpaces() {
    while bytes.last == UInt8(ascii: " ") { bytes.removeLast() }
  }

  mutating func flushIfFull() {
    if bytes.count >= limit { flush() }
  }

  /// Writes what is buffered, after anything `print` left in the C library's buffer; a
  /// closed pipe ends the output quietly.
  mutating func flush() {
    fflush(nil)
    var offset = 0
    while offset < bytes.count {
      #if os(Windows)
      let written = bytes.withUnsafeBytes { Int(_write(1, $0.baseAddress! + offset, UInt32($0.count - offset))) }
      #else
      let written = bytes.withUnsafeBytes { write(1, $0.baseAddress! + offset, $0.count - offset) }
      #endif
      if written < 0, errno == EINTR { continue }
      if written <= 0 { break }
      offset += written
    }
    bytes.removeAll(keepingCapacity: true)
  }
}
