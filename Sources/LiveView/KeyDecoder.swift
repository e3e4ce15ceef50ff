/// A key the live view reacts to, decoded from what the terminal sends in raw mode.
public enum Key: Hashable, Sendable {
  case up, down, left, right, pageUp, pageDown, home, end
  case enter, escape, backspace, tab
  /// Ctrl-C, which arrives as a byte in raw mode (signals are off).
  case interrupt
  /// A printable character.
  case character(Character)
  /// Another control key (Ctrl-N is `0x0E`, Ctrl-P `0x10`).
  case control(UInt8)
  /// Anything else: an unknown escape sequence or control byte (ignored).
  case other
}

/// Turns the bytes a terminal sends into keys. Escape sequences (`ESC [ A`…) may arrive
/// split across reads: an incomplete one is kept until more bytes come, and an `ESC` that
/// nothing followed within a short wait is the Esc key (``flush()``).
public struct KeyDecoder: Sendable {
  private var pending: [UInt8] = []

  /// A decoder with nothing pending.
  public init() {}

  /// True when bytes are held back waiting for the rest of a sequence.
  public var hasPending: Bool { !pending.isEmpty }

  /// The keys `bytes` complete (with what was pending before them).
  public mutating func feed<Bytes: Sequence<UInt8>>(_ bytes: Bytes) -> [Key] {
    pending.append(contentsOf: bytes)
    var keys: [Key] = []
    var index = 0
    while index < pending.count {
      guard let (key, length) = Self.decode(pending, at: index) else { break }
      keys.append(key)
      index += length
    }
    pending.removeFirst(index)
    return keys
  }

  /// What is pending, taken as complete: a lone `ESC` is the Esc key; the rest of a cut
  /// sequence is dropped.
  public mutating func flush() -> [Key] {
    defer { pending = [] }
    guard let first = pending.first else { return [] }
    if first == 0x1B {
      var keys: [Key] = [.escape]
      if pending.count > 1 { keys.append(.other) }
      return keys
    }
    return [.other]
  }

  /// The key at `index` and how many bytes it took; `nil` when more bytes are needed.
  static func decode(_ bytes: [UInt8], at index: Int) -> (Key, Int)? {
    let byte = bytes[index]
    switch byte {
    case 0x1B: return escape(bytes, at: index)
    case 0x0D, 0x0A: return (.enter, 1)
    case 0x7F, 0x08: return (.backspace, 1)
    case 0x09: return (.tab, 1)
    case 0x03: return (.interrupt, 1)
    case 0x00..<0x20: return (.control(byte), 1)
    case 0x20..<0x7F: return (.character(Character(Unicode.Scalar(byte))), 1)
    default: return utf8(bytes, at: index)
    }
  }

  private static func escape(_ bytes: [UInt8], at index: Int) -> (Key, Int)? {
    guard index + 1 < bytes.count else { return nil }
    let introducer = bytes[index + 1]
    // ESC ESC: the first is the Esc key.
    if introducer == 0x1B { return (.escape, 1) }
    if introducer == UInt8(ascii: "O") {
      guard index + 2 < bytes.count else { return nil }
      let key: Key =
        switch bytes[index + 2] {
        case UInt8(ascii: "A"): .up
        case UInt8(ascii: "B"): .down
        case UInt8(ascii: "C"): .right
        case UInt8(ascii: "D"): .left
        case UInt8(ascii: "H"): .home
        case UInt8(ascii: "F"): .end
        default: .other
        }
      return (key, 3)
    }
    guard introducer == UInt8(ascii: "[") else {
      // Alt and a key: taken as Esc, and the key is read on its own.
      return (.escape, 1)
    }
    // CSI: parameter and intermediate bytes, then one final byte in 0x40–0x7E.
    var end = index + 2
    while end < bytes.count, !(0x40...0x7E).contains(bytes[end]) {
      // A byte that cannot be in a sequence ends it as unknown.
      if bytes[end] < 0x20 || bytes[end] > 0x3F { return (.other, end - index) }
      end += 1
    }
    guard end < bytes.count else { return end - index > 16 ? (.other, end - index) : nil }
    let parameters = String(decoding: bytes[(index + 2)..<end], as: UTF8.self)
    let key: Key =
      switch (bytes[end], parameters) {
      case (UInt8(ascii: "A"), _): .up
      case (UInt8(ascii: "B"), _): .down
      case (UInt8(ascii: "C"), _): .right
      case (UInt8(ascii: "D"), _): .left
      case (UInt8(ascii: "H"), _): .home
      case (UInt8(ascii: "F"), _): .end
      case (UInt8(ascii: "~"), "1"), (UInt8(ascii: "~"), "7"): .home
      case (UInt8(ascii: "~"), "4"), (UInt8(ascii: "~"), "8"): .end
      case (UInt8(ascii: "~"), "5"): .pageUp
      case (UInt8(ascii: "~"), "6"): .pageDown
      default: .other
      }
    return (key, end - index + 1)
  }

  private static func utf8(_ bytes: [UInt8], at index: Int) -> (Key, Int)? {
    let lead = bytes[index]
    let length: Int
    switch lead {
    case 0xC2...0xDF: length = 2
    case 0xE0...0xEF: length = 3
    case 0xF0...0xF4: length = 4
    default: return (.other, 1)
    }
    guard index + length <= bytes.count else { return nil }
    let slice = bytes[index..<(index + length)]
    guard slice.dropFirst().allSatisfy({ $0 & 0xC0 == 0x80 }) else { return (.other, 1) }
    let text = String(decoding: slice, as: UTF8.self)
    guard let character = text.first, text.count == 1, !text.unicodeScalars.contains(where: { $0.value == 0xFFFD })
    else { return (.other, length) }
    return (.character(character), length)
  }
}
