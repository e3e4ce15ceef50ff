import CPortSys

@testable import PortKit

/// The records dump of the native Windows backend (what the Wine harness prints, and what
/// the Windows fixtures are written in), read back into the C records.
///
/// UTF-8 text, one record per line (`\r` before `\n` tolerated); `#` lines and blank lines
/// are comments. A line is a kind word, then TAB-separated `key=value` fields in any order;
/// unknown keys are ignored. Values escape `\` as `\\`, TAB as `\t`, LF as `\n`, CR as `\r`
/// and other bytes below 0x20 as `\xHH`. Kinds `socket`, `process` and `service` become
/// records; any other kind is kept in ``extras``.
struct WindowsRecordDump: Sendable {
  /// The records, with text pools built from the text fields.
  var tables = WindowsTables()
  /// Lines of other kinds (the harness's `harness`, `terminate`, `probe`), in order.
  var extras: [(kind: String, fields: [String: String])] = []

  /// A line the dump cannot hold.
  struct ParseError: Error, CustomStringConvertible {
    var line: Int
    var message: String
    var description: String { "line \(line): \(message)" }
  }

  /// The first extra line of `kind`.
  func extra(_ kind: String) -> [String: String]? {
    extras.first { $0.kind == kind }?.fields
  }

  /// Every extra line of `kind`.
  func extras(_ kind: String) -> [[String: String]] {
    extras.filter { $0.kind == kind }.map(\.fields)
  }

  /// Reads a dump; throws on a field whose value is not what its key needs.
  static func parse(_ text: String) throws -> WindowsRecordDump {
    var dump = WindowsRecordDump()
    for (index, rawLine) in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
      .enumerated()
    {
      let number = index + 1
      var line = Substring(rawLine)
      if line.hasSuffix("\r") { line = line.dropLast() }
      if line.isEmpty || line.hasPrefix("#") || line.allSatisfy({ $0 == " " || $0 == "\t" }) { continue }
      let parts = line.split(separator: "\t", omittingEmptySubsequences: true)
      guard let kind = parts.first.map(String.init) else { continue }
      var fields: [String: String] = [:]
      for part in parts.dropFirst() {
        guard let equals = part.firstIndex(of: "=") else {
          throw ParseError(line: number, message: "field \"\(part)\" has no '='")
        }
        fields[String(part[..<equals])] = try unescape(part[part.index(after: equals)...], line: number)
      }
      let reader = FieldReader(fields: fields, line: number)
      switch kind {
      case "socket": dump.tables.sockets.append(try socket(reader))
      case "process": dump.tables.processes.append(try process(reader, pool: &dump.tables.processText))
      case "service": dump.tables.services.append(try service(reader, pool: &dump.tables.serviceText))
      default: dump.extras.append((kind: kind, fields: fields))
      }
    }
    return dump
  }

  /// Undoes the value escapes; an unknown escape or a `\x` without two hex digits throws.
  static func unescape(_ value: Substring, line: Int) throws -> String {
    guard value.contains("\\") else { return String(value) }
    var bytes: [UInt8] = []
    var iterator = Array(value.utf8).makeIterator()
    while let byte = iterator.next() {
      guard byte == UInt8(ascii: "\\") else {
        bytes.append(byte)
        continue
      }
      switch iterator.next() {
      case UInt8(ascii: "\\"): bytes.append(UInt8(ascii: "\\"))
      case UInt8(ascii: "t"): bytes.append(0x09)
      case UInt8(ascii: "n"): bytes.append(0x0A)
      case UInt8(ascii: "r"): bytes.append(0x0D)
      case UInt8(ascii: "x"):
        let digits = [iterator.next(), iterator.next()].compactMap { $0 }
        guard digits.count == 2, let value = UInt8(String(decoding: digits, as: UTF8.self), radix: 16) else {
          throw ParseError(line: line, message: "\\x needs two hex digits")
        }
        bytes.append(value)
      case let other:
        throw ParseError(line: line, message: "unknown escape \\\(other.map { String(UnicodeScalar($0)) } ?? "")")
      }
    }
    return String(decoding: bytes, as: UTF8.self)
  }

  /// Reads typed fields; a missing key is 0 or empty.
  struct FieldReader {
    var fields: [String: String]
    var line: Int

    func number<Number: FixedWidthInteger>(_ key: String, as type: Number.Type = Number.self) throws -> Number {
      guard let text = fields[key] else { return 0 }
      guard let value = Number(text) else {
        throw ParseError(line: line, message: "\(key)=\(text) is not a \(Number.self)")
      }
      return value
    }

    func text(_ key: String) -> String { fields[key] ?? "" }

    func address(_ key: String, family: UInt8) throws -> [UInt8] {
      guard let text = fields[key], !text.isEmpty else { return [UInt8](repeating: 0, count: 16) }
      guard let address = IPAddress(text), (address.family == .ipv4) == (family == 4) else {
        throw ParseError(line: line, message: "\(key)=\(text) is not an IPv\(family) address")
      }
      return address.bytes + [UInt8](repeating: 0, count: 16 - address.bytes.count)
    }
  }

  static func socket(_ fields: FieldReader) throws -> cportsys_win_socket {
    var row = cportsys_win_socket()
    switch fields.text("proto") {
    case "tcp": row.protocol = 6
    case "udp": row.protocol = 17
    case let other: throw ParseError(line: fields.line, message: "proto=\(other) is neither tcp nor udp")
    }
    row.family = try fields.number("family")
    guard row.family == 4 || row.family == 6 else {
      throw ParseError(line: fields.line, message: "family=\(row.family) is neither 4 nor 6")
    }
    row.state = try fields.number("state")
    row.local_port = try fields.number("lport")
    row.remote_port = try fields.number("rport")
    row.local_scope = try fields.number("lscope")
    row.remote_scope = try fields.number("rscope")
    row.pid = try fields.number("pid")
    let local = try fields.address("local", family: row.family)
    let remote = try fields.address("remote", family: row.family)
    withUnsafeMutableBytes(of: &row.local_address) { $0.copyBytes(from: local) }
    withUnsafeMutableBytes(of: &row.remote_address) { $0.copyBytes(from: remote) }
    return row
  }

  static func process(_ fields: FieldReader, pool: inout [UInt16]) throws -> cportsys_win_process {
    var row = cportsys_win_process()
    row.pid = try fields.number("pid")
    row.ppid = try fields.number("ppid")
    row.threads = try fields.number("threads")
    row.denied = try fields.number("denied")
    row.created = try fields.number("created")
    row.name = add(fields.text("name"), to: &pool)
    row.image = add(fields.text("image"), to: &pool)
    row.user = add(fields.text("user"), to: &pool)
    row.command_line = add(fields.text("cmd"), to: &pool)
    return row
  }

  static func service(_ fields: FieldReader, pool: inout [UInt16]) throws -> cportsys_win_service {
    var row = cportsys_win_service()
    row.pid = try fields.number("pid")
    row.state = try fields.number("state")
    row.name = add(fields.text("name"), to: &pool)
    row.display_name = add(fields.text("display"), to: &pool)
    return row
  }

  /// Appends `text` as UTF-16 to `pool`; empty text is length 0.
  static func add(_ text: String, to pool: inout [UInt16]) -> cportsys_win_text {
    let units = Array(text.utf16)
    guard !units.isEmpty else { return cportsys_win_text(offset: 0, length: 0) }
    let piece = cportsys_win_text(offset: UInt32(pool.count), length: UInt32(units.count))
    pool += units
    return piece
  }
}
