import PortKit

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A document that writes itself through a ``JSONWriter``: keys in byte order, as
/// `JSONEncoder` with `.sortedKeys` would put them.
package protocol JSONDocument {
  /// Writes the document as one JSON value.
  func write(to writer: inout JSONWriter)
}

/// Writes JSON as UTF-8 bytes, laid out exactly as Foundation's `JSONEncoder` lays it out with
/// `[.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]`: two spaces per level,
/// `"key" : value`, an empty array or object as an opening line, an empty line and the
/// closing line. Strings are escaped as that encoder escapes them, and every character
/// ``TerminalText`` would escape that it leaves raw (DEL, C1 controls, format characters such
/// as U+202E, U+2028, U+2029) is written as a `\uXXXX` escape (a surrogate pair above U+FFFF):
/// the text decodes the same, and a terminal showing it is never steered by it.
///
/// The caller writes keys in increasing byte order (debug builds check it). With a `sink`,
/// the bytes are handed over in chunks of about 64 KB as they accumulate, so a document of
/// any size takes a fixed amount of memory; ``finish()`` hands over the rest. A writer is
/// passed `inout` and never copied: copies would share one buffer.
package struct JSONWriter {
  /// The bytes written and not yet handed to the sink.
  private let out = ByteBuffer()
  private let sink: ((UnsafeBufferPointer<UInt8>) -> Void)?
  private let chunkSize: Int
  /// One line, no spaces (`{"key":value}`), as `JSONEncoder` writes without `.prettyPrinted`:
  /// the objects of an NDJSON stream.
  private var compact = false
  /// How many containers are open.
  private var depth = 0
  /// Bit `n`: whether something was written into the open container at depth `n + 1` yet.
  private var filled: UInt64 = 0
  /// A key was written and its value is next.
  private var afterKey = false
  #if DEBUG
  /// The last key written in each open object.
  private var lastKeys: [String] = []
  #endif

  /// A writer that keeps everything (``text`` is the document); `compact` writes it on one
  /// line without spaces, as `JSONEncoder` does without `.prettyPrinted`.
  package init(compact: Bool = false) {
    sink = nil
    chunkSize = .max
    self.compact = compact
  }

  /// A writer that hands its bytes to `sink` whenever `chunkSize` bytes have gathered.
  package init(chunkSize: Int = 1 << 16, sink: @escaping (UnsafeBufferPointer<UInt8>) -> Void) {
    self.sink = sink
    self.chunkSize = chunkSize
    out.reserve(min(chunkSize, 1 << 20) + 4096)
  }

  /// The text written and not handed to a sink (the whole document, for a writer without one).
  package var text: String { out.withBytes { String(decoding: $0, as: UTF8.self) } }

  /// Hands what is left to the sink.
  package mutating func finish() {
    guard let sink, out.count > 0 else { return }
    out.withBytes(sink)
    out.removeAll()
  }

  private mutating func flushIfFull() {
    if out.count >= chunkSize, let sink {
      out.withBytes(sink)
      out.removeAll()
    }
  }

  // MARK: Layout

  /// Starts a line of the innermost container: `,` after an earlier element, the newline,
  /// the indentation.
  private mutating func beginLine() {
    guard depth > 0 else { return }
    let bit: UInt64 = 1 << UInt64(depth - 1)
    if filled & bit != 0 { out.append(UInt8(ascii: ",")) }
    filled |= bit
    if !compact { out.newline(indent: depth) }
  }

  /// Where a value goes: after its key, or on a line of its own in an array.
  private mutating func beginValue() {
    if afterKey {
      afterKey = false
      return
    }
    beginLine()
  }

  private mutating func open(_ bracket: UInt8) {
    precondition(depth < 64, "JSON nested more than 64 levels deep")
    beginValue()
    out.append(bracket)
    depth += 1
    filled &= ~(1 << UInt64(depth - 1))
  }

  private mutating func close(_ bracket: UInt8) {
    precondition(depth > 0, "a JSON container closed that was not open")
    let wasFilled = filled & (1 << UInt64(depth - 1)) != 0
    depth -= 1
    if !compact {
      if !wasFilled { out.append(UInt8(ascii: "\n")) }
      out.newline(indent: depth)
    }
    out.append(bracket)
    if depth == 0 { return }
    flushIfFull()
  }

  /// Opens an object; its keys follow in increasing byte order.
  package mutating func beginObject() {
    open(UInt8(ascii: "{"))
    #if DEBUG
    lastKeys.append("")
    #endif
  }

  /// Closes the innermost object.
  package mutating func endObject() {
    close(UInt8(ascii: "}"))
    #if DEBUG
    lastKeys.removeLast()
    #endif
  }

  /// Opens an array.
  package mutating func beginArray() { open(UInt8(ascii: "[")) }

  /// Closes the innermost array.
  package mutating func endArray() { close(UInt8(ascii: "]")) }

  /// Writes `name` as the next key of the innermost object (plain ASCII, nothing to escape).
  package mutating func key(_ name: StaticString) {
    #if DEBUG
    checkOrder(name.description)
    #endif
    // The line and the key in one go: `,` `\n` indentation `"name" : ` (`,"name":` compact).
    precondition(depth > 0, "a JSON key outside an object")
    let bit: UInt64 = 1 << UInt64(depth - 1)
    let comma = filled & bit != 0 ? 1 : 0
    filled |= bit
    let line = compact ? 0 : 1 + 2 * depth
    let separator = compact ? 1 : 3
    name.withUTF8Buffer { key in
      out.appendUnsafe(count: comma + line + key.count + 2 + separator) { pointer in
        var position = 0
        if comma == 1 {
          pointer[0] = UInt8(ascii: ",")
          position = 1
        }
        if line > 0 {
          pointer[position] = UInt8(ascii: "\n")
          (pointer + position + 1).initialize(repeating: UInt8(ascii: " "), count: line - 1)
          position += line
        }
        pointer[position] = UInt8(ascii: "\"")
        if let base = key.baseAddress { (pointer + position + 1).initialize(from: base, count: key.count) }
        position += 1 + key.count
        pointer[position] = UInt8(ascii: "\"")
        if separator == 1 {
          pointer[position + 1] = UInt8(ascii: ":")
        } else {
          pointer[position + 1] = UInt8(ascii: " ")
          pointer[position + 2] = UInt8(ascii: ":")
          pointer[position + 3] = UInt8(ascii: " ")
        }
      }
    }
    afterKey = true
  }

  /// Writes `name` (any text, escaped as a string value is) as the next key of the innermost
  /// object.
  package mutating func dynamicKey(_ name: String) {
    #if DEBUG
    checkOrder(name)
    #endif
    beginLine()
    quoted(name)
    out.append(compact ? ":" as StaticString : " : ")
    afterKey = true
  }

  #if DEBUG
  private mutating func checkOrder(_ name: String) {
    precondition(!afterKey, "JSON key \(name) written where a value was due")
    guard let last = lastKeys.indices.last else { return }
    assert(
      lastKeys[last].isEmpty || lastKeys[last].utf8.lexicographicallyPrecedes(name.utf8),
      "JSON key \(name) written after \(lastKeys[last]): keys must be in increasing byte order")
    lastKeys[last] = name
  }
  #endif

  /// Ends the document's last line.
  package mutating func newline() {
    out.append(UInt8(ascii: "\n"))
  }

  // MARK: Values

  /// Writes `null`.
  package mutating func null() {
    beginValue()
    out.append("null" as StaticString)
  }

  /// Writes `true` or `false`.
  package mutating func bool(_ value: Bool) {
    beginValue()
    out.append(value ? "true" as StaticString : "false")
  }

  /// Writes an integer in decimal.
  package mutating func integer(_ value: some BinaryInteger) {
    beginValue()
    if let small = Int64(exactly: value) {
      if small < 0 { out.append(UInt8(ascii: "-")) }
      out.appendDigits(small.magnitude)
    } else if let large = UInt64(exactly: value) {
      out.appendDigits(large)
    } else {
      out.append(String(value))
    }
  }

  /// Writes a number as `JSONEncoder` writes a `Double`: its shortest round-trip form,
  /// without a trailing `.0` (`1`, `0.1`, `1e-07`, `1e+16`). `null` when it is not finite
  /// (the encoder refuses those).
  package mutating func double(_ value: Double) {
    guard value.isFinite else { return null() }
    beginValue()
    if value == value.rounded(), value.magnitude < 1e15 {
      // An integral value: its description is the digits and `.0`.
      if value < 0 || (value == 0 && value.sign == .minus) { out.append(UInt8(ascii: "-")) }
      out.appendDigits(UInt64(value.magnitude))
      return
    }
    var text = value.description
    if text.hasSuffix(".0") { text.removeLast(2) }
    out.append(text)
  }

  /// Writes `value` as a JSON string.
  package mutating func string(_ value: String) {
    beginValue()
    quoted(value)
  }

  /// Writes `parts` joined with spaces as one JSON string: a command line as
  /// ``PortKit/ProcessRecord/displayCommand`` shows it, without building the joined text.
  package mutating func string(joining parts: [String]) {
    beginValue()
    out.append(UInt8(ascii: "\""))
    for (index, part) in parts.enumerated() {
      if index > 0 { out.append(UInt8(ascii: " ")) }
      escaped(part)
    }
    out.append(UInt8(ascii: "\""))
  }

  /// Writes `epoch` (seconds since the Unix epoch) as an ISO 8601 date string,
  /// `2024-05-01T12:00:00Z`, as ``JSONOutput/iso8601(_:)`` does.
  package mutating func date(_ epoch: Double) {
    guard let fields = JSONOutput.utcFields(epoch) else { return string(JSONOutput.iso8601(epoch)) }
    beginValue()
    out.append(UInt8(ascii: "\""))
    out.appendUnsafe(count: 20) { JSONOutput.formatISO8601(fields, into: $0) }
    out.append(UInt8(ascii: "\""))
  }

  private static let hex: StaticString = "0123456789abcdef"

  private mutating func unicodeEscape(_ unit: UInt16) {
    out.appendUnsafe(count: 6) { pointer in
      Self.hex.withUTF8Buffer { hex in
        pointer[0] = UInt8(ascii: "\\")
        pointer[1] = UInt8(ascii: "u")
        pointer[2] = hex[Int(unit >> 12)]
        pointer[3] = hex[Int((unit >> 8) & 0xF)]
        pointer[4] = hex[Int((unit >> 4) & 0xF)]
        pointer[5] = hex[Int(unit & 0xF)]
      }
    }
  }

  private mutating func quoted(_ value: String) {
    out.append(UInt8(ascii: "\""))
    escaped(value)
    out.append(UInt8(ascii: "\""))
  }

  private static let ones: UInt64 = 0x0101_0101_0101_0101
  private static let highBits: UInt64 = 0x8080_8080_8080_8080

  /// Whether one of the eight bytes of `word` is below 0x20, above 0x7E, a quote or a
  /// backslash (bit tricks that never miss one).
  @inline(__always) private static func needsALook(_ word: UInt64) -> Bool {
    func hasZeroByte(_ value: UInt64) -> Bool { (value &- ones) & ~value & highBits != 0 }
    let control = (word &- ones &* 0x20) & ~word & highBits
    let high = ((word &+ ones &* (127 - 0x7E)) | word) & highBits
    return control | high != 0 || hasZeroByte(word ^ (ones &* 0x22)) || hasZeroByte(word ^ (ones &* 0x5C))
  }

  /// The contents of a JSON string for `value`, without the quotes.
  private mutating func escaped(_ value: String) {
    var value = value
    value.withUTF8 { utf8 in
      var index = 0
      var runStart = 0
      // Eight bytes at a time while none of them needs a look: no control character, quote,
      // backslash, DEL or byte of a multi-byte scalar.
      if let base = UnsafeRawPointer(utf8.baseAddress) {
        while index + 8 <= utf8.count {
          let word = base.loadUnaligned(fromByteOffset: index, as: UInt64.self)
          if Self.needsALook(word) { break }
          index += 8
        }
      }
      while index < utf8.count {
        let byte = utf8[index]
        if byte >= 0x20 && byte < 0x7F && byte != UInt8(ascii: "\"") && byte != UInt8(ascii: "\\") {
          index += 1
          continue
        }
        if byte >= 0x80 {
          // A multi-byte scalar: kept raw unless a terminal would act on it.
          let length = byte >= 0xF0 ? 4 : byte >= 0xE0 ? 3 : 2
          let end = min(index + length, utf8.count)
          var scalarValue = UInt32(byte) & (length == 4 ? 0x07 : length == 3 ? 0x0F : 0x1F)
          for position in (index + 1)..<end { scalarValue = scalarValue << 6 | UInt32(utf8[position] & 0x3F) }
          guard let scalar = Unicode.Scalar(scalarValue), TerminalText.needsEscaping(scalar) else {
            index = end
            continue
          }
          out.append(UnsafeBufferPointer(rebasing: utf8[runStart..<index]))
          if scalar.value > 0xFFFF {
            let offset = scalar.value - 0x1_0000
            unicodeEscape(UInt16(0xD800 + (offset >> 10)))
            unicodeEscape(UInt16(0xDC00 + (offset & 0x3FF)))
          } else {
            unicodeEscape(UInt16(scalar.value))
          }
          index = end
          runStart = end
          continue
        }
        out.append(UnsafeBufferPointer(rebasing: utf8[runStart..<index]))
        switch byte {
        case UInt8(ascii: "\""): out.append("\\\"" as StaticString)
        case UInt8(ascii: "\\"): out.append("\\\\" as StaticString)
        case 0x08: out.append("\\b" as StaticString)
        case 0x09: out.append("\\t" as StaticString)
        case 0x0A: out.append("\\n" as StaticString)
        case 0x0C: out.append("\\f" as StaticString)
        case 0x0D: out.append("\\r" as StaticString)
        default: unicodeEscape(UInt16(byte))  // the other C0 controls, and DEL
        }
        index += 1
        runStart = index
      }
      out.append(UnsafeBufferPointer(rebasing: utf8[runStart..<utf8.count]))
    }
  }

  // MARK: Fields

  /// Writes `name` and a string, or `null`.
  package mutating func field(_ name: StaticString, _ value: String?) {
    key(name)
    if let value { string(value) } else { null() }
  }

  /// Writes `name` and an integer, or `null`.
  package mutating func field(_ name: StaticString, _ value: (some BinaryInteger)?) {
    key(name)
    if let value { integer(value) } else { null() }
  }

  /// Writes `name` and a number, or `null`.
  package mutating func field(_ name: StaticString, _ value: Double?) {
    key(name)
    if let value { double(value) } else { null() }
  }

  /// Writes `name` and a Boolean, or `null`.
  package mutating func field(_ name: StaticString, _ value: Bool?) {
    key(name)
    if let value { bool(value) } else { null() }
  }

  /// Writes `name` and an array of strings.
  package mutating func field(_ name: StaticString, _ values: [String]) {
    key(name)
    beginArray()
    for value in values { string(value) }
    endArray()
  }

  /// Writes `name` and an array of integers.
  package mutating func field(_ name: StaticString, _ values: [some BinaryInteger]) {
    key(name)
    beginArray()
    for value in values { integer(value) }
    endArray()
  }

  /// Writes `name` and `address` as ``PortKit/IPAddress/description`` writes it (IPv4 as a
  /// dotted quad, without building the text).
  package mutating func addressField(_ name: StaticString, _ address: IPAddress) {
    key(name)
    guard case .v4(let raw) = address else { return string(address.description) }
    beginValue()
    out.append(UInt8(ascii: "\""))
    out.appendDigits(UInt64(raw >> 24))
    out.append(UInt8(ascii: "."))
    out.appendDigits(UInt64(raw >> 16 & 0xFF))
    out.append(UInt8(ascii: "."))
    out.appendDigits(UInt64(raw >> 8 & 0xFF))
    out.append(UInt8(ascii: "."))
    out.appendDigits(UInt64(raw & 0xFF))
    out.append(UInt8(ascii: "\""))
  }

  /// Writes `name` and the command `process` runs, as ``PortKit/ProcessRecord/displayCommand``
  /// shows it (its command line joined with spaces, or `[name]`).
  package mutating func commandField(_ name: StaticString, _ process: ProcessRecord) {
    key(name)
    let commandLine = process.commandLine
    if commandLine.isEmpty { string(process.displayCommand) } else { string(joining: commandLine) }
  }

  /// Writes `name` and an ISO 8601 date (see ``date(_:)``), or `null`.
  package mutating func dateField(_ name: StaticString, _ epoch: Double?) {
    key(name)
    if let epoch { date(epoch) } else { null() }
  }

  /// Writes `name` and `null`.
  package mutating func nullField(_ name: StaticString) {
    key(name)
    null()
  }

  /// Writes `name` and an object whose keys and string values are `entries`, keys sorted by
  /// byte order.
  package mutating func field(_ name: StaticString, _ entries: [String: String]) {
    key(name)
    beginObject()
    for (entryKey, value) in entries.sorted(by: { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }) {
      dynamicKey(entryKey)
      string(value)
    }
    endObject()
  }

  /// Writes `name` and an object whose keys and integer values are `entries`, keys sorted by
  /// byte order.
  package mutating func field(_ name: StaticString, _ entries: [String: Int]) {
    key(name)
    beginObject()
    for (entryKey, value) in entries.sorted(by: { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }) {
      dynamicKey(entryKey)
      integer(value)
    }
    endObject()
  }
}

