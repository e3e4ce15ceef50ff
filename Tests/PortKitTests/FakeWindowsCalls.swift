import CPortSys
import Foundation

@testable import PortKit

/// ``WindowsCalls`` over a records dump, behaving as windows.c does: a process read opens
/// only the pids asked for (the others come back with Toolhelp's fields alone), handles pin
/// scripted processes that exit when terminated or at a set time, and binds answer from a
/// table. Every call is logged.
struct FakeWindowsCalls: WindowsCalls {
  /// A process that handles can be opened on.
  struct Live: Sendable {
    var created: UInt64
    /// OpenProcess fails with this code.
    var openError: UInt32? = nil
    /// TerminateProcess fails with this code.
    var terminateError: UInt32? = nil
    /// When it exits by itself.
    var exitsAt: ContinuousClock.Instant? = nil
    var exitCode: UInt32 = 0
  }

  struct State: Sendable {
    var log: [String] = []
    var live: [UInt32: Live] = [:]
    var handles: [Int32: UInt32] = [:]
    var nextHandle: Int32 = 0x1A4
    var binds: [String: UInt32] = [:]
    var bindCalls: [String] = []
  }

  var tables: WindowsTables
  var socketError: UInt32? = nil
  let state: Locked<State>

  /// A fake answering from `tables`; `live` are the processes that can be opened.
  init(tables: WindowsTables, live: [UInt32: Live] = [:], binds: [String: UInt32] = [:]) {
    self.tables = tables
    state = Locked(State(live: live, binds: binds))
  }

  /// A fake over a dump whose every detailed process (created ≠ 0) is live.
  init(dump: WindowsRecordDump) {
    var live: [UInt32: Live] = [:]
    for row in dump.tables.processes where row.created != 0 { live[row.pid] = Live(created: row.created) }
    self.init(tables: dump.tables, live: live)
  }

  var log: [String] { state.withLock { $0.log } }

  /// Makes the scripted process `pid` exit at `instant`.
  func scheduleExit(_ pid: UInt32, at instant: ContinuousClock.Instant) {
    state.withLock { $0.live[pid]?.exitsAt = instant }
  }
  var bindCalls: [String] { state.withLock { $0.bindCalls } }

  /// True when `pid` is a scripted process that has exited: its sockets and its row are gone.
  private func hasExited(_ pid: UInt32, in state: State) -> Bool {
    state.live[pid]?.exitsAt.map { $0 <= .now } ?? false
  }

  /// The socket rows of processes that have not exited.
  private var currentSockets: [cportsys_win_socket] {
    state.withLock { state in tables.sockets.filter { !hasExited($0.pid, in: state) } }
  }

  func sockets(_ which: WindowsSocketTables) throws(WindowsError) -> [cportsys_win_socket] {
    state.withLock { $0.log.append("sockets \(which.rawValue)") }
    if let socketError { throw WindowsError(socketError) }
    return currentSockets.filter { row in
      switch (row.protocol, row.family) {
      case (6, 4): which.contains(.tcp4)
      case (6, 6): which.contains(.tcp6)
      case (17, 4): which.contains(.udp4)
      case (17, 6): which.contains(.udp6)
      default: true
      }
    }
  }

  func processes(detailed: [UInt32]?) throws(WindowsError) -> (records: [cportsys_win_process], text: [UInt16]) {
    state.withLock { $0.log.append("processes \(detailed.map { "\($0)" } ?? "all")") }
    let opened = detailed.map(Set.init)
    let running = state.withLock { state in tables.processes.filter { !hasExited($0.pid, in: state) } }
    let rows = running.map { row in
      guard let opened, !opened.contains(row.pid) else { return row }
      var plain = row
      plain.created = 0
      plain.denied = 0
      plain.image = cportsys_win_text(offset: 0, length: 0)
      plain.user = cportsys_win_text(offset: 0, length: 0)
      plain.command_line = cportsys_win_text(offset: 0, length: 0)
      return plain
    }
    return (rows, tables.processText)
  }

  func services() throws(WindowsError) -> (records: [cportsys_win_service], text: [UInt16]) {
    state.withLock { $0.log.append("services") }
    return (tables.services, tables.serviceText)
  }

