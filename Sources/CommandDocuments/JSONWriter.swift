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
/// any size takes a fixed amount of memory; ``finish()`` hands over the rest.
package struct JSONWriter {
  /// The bytes written and not yet handed to the sink.
  package private(set) var bytes: [UInt8] = []
  private let sink: ((ArraySlice<UInt8>) -> Void)?
  private let chunkSize: Int
  /// One entry per open container: whether something was written into it yet.
  private var filled: [Bool] = []
  /// A key was written and its value is next.
  private var afterKey = false
  #if DEBUG
  /// The last key written in each open object.
  private var lastKeys: [String] = []
  #endif

  /// A writer that keeps everything in ``bytes``.
  package init() {
    sink = nil
    chunkSize = .max
    bytes.reserveCapacity(4096)
  }

  /// A writer that hands its bytes to `sink` whenever `chunkSize` bytes have gathered.
  package init(chunkSize: Int = 1 << 16, sink: @escaping (ArraySlice<UInt8>) -> Void) {
    self.sink = sink
    self.chunkSize = chunkSize
    bytes.reserveCapacity(chunkSize + 4096)
  }

  /// The text written (for a writer without a sink).
  package var text: String { String(decoding: bytes, as: UTF8.self) }

  /// Hands what is left to the sink.
  package mutating func finish() {
    guard let sink, !bytes.isEmpty else { return }
    sink(bytes[...])
    bytes.removeAll(keepingCapacity: true)
  }

  private mutating func flushIfFull() {
    if bytes.count >= chunkSize, let sink {
      sink(bytes[...])
      bytes.removeAll(keepingCapacity: true)
    }
  }

  // MARK: Layout

  private mutating func newline(indent level: Int) {
    bytes.append(UInt8(ascii: "\n"))
    bytes.append(contentsOf: repeatElement(UInt8(ascii: " "), count: 2 * level))
  }

  /// Where a value goes: after its key, or on a line of its own in an array.
  private mutating func beginValue() {
    if afterKey {
      afterKey = false
      return
    }
    guard let last = filled.indices.last else { return }
    if filled[last] { bytes.append(UInt8(ascii: ",")) }
    filled[last] = true
    newline(indent: filled.count)
  }

  private mutating func open(_ bracket: UInt8) {
    beginValue()
    bytes.append(bracket)
    filled.append(false)
  }

  private mutating func close(_ bracket: UInt8) {
    let wasFilled = filled.removeLast()
    if !wasFilled { bytes.append(UInt8(ascii: "\n")) }
    newline(indent: filled.count)
    bytes.append(bracket)
    if filled.isEmpty { return }
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
    name.withUTF8Buffer { key(bytes: $0) }
  }

  /// Writes `name` (any text, escaped as a string value is) as the next key of the innermost
  /// object.
  package mutating func dynamicKey(_ name: String) {
    #if DEBUG
    checkOrder(name)
    #endif
    precondition(!afterKey, "a key follows a key")
    if let last = filled.indices.last {
      if filled[last] { bytes.append(UInt8(ascii: ",")) }
      filled[last] = true
      newline(indent: filled.count)
    }
    quoted(name)
    bytes.append(contentsOf: [UInt8(ascii: " "), UInt8(ascii: ":"), UInt8(ascii: " ")])
    afterKey = true
  }

  private mutating func key(bytes name: UnsafeBufferPointer<UInt8>) {
    #if DEBUG
    checkOrder(String(decoding: name, as: UTF8.self))
    #endif
    if let last = filled.indices.last {
      if filled[last] { bytes.append(UInt8(ascii: ",")) }
      filled[last] = true
      newline(indent: filled.count)
    }
    bytes.append(UInt8(ascii: "\""))
    bytes.append(contentsOf: name)
    bytes.append(contentsOf: [UInt8(ascii: "\""), UInt8(ascii: " "), UInt8(ascii: ":"), UInt8(ascii: " ")])
    afterKey = true
  }

  #if DEBUG
  private mutating func checkOrder(_ name: String) {
    guard let last = lastKeys.indices.last else { return }
    assert(
      lastKeys[last].isEmpty || lastKeys[last].utf8.lexicographicallyPrecedes(name.utf8),
      "JSON key \(name) written after \(lastKeys[last]): keys must be in increasing byte order")
    lastKeys[last] = name
  }
  #endif

  /// Ends the document's last line.
  package mutating func newline() {
    bytes.append(UInt8(ascii: "\n"))
  }

  // MARK: Values

  /// Writes `null`.
  package mutating func null() {
    beginValue()
    bytes.append(contentsOf: [UInt8(ascii: "n"), UInt8(ascii: "u"), UInt8(ascii: "l"), UInt8(ascii: "l")])
  }

  /// Writes `true` or `false`.
  package mutating func bool(_ value: Bool) {
    beginValue()
    if value {
      bytes.append(contentsOf: [UInt8(ascii: "t"), UInt8(ascii: "r"), UInt8(ascii: "u"), UInt8(ascii: "e")])
    } else {
      bytes.append(contentsOf: [
        UInt8(ascii: "f"), UInt8(ascii: "a"), UInt8(ascii: "l"), UInt8(ascii: "s"), UInt8(ascii: "e"),
      ])
    }
  }

  /// Writes an integer in decimal.
  package mutating func integer(_ value: some BinaryInteger) {
    beginValue()
    if let small = Int64(exactly: value) {
      if small < 0 {
        bytes.append(UInt8(ascii: "-"))
        digits(small.magnitude)
      } else {
        digits(UInt64(small))
      }
    } else if let large = UInt64(exactly: value) {
      digits(large)
    } else {
      bytes.append(contentsOf: String(value).utf8)
    }
  }

  private mutating func digits(_ value: UInt64) {
    var buffer: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes: enough for 20 digits
    withUnsafeMutableBytes(of: &buffer) { raw in
      var position = raw.count
      var rest = value
      repeat {
        position -= 1
        raw[position] = UInt8(ascii: "0") + UInt8(rest % 10)
        rest /= 10
      } while rest > 0
      bytes.append(contentsOf: raw[position...])
    }
  }

  /// Writes a number as `JSONEncoder` writes a `Double`: its shortest round-trip form,
  /// without a trailing `.0` (`1`, `0.1`, `1e-07`, `1e+16`). `null` when it is not finite
  /// (the encoder refuses those).
  package mutating func double(_ value: Double) {
    guard value.isFinite else { return null() }
    beginValue()
    var text = value.description
    if text.hasSuffix(".0") { text.removeLast(2) }
    bytes.append(contentsOf: text.utf8)
  }

  /// Writes `value` as a JSON string.
  package mutating func string(_ value: String) {
    beginValue()
    quoted(value)
  }

  /// Writes `epoch` (seconds since the Unix epoch) as an ISO 8601 date string,
  /// `2024-05-01T12:00:00Z`, as ``JSONOutput/iso8601(_:)`` does.
  package mutating func date(_ epoch: Double) {
    guard let fields = JSONOutput.utcFields(epoch) else { return string(JSONOutput.iso8601(epoch)) }
    beginValue()
    bytes.append(UInt8(ascii: "\""))
    JSONOutput.appendISO8601(fields, to: &bytes)
    bytes.append(UInt8(ascii: "\""))
  }

  private static let hex: [UInt8] = Array("0123456789abcdef".utf8)

  private mutating func unicodeEscape(_ unit: UInt16) {
    bytes.append(contentsOf: [
      UInt8(ascii: "\\"), UInt8(ascii: "u"), Self.hex[Int(unit >> 12)], Self.hex[Int((unit >> 8) & 0xF)],
      Self.hex[Int((unit >> 4) & 0xF)], Self.hex[Int(unit & 0xF)],
    ])
  }

  private mutating func quoted(_ value: String) {
    bytes.append(UInt8(ascii: "\""))
    var value = value
    value.withUTF8 { utf8 in
      var index = 0
      var runStart = 0
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
          bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<index]))
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
        bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<index]))
        switch byte {
        case UInt8(ascii: "\""): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
        case UInt8(ascii: "\\"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
        case 0x08: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "b")])
        case 0x09: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
        case 0x0A: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
        case 0x0C: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "f")])
        case 0x0D: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
        default: unicodeEscape(UInt16(byte))  // the other C0 controls, and DEL
        }
        index += 1
        runStart = index
      }
      bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<utf8.count]))
    }
    bytes.append(UInt8(ascii: "\""))
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
