import MCP
import PortKit

/// A tool's arguments that do not fit its schema, with the sentence that says so.
struct ArgumentError: Error {
  var message: String
}

/// Reads a `tools/call`'s arguments, checking each against what the tool accepts.
struct ToolArguments {
  var values: [String: Value]
  /// The names the tool accepts; any other is refused.
  var accepted: Set<String>

  /// Refuses an argument the tool does not take.
  func checkNames() throws(ArgumentError) {
    for name in values.keys.sorted() where !accepted.contains(name) {
      let known = accepted.sorted().joined(separator: ", ")
      throw ArgumentError(message: "Unknown argument '\(name)': this tool takes \(known.isEmpty ? "none" : known).")
    }
  }

  /// `ports` as port specs: an array of specs (strings or numbers), one string, or one number.
  func specs(_ name: String = "ports") throws(ArgumentError) -> [PortSpec] {
    let items: [Value]
    switch values[name] {
    case .array(let array)?: items = array
    case let value?: items = [value]
    case nil: throw ArgumentError(message: "Missing '\(name)': give one or more of \(PortSpec.acceptedForms).")
    }
    var specs: [PortSpec] = []
    for item in items {
      let text: String
      switch item {
      case .string(let string): text = string
      case .int(let number): text = String(number)
      default: throw ArgumentError(message: "'\(name)' takes port specs as strings or numbers.")
      }
      do {
        specs += try PortSpec.parseList(text)
      } catch {
        throw ArgumentError(message: error.description)
      }
    }
    if specs.isEmpty {
      throw ArgumentError(message: "'\(name)' is empty: give one or more of \(PortSpec.acceptedForms).")
    }
    return specs
  }

  func bool(_ name: String) throws(ArgumentError) -> Bool {
    switch values[name] {
    case nil, .null?: return false
    case .bool(let value)?: return value
    default: throw ArgumentError(message: "'\(name)' takes true or false.")
    }
  }

  func string(_ name: String) throws(ArgumentError) -> String? {
    switch values[name] {
    case nil, .null?: return nil
    case .string(let value)?: return value
    default: throw ArgumentError(message: "'\(name)' takes a string.")
    }
  }

  func integer(_ name: String, in range: ClosedRange<Int>) throws(ArgumentError) -> Int? {
    let number: Int
    switch values[name] {
    case nil, .null?: return nil
    case .int(let value)?: number = value
    case .double(let value)? where value.rounded() == value && abs(value) < 1e15: number = Int(value)
    default:
      throw ArgumentError(message: "'\(name)' takes a whole number from \(range.lowerBound) to \(range.upperBound).")
    }
    guard range.contains(number) else {
      throw ArgumentError(message: "'\(name)' takes \(range.lowerBound) to \(range.upperBound), not \(number).")
    }
    return number
  }

  func number(_ name: String, in range: ClosedRange<Double>) throws(ArgumentError) -> Double? {
    let number: Double
    switch values[name] {
    case nil, .null?: return nil
    case .int(let value)?: number = Double(value)
    case .double(let value)?: number = value
    default: throw ArgumentError(message: "'\(name)' takes a number of seconds.")
    }
    guard range.contains(number) else {
      throw ArgumentError(message: "'\(name)' takes \(range.lowerBound) to \(range.upperBound) seconds, not \(number).")
    }
    return number
  }

  /// `protocol`: `tcp`, `udp`, or absent (`nil`).
  func transport() throws(ArgumentError) -> TransportProtocol? {
    guard let text = try string("protocol") else { return nil }
    guard let proto = TransportProtocol(rawValue: text.lowercased()) else {
      throw ArgumentError(message: "'protocol' takes tcp or udp, not '\(text)'.")
    }
    return proto
  }

  /// The protocols to look at: the one asked for, or both.
  func protocols() throws(ArgumentError) -> Set<TransportProtocol> {
    try transport().map { [$0] } ?? [.tcp, .udp]
  }
}
