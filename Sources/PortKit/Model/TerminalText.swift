/// Makes text that another process chose safe to print on a terminal.
///
/// Command lines, process and user names, paths, unit, session and pane names come from
/// other users' processes. Printed raw, a newline forges a line, an ESC sequence moves the
/// cursor, recolours or retitles the window, and a bidi control reorders what is shown.
/// ``escape(_:)`` makes every such character visible instead, so that what is printed is
/// exactly one line of plain text that still shows what the process said, unambiguously:
///
/// | character | printed as |
/// |---|---|
/// | backslash | `\\` |
/// | newline, carriage return, tab | `\n`, `\r`, `\t` |
/// | other C0 controls and DEL (U+0000–U+001F, U+007F) | `\x1b`, `\x07`, `\x7f`… |
/// | C1 controls (U+0080–U+009F) | `\u009b`… |
/// | format characters (category Cf: bidi controls such as U+202E and U+2066–U+2069, zero-width characters, U+FEFF, U+00AD…) | `\u202e`, `\u200b`…; above U+FFFF `\U000e0001` |
/// | line and paragraph separators (U+2028, U+2029) | `\u2028`, `\u2029` |
/// | a byte that is not valid UTF-8 (``escape(utf8:)`` only) | `\xff` |
///
/// Everything else, printable ASCII and printable Unicode alike, is kept as it is. A Swift
/// `String` is always valid Unicode: text decoded from bytes with `String(decoding:as:)`
/// already carries U+FFFD (�) for each invalid sequence, which is printable and kept; use
/// ``escape(utf8:)`` where the raw bytes are still at hand.
///
/// Pure, and fast for the common case: text that is all printable ASCII without a
/// backslash is returned unchanged after one pass over its bytes.
public enum TerminalText {
  /// `text` with every control and format character (and backslash) written visibly.
  public static func escape(_ text: String) -> String {
    if isPlainASCII(text) { return text }
    var result = ""
    result.reserveCapacity(text.utf8.count + 16)
    for scalar in text.unicodeScalars { append(scalar, to: &result) }
    return result
  }

  /// The same for raw bytes: valid UTF-8 is escaped as ``escape(_:)`` does, and each byte
  /// that is not part of a valid UTF-8 sequence is written as `\xHH`.
  public static func escape<Bytes: Collection<UInt8>>(utf8 bytes: Bytes) -> String {
    let bytes = Array(bytes)
    var result = ""
    result.reserveCapacity(bytes.count + 16)
    var index = 0
    while index < bytes.count {
      if let (scalar, length) = decode(bytes, at: index) {
        append(scalar, to: &result)
        index += length
      } else {
        appendHex(UInt32(bytes[index]), prefix: "\\x", digits: 2, to: &result)
        index += 1
      }
    }
    return result
  }

  /// True when `scalar` is printed escaped by ``escape(_:)``.
  public static func needsEscaping(_ scalar: Unicode.Scalar) -> Bool {
    let value = scalar.value
    if value < 0x20 || value == 0x5C || value == 0x7F { return true }
    if value < 0x7F { return false }
    if value <= 0x9F { return true }
    switch scalar.properties.generalCategory {
    case .format, .lineSeparator, .paragraphSeparator, .control: return true
    default: return false
    }
  }

  /// True when `text` is printable ASCII without a backslash (nothing to escape).
  static func isPlainASCII(_ text: String) -> Bool {
    var text = text
    return text.withUTF8 { bytes in
      for byte in bytes where byte < 0x20 || byte >= 0x7F || byte == 0x5C { return false }
      return true
    }
  }

  private static func append(_ scalar: Unicode.Scalar, to result: inout String) {
    guard needsEscaping(scalar) else {
      result.unicodeScalars.append(scalar)
      return
    }
    switch scalar.value {
    case 0x5C: result += "\\\\"
    case 0x0A: result += "\\n"
    case 0x0D: result += "\\r"
    case 0x09: result += "\\t"
    case ..<0x80: appendHex(scalar.value, prefix: "\\x", digits: 2, to: &result)
    case ...0xFFFF: appendHex(scalar.value, prefix: "\\u", digits: 4, to: &result)
    default: appendHex(scalar.value, prefix: "\\U", digits: 8, to: &result)
    }
  }

  private static func appendHex(_ value: UInt32, prefix: String, digits: Int, to result: inout String) {
    result += prefix
    let hex: [Character] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "a", "b", "c", "d", "e", "f"]
    for position in stride(from: digits - 1, through: 0, by: -1) {
      result.append(hex[Int(value >> (UInt32(position) * 4) & 0xF)])
    }
  }

  /// The scalar encoded at `index` and its length in bytes; `nil` when the bytes there are
  /// not a valid (shortest-form, non-surrogate) UTF-8 sequence.
  private static func decode(_ bytes: [UInt8], at index: Int) -> (Unicode.Scalar, Int)? {
    let lead = bytes[index]
    let length: Int
    let minimum: UInt32
    var value: UInt32
    switch lead {
    case 0x00...0x7F: return Unicode.Scalar(UInt32(lead)).map { ($0, 1) }
    case 0xC2...0xDF: (length, minimum, value) = (2, 0x80, UInt32(lead & 0x1F))
    case 0xE0...0xEF: (length, minimum, value) = (3, 0x800, UInt32(lead & 0x0F))
    case 0xF0...0xF4: (length, minimum, value) = (4, 0x10000, UInt32(lead & 0x07))
    default: return nil
    }
    guard index + length <= bytes.count else { return nil }
    for offset in 1..<length {
      let byte = bytes[index + offset]
      guard byte & 0xC0 == 0x80 else { return nil }
      value = value << 6 | UInt32(byte & 0x3F)
    }
    guard value >= minimum, let scalar = Unicode.Scalar(value) else { return nil }
    return (scalar, length)
  }
}
