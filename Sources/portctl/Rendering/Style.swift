/// ANSI styling that is a no-op when colour is off. (A few escape codes do not earn a
/// dependency that pulls all of Foundation into start-up.)
struct Style: Sendable {
  var enabled: Bool

  static let standardOutput = Style(enabled: Terminal.colorEnabled)

  func bold(_ text: String) -> String { wrap(text, "1") }
  func dim(_ text: String) -> String { wrap(text, "2") }
  func green(_ text: String) -> String { wrap(text, "32") }
  func yellow(_ text: String) -> String { wrap(text, "33") }
  func red(_ text: String) -> String { wrap(text, "31") }
  func cyan(_ text: String) -> String { wrap(text, "36") }

  private func wrap(_ text: String, _ code: String) -> String {
    enabled && !text.isEmpty ? "\u{1B}[\(code)m\(text)\u{1B}[0m" : text
  }
}

/// An aligned text table. Widths come from the plain text; styling is applied after padding
/// so escape codes never disturb alignment. The last column is not padded.
struct TextTable {
  struct Cell {
    var text: String
    var style: (String) -> String = { $0 }
  }

  var headers: [String]
  var rows: [[Cell]] = []
  var separator = "  "

  init(headers: [String]) {
    self.headers = headers
  }

  mutating func append(_ cells: [Cell]) { rows.append(cells) }

  func render(style: Style) -> [String] {
    var widths = headers.map(\.count)
    for row in rows {
      for (index, cell) in row.enumerated() where index < widths.count {
        widths[index] = max(widths[index], cell.text.count)
      }
    }
    func line(_ cells: [Cell]) -> String {
      var parts: [String] = []
      for (index, cell) in cells.enumerated() {
        let isLast = index == cells.count - 1
        let padding = isLast ? "" : String(repeating: " ", count: max(0, widths[index] - cell.text.count))
        parts.append(cell.style(cell.text) + padding)
      }
      var text = parts.joined(separator: separator)
      while text.last == " " { text.removeLast() }
      return text
    }
    return [line(headers.map { Cell(text: $0, style: { style.bold($0) }) })] + rows.map(line)
  }
}

/// Compact durations: `45s`, `12m05s`, `3h04m`, `2d03h`.
enum Durations {
  static func compact(_ seconds: Double) -> String {
    guard seconds.isFinite, seconds >= 0 else { return "-" }
    let total = Int(seconds)
    let (days, hours, minutes, secs) = (total / 86400, total / 3600 % 24, total / 60 % 60, total % 60)
    func two(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
    if days > 0 { return "\(days)d\(two(hours))h" }
    if hours > 0 { return "\(hours)h\(two(minutes))m" }
    if minutes > 0 { return "\(minutes)m\(two(secs))s" }
    return "\(secs)s"
  }
}
