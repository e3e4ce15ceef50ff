import PortKit

/// What pins a row: its socket and the process shown for it. A refresh never moves the
/// selection to a row with another key, and an action checks that the process it acts on
/// is still this one (same pid and start time).
public struct RowKey: Hashable, Sendable {
  /// The socket's protocol.
  public var proto: TransportProtocol
  /// The socket's local address and port.
  public var local: Endpoint
  /// The socket's inode (0 where the backend gives none).
  public var socketID: UInt64
  /// The process shown for the socket; `nil` when no process holds it visibly.
  public var pid: PID?
  /// That process's start time, in clock ticks since boot (where the backend reads it).
  public var startTicks: UInt64?

  /// A key for the socket `local` of `proto` held by `pid` started at `startTicks`.
  public init(proto: TransportProtocol, local: Endpoint, socketID: UInt64, pid: PID?, startTicks: UInt64?) {
    self.proto = proto
    self.local = local
    self.socketID = socketID
    self.pid = pid
    self.startTicks = startTicks
  }
}

/// A process as an action must find it again: its pid and start time.
public struct ProcessIdentity: Hashable, Sendable {
  /// The process id.
  public var pid: PID
  /// The start time in clock ticks since boot (`nil` where it cannot be read).
  public var startTicks: UInt64?

  /// `pid` started at `startTicks`.
  public init(pid: PID, startTicks: UInt64?) {
    self.pid = pid
    self.startTicks = startTicks
  }

  /// The identity of `process`.
  public init(_ process: ProcessRecord) {
    self.init(pid: process.pid, startTicks: process.startTicks)
  }
}

/// One row of the live view: a socket and the process that holds it (the first one that
/// does not share it from a parent), its cells already escaped.
public struct LiveRow: Hashable, Sendable {
  /// What pins the row.
  public var key: RowKey
  /// Every visible holder of the socket, as seen when the row was read.
  public var holders: [ProcessIdentity]
  /// The local address as shown.
  public var address: String
  /// The process name, escaped, with `+N` when N more processes share the socket.
  public var process: String
  /// The full command line, escaped (for the filter).
  public var command: String
  /// The working directory, escaped (for the filter); empty when unknown.
  public var directory: String
  /// The user, escaped.
  public var user: String
  /// The project (folder and branch), escaped; empty when none is known.
  public var project: String
  /// When the process started, seconds since the Unix epoch.
  public var startTime: Double?
  /// The manager (its kind and name), escaped; empty when none.
  public var manager: String

  /// The port.
  public var port: UInt16 { key.local.port }

  /// The rows for `sockets`, one a socket. `projects` and `managers` are looked up by the
  /// pid shown.
  public static func rows(
    from sockets: [SocketReport], projects: [PID: Project] = [:], managers: [PID: ProcessManager] = [:]
  ) -> [LiveRow] {
    sockets.map { row(for: $0, projects: projects, managers: managers) }
  }

  /// The row for one socket.
  public static func row(for entry: SocketReport, projects: [PID: Project], managers: [PID: ProcessManager]) -> LiveRow
  {
    let socket = entry.socket
    let holders = entry.owner.holders
    let shown = holders.first { $0.sharesWith == nil } ?? holders.first
    let key = RowKey(
      proto: socket.proto, local: socket.local, socketID: socket.id, pid: shown?.process.pid,
      startTicks: shown?.process.startTicks)
    let address = "\(socket.local.address)"
    var row = LiveRow(
      key: key, holders: holders.map { ProcessIdentity($0.process) }, address: address, process: "-", command: "",
      directory: "", user: "-", project: "", startTime: nil, manager: "")
    switch entry.owner {
    case .processes:
      guard let process = shown?.process else { break }
      let more = holders.count > 1 ? " +\(holders.count - 1)" : ""
      row.process = TerminalText.escape(process.name) + more
      row.command = TerminalText.escape(process.commandLine.joined(separator: " "))
      row.directory = TerminalText.escape(process.workingDirectory ?? "")
      row.user = TerminalText.escape(process.user ?? process.uid.map { "\($0)" } ?? "?")
      row.startTime = process.startTime
      if let project = projects[process.pid] { row.project = describe(project) }
      if let manager = managers[process.pid] { row.manager = TerminalText.escape("\(manager.kind) \(manager.name)") }
    case .hidden(let hidden):
      row.process = "(hidden)"
      row.user = TerminalText.escape(hidden.user ?? hidden.uid.map { "\($0)" } ?? "?")
    case .kernel:
      row.process = "(kernel)"
    case .none:
      break
    }
    return row
  }

  /// "folder (branch)", escaped.
  public static func describe(_ project: Project) -> String {
    let branch = project.branch ?? project.detachedCommit.map { "@\($0)" }
    return TerminalText.escape(project.name + (branch.map { " (\($0))" } ?? ""))
  }

  /// How long the process has run at `now`: `42s`, `3m05s`, `2h10m`, `4d03h`; `-` unknown.
  public func uptime(at now: Double) -> String {
    guard let startTime, now >= startTime else { return "-" }
    return Durations.compact(now - startTime)
  }
}

/// What `/` filters by, parsed from what was typed: `:3000` a port, `/src/app` a path (the
/// working directory or command line contains it), `!4242` a pid, anything else a name or
/// command substring (case-insensitive). Empty: everything.
public enum LiveFilter: Hashable, Sendable {
  case everything
  case port(UInt16)
  case path(String)
  case pid(PID)
  case text(String)
  /// A `:` or `!` form that is not a number yet (as it is being typed): matches nothing.
  case incomplete

  /// Parses what was typed.
  public init(_ typed: String) {
    let text = typed.trimmingCharacters()
    if text.isEmpty {
      self = .everything
    } else if text.hasPrefix(":") {
      self = UInt16(text.dropFirst()).map { .port($0) } ?? .incomplete
    } else if text.hasPrefix("!") {
      self = PID(text.dropFirst()).flatMap { $0 > 0 ? .pid($0) : nil } ?? .incomplete
    } else if text.hasPrefix("/") {
      self = .path(text)
    } else {
      self = .text(text.lowercased())
    }
  }

  /// True when `row` passes.
  public func matches(_ row: LiveRow) -> Bool {
    switch self {
    case .everything: true
    case .port(let port): row.port == port
    case .pid(let pid): row.holders.contains { $0.pid == pid }
    case .path(let path): row.directory.contains(path) || row.command.contains(path)
    case .text(let text):
      row.process.lowercased().contains(text) || row.command.lowercased().contains(text)
        || row.project.lowercased().contains(text)
    case .incomplete: false
    }
  }
}

extension String {
  func trimmingCharacters() -> String {
    String(drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
  }
}
