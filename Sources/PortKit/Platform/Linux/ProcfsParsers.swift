/// Parsers for `/proc/PID/*` contents. Plain functions of bytes, so they are tested on any
/// system and never trust the contents: odd input gives `nil`, not a crash.
enum ProcfsParsers {
  /// The fields portctl needs from `/proc/PID/stat`.
  struct Stat: Hashable, Sendable {
    var name: String
    var state: Character
    var ppid: PID
    var flags: UInt64
    /// Clock ticks after boot when the process started.
    var startTicks: UInt64

    /// `PF_KTHREAD`.
    var isKernelThread: Bool { flags & 0x0020_0000 != 0 }
  }

  /// Parses `pid (comm) S ppid …`. The command name may hold spaces and parentheses, so it
  /// runs from the first `(` to the last `)`.
  static func stat(_ bytes: [UInt8]) -> Stat? {
    guard let open = bytes.firstIndex(of: UInt8(ascii: "(")),
      let close = bytes.lastIndex(of: UInt8(ascii: ")")), open < close
    else { return nil }
    let name = String(decoding: bytes[(open + 1)..<close], as: UTF8.self)
    var fields: [ArraySlice<UInt8>] = []
    ProcNetParser.splitFields(bytes[(close + 1)...], into: &fields)
    // After ")": state(0) ppid(1) pgrp session tty tpgid flags(6) … starttime(19).
    guard fields.count >= 20, fields[0].count == 1,
      let ppid = signedDecimal(fields[1]), let flags = ProcNetParser.decimal(fields[6]),
      let start = ProcNetParser.decimal(fields[19])
    else { return nil }
    return Stat(
      name: name, state: Character(UnicodeScalar(fields[0][fields[0].startIndex])), ppid: PID(clamping: ppid),
      flags: flags, startTicks: start)
  }

  /// The effective uid from `/proc/PID/status` (`Uid:` real, effective, saved, fs).
  static func effectiveUID(status bytes: [UInt8]) -> UInt32? {
    guard let line = line(startingWith: "Uid:", in: bytes) else { return nil }
    var fields: [ArraySlice<UInt8>] = []
    ProcNetParser.splitFields(line, into: &fields)
    guard fields.count >= 2, let uid = ProcNetParser.decimal(fields[1]) else { return nil }
    return UInt32(exactly: uid)
  }

  /// `CapEff` from `/proc/PID/status`, as a bit set.
  static func effectiveCapabilities(status bytes: [UInt8]) -> UInt64? {
    guard let line = line(startingWith: "CapEff:", in: bytes) else { return nil }
    var fields: [ArraySlice<UInt8>] = []
    ProcNetParser.splitFields(line, into: &fields)
    guard fields.count == 1, fields[0].count <= 16 else { return nil }
    return ProcNetParser.hex(fields[0])
  }

  /// The rest of the first line of `bytes` that starts with `prefix`, without the prefix
  /// and the newline. Byte comparisons only: these files are read for every process shown.
  static func line(startingWith prefix: StaticString, in bytes: [UInt8]) -> ArraySlice<UInt8>? {
    let marker = UnsafeBufferPointer(start: prefix.utf8Start, count: prefix.utf8CodeUnitCount)
    var start = 0
    while start < bytes.count {
      let end = bytes[start...].firstIndex(of: UInt8(ascii: "\n")) ?? bytes.count
      if end - start >= marker.count, bytes[start..<(start + marker.count)].elementsEqual(marker) {
        return bytes[(start + marker.count)..<end]
      }
      start = end + 1
    }
    return nil
  }

  /// Splits `/proc/PID/cmdline` at NUL bytes, dropping the trailing one.
  static func commandLine(_ bytes: [UInt8]) -> [String] {
    var body = bytes[...]
    while body.last == 0 { body = body.dropLast() }
    guard !body.isEmpty else { return [] }
    return body.split(separator: 0, omittingEmptySubsequences: false).map {
      String(decoding: $0, as: UTF8.self)
    }
  }

  /// `/proc/PID/environ`: `KEY=value` pairs separated by NUL bytes.
  static func environment(_ bytes: [UInt8]) -> [String: String] {
    var result: [String: String] = [:]
    for entry in bytes.split(separator: 0) {
      guard let equals = entry.firstIndex(of: UInt8(ascii: "=")), equals > entry.startIndex else { continue }
      let key = String(decoding: entry[..<equals], as: UTF8.self)
      if result[key] == nil { result[key] = String(decoding: entry[(equals + 1)...], as: UTF8.self) }
    }
    return result
  }

  /// `btime` from `/proc/stat`: boot time in seconds since the epoch.
  static func bootTime(_ bytes: [UInt8]) -> Double? {
    guard let line = line(startingWith: "btime ", in: bytes) else { return nil }
    var fields: [ArraySlice<UInt8>] = []
    ProcNetParser.splitFields(line, into: &fields)
    guard fields.count == 1, let seconds = ProcNetParser.decimal(fields[0]) else { return nil }
    return Double(seconds)
  }

  /// The inode in a descriptor's link text `socket:[12345]`, or `nil` for anything else.
  static func socketInode(linkText bytes: UnsafeBufferPointer<UInt8>) -> UInt64? {
    // "socket:[" is 8 bytes; at least one digit and "]" follow.
    guard bytes.count >= 10, bytes[0] == UInt8(ascii: "s"), bytes[6] == UInt8(ascii: ":"),
      bytes[7] == UInt8(ascii: "["), bytes[bytes.count - 1] == UInt8(ascii: "]"),
      bytes[1] == UInt8(ascii: "o"), bytes[2] == UInt8(ascii: "c"), bytes[3] == UInt8(ascii: "k"),
      bytes[4] == UInt8(ascii: "e"), bytes[5] == UInt8(ascii: "t")
    else { return nil }
    var value: UInt64 = 0
    for index in 8..<(bytes.count - 1) {
      let byte = bytes[index]
      guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
      let (product, overflow1) = value.multipliedReportingOverflow(by: 10)
      let (sum, overflow2) = product.addingReportingOverflow(UInt64(byte - UInt8(ascii: "0")))
      if overflow1 || overflow2 { return nil }
      value = sum
    }
    return value
  }

  static func signedDecimal(_ digits: ArraySlice<UInt8>) -> Int64? {
    if digits.first == UInt8(ascii: "-") {
      return ProcNetParser.decimal(digits.dropFirst()).flatMap { Int64(exactly: $0) }.map { -$0 }
    }
    return ProcNetParser.decimal(digits).flatMap { Int64(exactly: $0) }
  }
}
