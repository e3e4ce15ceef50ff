import CPortSys

/// A Win32 or Winsock error code.
struct WindowsError: Error, Hashable, Sendable {
  /// The code (`GetLastError`, or a function's own result).
  var code: UInt32

  /// ERROR_ACCESS_DENIED.
  static let accessDenied: UInt32 = 5
  /// ERROR_INVALID_PARAMETER: OpenProcess's answer for a pid that names no process.
  static let invalidParameter: UInt32 = 87

  /// The error `code`.
  init(_ code: UInt32) {
    self.code = code
  }
}

/// Which IP Helper tables ``WindowsCalls/sockets(_:)`` reads (CPortSys.h's
/// CPORTSYS_WIN_TCP4 … bits).
struct WindowsSocketTables: OptionSet, Hashable, Sendable {
  var rawValue: UInt32

  init(rawValue: UInt32) {
    self.rawValue = rawValue
  }

  static let tcp4 = WindowsSocketTables(rawValue: 1)
  static let tcp6 = WindowsSocketTables(rawValue: 2)
  static let udp4 = WindowsSocketTables(rawValue: 4)
  static let udp6 = WindowsSocketTables(rawValue: 8)

  /// The tables holding `protocols`' sockets, both families.
  init(protocols: Set<TransportProtocol>) {
    var tables: WindowsSocketTables = []
    if protocols.contains(.tcp) { tables.formUnion([.tcp4, .tcp6]) }
    if protocols.contains(.udp) { tables.formUnion([.udp4, .udp6]) }
    self = tables
  }
}

/// A process opened by ``WindowsCalls/openProcess(_:)``.
struct WindowsOpenedProcess: Hashable, Sendable {
  /// The handle as a 32-bit value.
  var handle: Int32
  /// Its creation time as a FILETIME; 0 when not known.
  var created: UInt64
}

/// What ``WindowsCalls/waitAny(_:milliseconds:)`` saw.
enum WindowsWaitResult: Hashable, Sendable {
  /// The process at this index of the handles has exited.
  case exited(Int)
  /// The time passed first.
  case timedOut
  /// The wait itself failed (a closed handle).
  case failed
}

/// The seam between the native Windows backend and Windows: one method per function of
/// CPortSys.h's Windows part, with Swift types. ``NativeWindowsCalls`` (Windows only)
/// calls the C functions; tests give fakes, so everything above this seam runs anywhere.
protocol WindowsCalls: Sendable {
  /// `cportsys_win_sockets`: the rows of `tables`.
  func sockets(_ tables: WindowsSocketTables) throws(WindowsError) -> [cportsys_win_socket]
  /// `cportsys_win_processes`: every process, opened for details when its pid is in
  /// `detailed` (every process when `nil`, none when empty), with the text pool.
  func processes(detailed: [UInt32]?) throws(WindowsError) -> (records: [cportsys_win_process], text: [UInt16])
  /// `cportsys_win_services`: every Win32 service, with the text pool.
  func services() throws(WindowsError) -> (records: [cportsys_win_service], text: [UInt16])
  /// `cportsys_win_open_process`: a handle that pins `pid`, with its creation time.
  func openProcess(_ pid: UInt32) throws(WindowsError) -> WindowsOpenedProcess
  /// `cportsys_win_terminate`: TerminateProcess on an opened handle.
  func terminate(_ handle: Int32, exitCode: UInt32) throws(WindowsError)
  /// `cportsys_win_wait_any`: waits up to `milliseconds` for any of at most 64 handles.
  func waitAny(_ handles: [Int32], milliseconds: UInt32) -> WindowsWaitResult
  /// `cportsys_win_exit_code`: the exit code; 259 (STILL_ACTIVE) while it runs.
  func exitCode(_ handle: Int32) -> UInt32
  /// `cportsys_win_close`: closes an opened handle.
  func close(_ handle: Int32)
  /// `cportsys_win_try_bind`: 0 when a fresh SO_EXCLUSIVEADDRUSE socket binds `address`
  /// (16 network-order bytes, IPv4 in the first 4) and `port`, otherwise the Winsock error.
  func tryBind(family: UInt8, protocol: UInt8, address: [UInt8], port: UInt16, v6Only: Bool) -> UInt32
}