/// A growable byte buffer without copy-on-write or bounds checks per byte: the writer's
/// output.
private final class ByteBuffer {
  private var base: UnsafeMutablePointer<UInt8>
  private var capacity: Int
  private(set) var count = 0

  init() {
    capacity = 4096
    base = .allocate(capacity: capacity)
  }

  deinit { base.deallocate() }

  func reserve(_ wanted: Int) {
    guard wanted > capacity else { return }
    let grown = UnsafeMutablePointer<UInt8>.allocate(capacity: wanted)
    grown.update(from: base, count: count)
    base.deallocate()
    base = grown
    capacity = wanted
  }

  @inline(__always) private func ensure(_ extra: Int) {
    if count + extra > capacity { reserve(max(capacity * 2, count + extra)) }
  }

  func removeAll() { count = 0 }

  func withBytes<Result>(_ body: (UnsafeBufferPointer<UInt8>) -> Result) -> Result {
    body(UnsafeBufferPointer(start: base, count: count))
  }

  @inline(__always) func append(_ byte: UInt8) {
    ensure(1)
    base[count] = byte
    count += 1
  }

  func append(_ bytes: UnsafeBufferPointer<UInt8>) {
    guard let source = bytes.baseAddress, !bytes.isEmpty else { return }
    ensure(bytes.count)
    (base + count).update(from: source, count: bytes.count)
    count += bytes.count
  }

  func append(_ text: StaticString) {
    text.withUTF8Buffer { append($0) }
  }

  func append(_ text: String) {
    var text = text
    text.withUTF8 { append($0) }
  }

  /// Appends `count` bytes that `body` writes.
  func appendUnsafe(count extra: Int, _ body: (UnsafeMutablePointer<UInt8>) -> Void) {
    ensure(extra)
    body(base + count)
    count += extra
  }

  /// A newline and `level` levels of indentation.
  func newline(indent level: Int) {
    let spaces = 2 * level
    appendUnsafe(count: 1 + spaces) { pointer in
      pointer[0] = UInt8(ascii: "\n")
      (pointer + 1).initialize(repeating: UInt8(ascii: " "), count: spaces)
    }
  }

  func appendDigits(_ value: UInt64) {
    var digits = 1
    var rest = value
    while rest >= 10 {
      rest /= 10
      digits += 1
    }
    appendUnsafe(count: digits) { pointer in
      var rest = value
      for position in stride(from: digits - 1, through: 0, by: -1) {
        pointer[position] = UInt8(ascii: "0") + UInt8(rest % 10)
        rest /= 10
      }
    }
  }
}
