#if os(Windows)
import CPortSys

/// ``WindowsCalls`` through the C functions of CPortSys.h (windows.c): the only Swift code
/// that calls into Windows. Each C table is copied into Swift arrays and freed at once.
struct NativeWindowsCalls: WindowsCalls {
  func sockets(_ tables: WindowsSocketTables) throws(WindowsError) -> [cportsys_win_socket] {
    var table = cportsys_win_table()
    let error = cportsys_win_sockets(tables.rawValue, &table)
    defer { cportsys_win_table_free(&table) }
    guard error == 0 else { throw WindowsError(error) }
    return Self.records(table, of: cportsys_win_socket.self)
  }

  func processes(detailed: [UInt32]?) throws(WindowsError) -> (records: [cportsys_win_process], text: [UInt16]) {
    var table = cportsys_win_table()
    let error: UInt32
    if let detailed {
      // A non-NULL pointer even for none: NULL would ask for every process.
      let pids = detailed.isEmpty ? [UInt32(0)] : detailed
      error = pids.withUnsafeBufferPointer { cportsys_win_processes($0.baseAddress, detailed.count, &table) }
    } else {
      error = cportsys_win_processes(nil, 0, &table)
    }
    defer { cportsys_win_table_free(&table) }
    guard error == 0 else { throw WindowsError(error) }
    return (Self.records(table, of: cportsys_win_process.self), Self.text(table))
  }

  func services() throws(WindowsError) -> (records: [cportsys_win_service], text: [UInt16]) {
    var table = cportsys_win_table()
    let error = cportsys_win_services(&table)
    defer { cportsys_win_table_free(&table) }
    guard error == 0 else { throw WindowsError(error) }
    return (Self.records(table, of: cportsys_win_service.self), Self.text(table))
  }

  func openProcess(_ pid: UInt32) throws(WindowsError) -> WindowsOpenedProcess {
    var created: UInt64 = 0
    var error: UInt32 = 0
    let handle = cportsys_win_open_process(pid, &created, &error)
    guard handle != 0 else { throw WindowsError(error == 0 ? WindowsError.invalidParameter : error) }
    return WindowsOpenedProcess(handle: handle, created: created)
  }

  func terminate(_ handle: Int32, exitCode: UInt32) throws(WindowsError) {
    let error = cportsys_win_terminate(handle, exitCode)
    guard error == 0 else { throw WindowsError(error) }
  }

  func waitAny(_ handles: [Int32], milliseconds: UInt32) -> WindowsWaitResult {
    guard !handles.isEmpty, handles.count <= 64 else { return .failed }
    let result = handles.withUnsafeBufferPointer {
      cportsys_win_wait_any($0.baseAddress, UInt32($0.count), milliseconds)
    }
    switch result {
    case -1: return .timedOut
    case 0..<Int32(handles.count): return .exited(Int(result))
    default: return .failed
    }
  }

  func exitCode(_ handle: Int32) -> UInt32 {
    cportsys_win_exit_code(handle)
  }

  func close(_ handle: Int32) {
    cportsys_win_close(handle)
  }

  func tryBind(family: UInt8, protocol: UInt8, address: [UInt8], port: UInt16, v6Only: Bool) -> UInt32 {
    var bytes = [UInt8](repeating: 0, count: 16)
    for index in 0..<min(16, address.count) { bytes[index] = address[index] }
    return bytes.withUnsafeBufferPointer {
      cportsys_win_try_bind(family, `protocol`, $0.baseAddress, port, v6Only ? 1 : 0)
    }
  }

  /// The table's records, copied.
  private static func records<Record>(_ table: cportsys_win_table, of type: Record.Type) -> [Record] {
    guard let records = table.records, table.count > 0 else { return [] }
    let typed = records.bindMemory(to: Record.self, capacity: table.count)
    return Array(UnsafeBufferPointer(start: UnsafePointer(typed), count: table.count))
  }

  /// The table's text pool, copied.
  private static func text(_ table: cportsys_win_table) -> [UInt16] {
    guard let text = table.text, table.text_length > 0 else { return [] }
    return Array(UnsafeBufferPointer(start: UnsafePointer(text), count: table.text_length))
  }
}

/// The Windows console: escape sequences and width.
public enum WindowsConsole {
  /// Turns on virtual-terminal processing for the console on `stream` (1 standard output,
  /// 2 standard error); true when escape sequences will be drawn there.
  public static func enableVirtualTerminal(stream: Int32) -> Bool {
    cportsys_win_enable_virtual_terminal(stream) != 0
  }

  /// The width in columns of the console window on `stream`; `nil` when it is not a console.
  public static func columns(stream: Int32) -> Int? {
    let columns = cportsys_win_console_columns(stream)
    return columns > 0 ? Int(columns) : nil
  }
}
#endif