  func openProcess(_ pid: UInt32) throws(WindowsError) -> WindowsOpenedProcess {
    let result: Result<WindowsOpenedProcess, WindowsError> = state.withLock { state in
      state.log.append("open \(pid)")
      guard let live = state.live[pid] else { return .failure(WindowsError(87)) }
      if let error = live.openError { return .failure(WindowsError(error)) }
      let handle = state.nextHandle
      state.nextHandle += 4
      state.handles[handle] = pid
      return .success(WindowsOpenedProcess(handle: handle, created: live.created))
    }
    return try result.get()
  }

  func terminate(_ handle: Int32, exitCode: UInt32) throws(WindowsError) {
    let error: UInt32? = state.withLock { state in
      state.log.append("terminate \(handle)")
      guard let pid = state.handles[handle], var live = state.live[pid] else { return 6 }
      if let error = live.terminateError { return error }
      live.exitsAt = ContinuousClock.now
      live.exitCode = exitCode
      state.live[pid] = live
      return nil
    }
    if let error { throw WindowsError(error) }
  }

  func waitAny(_ handles: [Int32], milliseconds: UInt32) -> WindowsWaitResult {
    let deadline = ContinuousClock.now + .milliseconds(Int(milliseconds))
    while true {
      let (result, nextExit): (WindowsWaitResult?, ContinuousClock.Instant?) = state.withLock { state in
        guard handles.count <= 64 else { return (.failed, nil) }
        var next: ContinuousClock.Instant? = nil
        for (index, handle) in handles.enumerated() {
          guard let pid = state.handles[handle], let live = state.live[pid] else { return (.failed, nil) }
          if let exit = live.exitsAt {
            if exit <= .now { return (.exited(index), nil) }
            next = min(next ?? exit, exit)
          }
        }
        return (nil, next)
      }
      if let result { return result }
      let now = ContinuousClock.now
      if now >= deadline { return .timedOut }
      let wake = min(deadline, nextExit ?? deadline)
      Thread.sleep(forTimeInterval: max(0.0005, (wake - now).seconds))
    }
  }

  func exitCode(_ handle: Int32) -> UInt32 {
    state.withLock { state in
      guard let pid = state.handles[handle], let live = state.live[pid] else { return 6 }
      return (live.exitsAt.map { $0 <= .now } ?? false) ? live.exitCode : 259
    }
  }

  func close(_ handle: Int32) {
    state.withLock { state in
      state.log.append("close \(handle)")
      state.handles[handle] = nil
    }
  }

  /// The scripted answer for the endpoint, else 10048 while a listener of a running process
  /// of the same protocol and family has the port on the same address or a wildcard (as
  /// Windows sees a v6-only `[::]` beside `0.0.0.0`), else 0.
  func tryBind(family: UInt8, protocol: UInt8, address: [UInt8], port: UInt16, v6Only: Bool) -> UInt32 {
    let sockets = currentSockets
    return state.withLock { state in
      let text = family == 4 ? address.prefix(4).map { "\($0)" }.joined(separator: ".") : IPAddress.text(bytes: address)
      let key = "\(`protocol` == 6 ? "tcp" : "udp") \(text) \(port)"
      state.bindCalls.append("\(key) v6only=\(v6Only ? 1 : 0) bytes=\(address.count)")
      if let answer = state.binds[key] { return answer }
      let asked = IPAddress(text)
      let held = sockets.contains { row in
        guard row.protocol == `protocol`, row.family == family, row.local_port == port,
          let socket = WindowsRecords.socket(row), socket.isListener
        else { return false }
        return socket.local.address == asked || socket.local.address.isWildcard || asked?.isWildcard == true
      }
      return held ? 10048 : 0
    }
  }
}

extension IPAddress {
  /// The text of 16 network-order bytes.
  static func text(bytes: [UInt8]) -> String {
    guard bytes.count == 16 else { return "?" }
    let high = bytes[0..<8].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
    let low = bytes[8..<16].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
    return IPAddress.v6(high: high, low: low).description
  }
}

/// The composed Windows fixture, parsed.
func windowsFixtureDump() throws -> WindowsRecordDump {
  try WindowsRecordDump.parse(String(decoding: try fixture("windows/native-windows.records"), as: UTF8.self))
}
