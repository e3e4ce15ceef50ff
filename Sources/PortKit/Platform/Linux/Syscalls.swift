#if os(Linux)
import CPortSys
import Dispatch
import Glibc
import SystemPackage

/// The one place the Linux backend touches libc. Every call that can be interrupted is
/// retried on EINTR here; failures come back as `Errno`.
public enum Syscalls {
  /// Retries `body` while it fails with EINTR; returns its result or the errno.
  @inline(__always)
  static func retryingOnInterrupt<T: FixedWidthInteger>(_ body: () -> T) -> Result<T, Errno> {
    while true {
      let result = body()
      if result >= 0 { return .success(result) }
      let code = errno
      if code != EINTR { return .failure(Errno(rawValue: code)) }
    }
  }

  /// Opens `path` (relative to `directory`, or absolute) read-only and close-on-exec.
  static func open(_ path: String, relativeTo directory: Int32 = AT_FDCWD, directoryOnly: Bool = false) -> Result<
    Int32, Errno
  > {
    let flags = O_RDONLY | O_CLOEXEC | (directoryOnly ? O_DIRECTORY : 0)
    return retryingOnInterrupt { openat(directory, path, flags) }
  }

  static func close(_ fd: Int32) {
    _ = Glibc.close(fd)
  }

  /// Reads the whole of `path` relative to `directory`. `/proc` files report size 0, so
  /// this reads until end of file. `nil` when the file cannot be opened or read.
  static func readFile(_ path: String, relativeTo directory: Int32 = AT_FDCWD, limit: Int = 64 << 20) -> [UInt8]? {
    guard case .success(let fd) = open(path, relativeTo: directory) else { return nil }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while bytes.count < limit {
      let count = retryingOnInterrupt { buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) } }
      guard case .success(let read) = count else { return nil }
      if read == 0 { break }
      bytes.append(contentsOf: buffer[0..<read])
      if buffer.count < 1 << 20, read == buffer.count { buffer = [UInt8](repeating: 0, count: buffer.count * 4) }
    }
    return bytes
  }

  /// Reads `path` when it is a regular file of at most `limit` bytes; opened non-blocking,
  /// so that a FIFO or a device never stalls the caller. `nil` otherwise.
  static func readSmallRegularFile(_ path: String, limit: Int) -> [UInt8]? {
    let opened = retryingOnInterrupt { openat(AT_FDCWD, path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY) }
    guard case .success(let fd) = opened else { return nil }
    defer { close(fd) }
    var status = stat()
    guard fstat(fd, &status) == 0, status.st_mode & S_IFMT == S_IFREG, status.st_size <= limit else { return nil }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while bytes.count <= limit {
      let count = retryingOnInterrupt { buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) } }
      guard case .success(let read) = count else { return nil }
      if read == 0 { break }
      bytes.append(contentsOf: buffer[0..<read])
    }
    return bytes.count <= limit ? bytes : nil
  }

  /// Reads a symbolic link relative to `directory` into `buffer`; returns the length.
  static func readLink(
    _ name: UnsafePointer<CChar>, relativeTo directory: Int32, into buffer: UnsafeMutableBufferPointer<UInt8>
  ) -> Int? {
    let count = buffer.withMemoryRebound(to: CChar.self) { chars -> Int in
      guard let base = chars.baseAddress else { return -1 }
      return readlinkat(directory, name, base, chars.count)
    }
    return count >= 0 ? count : nil
  }

  /// Reads a symbolic link relative to `directory` as a string.
  static func readLink(_ name: String, relativeTo directory: Int32 = AT_FDCWD) -> String? {
    var buffer = [UInt8](repeating: 0, count: Int(PATH_MAX) + 1)
    let count = buffer.withUnsafeMutableBufferPointer { pointer in
      name.withCString { readLink($0, relativeTo: directory, into: pointer) }
    }
    guard let count, count < buffer.count else { return nil }
    return String(decoding: buffer[0..<count], as: UTF8.self)
  }

  /// Opens `path` (a C string) relative to `directory` as a directory.
  static func open(_ path: [CChar], relativeTo directory: Int32) -> Result<Int32, Errno> {
    retryingOnInterrupt { openat(directory, path, O_RDONLY | O_CLOEXEC | O_DIRECTORY) }
  }

  /// Writes `PID` + `suffix` as a C string into `buffer`, without allocating.
  static func formatPath(_ pid: PID, suffix: StaticString, into buffer: inout [CChar]) {
    var digits: [CChar] = []
    digits.reserveCapacity(12)
    var value = pid
    repeat {
      digits.append(CChar(48 + value % 10))
      value /= 10
    } while value > 0
    var index = 0
    for digit in digits.reversed() {
      buffer[index] = digit
      index += 1
    }
    suffix.withUTF8Buffer { bytes in
      for byte in bytes {
        buffer[index] = CChar(bitPattern: byte)
        index += 1
      }
    }
    buffer[index] = 0
  }

  /// Calls `body` with every entry name (NUL-terminated, not `.` or `..`) of the open
  /// directory `fd`, read with getdents64 into `buffer`. Does not close `fd`.
  static func forEachDirectoryEntry(
    _ fd: Int32, buffer: UnsafeMutableRawBufferPointer? = nil, _ body: (UnsafePointer<CChar>) -> Void
  ) {
    let owned = buffer == nil ? UnsafeMutableRawBufferPointer.allocate(byteCount: 32 << 10, alignment: 8) : nil
    defer { owned?.deallocate() }
    guard let entries = buffer ?? owned, let base = entries.baseAddress else { return }
    while true {
      let count = cportsys_getdents64(fd, base, UInt(entries.count))
      if count < 0, errno == EINTR { continue }
      guard count > 0 else { return }
      var offset = 0
      while offset + 19 < count {
        let length = Int(entries.loadUnaligned(fromByteOffset: offset + 16, as: UInt16.self))
        guard length > 0 else { return }
        let name = (base + offset + 19).assumingMemoryBound(to: CChar.self)
        if !(name[0] == 0x2E && (name[1] == 0 || (name[1] == 0x2E && name[2] == 0))) { body(name) }
        offset += length
      }
    }
  }

  /// Runs `body(0)…body(count-1)` on as many threads.
  static func parallel(_ count: Int, _ body: @Sendable (Int) -> Void) {
    DispatchQueue.concurrentPerform(iterations: count, execute: body)
  }

  /// Makes freed large blocks go back to the system at once (see `cportsys_tune_allocator`):
  /// a listing's peak memory is then what it holds, not what it once held. Call first thing.
  @discardableResult
  public static func tuneAllocator() -> Bool {
    cportsys_tune_allocator() == 1
  }

  static var onlineProcessors: Int {
    max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN)))
  }

  /// The owner uid of `path` relative to `directory` (for `/proc/PID`, the process's uid).
  static func ownerUID(_ path: [CChar], relativeTo directory: Int32) -> UInt32? {
    var info = stat()
    guard fstatat(directory, path, &info, 0) == 0 else { return nil }
    return info.st_uid
  }

  static func ownerUID(_ path: String, relativeTo directory: Int32) -> UInt32? {
    var info = stat()
    guard fstatat(directory, path, &info, 0) == 0 else { return nil }
    return info.st_uid
  }

  static var effectiveUID: UInt32 { geteuid() }

  static var clockTicksPerSecond: Double {
    let ticks = sysconf(Int32(_SC_CLK_TCK))
    return ticks > 0 ? Double(ticks) : 100
  }

  /// Seconds on the monotonic clock (for intervals; not a date).
  static var monotonicSeconds: Double {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
  }

  static var now: Double {
    var spec = timespec()
    clock_gettime(CLOCK_REALTIME, &spec)
    return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
  }

  /// The user name for a uid from the system's user database.
  static func userName(_ uid: UInt32) -> String? {
    var record = passwd()
    var result: UnsafeMutablePointer<passwd>?
    var buffer = [CChar](repeating: 0, count: 1024)
    while true {
      let status = getpwuid_r(uid, &record, &buffer, buffer.count, &result)
      if status == ERANGE, buffer.count < 1 << 20 {
        buffer = [CChar](repeating: 0, count: buffer.count * 4)
        continue
      }
      guard status == 0, let entry = result, let name = entry.pointee.pw_name else { return nil }
      return String(cString: name)
    }
  }
}
#endif
