import PortKit

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

/// How a table cell is coloured.
enum Tint: Sendable {
  case plain, bold, dim, green, yellow, red

  func apply(_ text: String, _ style: Style) -> String {
    switch self {
    case .plain: text
    case .bold: style.bold(text)
    case .dim: style.dim(text)
    case .green: style.green(text)
    case .yellow: style.yellow(text)
    case .red: style.red(text)
    }
  }
}

/// An aligned text table. Widths come from the plain text; styling is applied after padding
/// so escape codes never disturb alignment. The last column is not padded.
struct TextTable {
  struct Cell {
    /// The text as printed: escaped (``TerminalText``), since cells carry names and command
    /// lines other processes chose.
    var text: String
    var tint: Tint = .plain

    init(text: String, tint: Tint = .plain) {
      self.text = TerminalText.escape(text)
      self.tint = tint
    }

    /// Display width: one column per Unicode scalar (box-drawing marks included).
    var width: Int { text.unicodeScalars.count }
  }

  var headers: [String]
  var rows: [[Cell]] = []
  var separator = "  "

  init(headers: [String]) {
    self.headers = headers
  }

  mutating func append(_ cells: [Cell]) { rows.append(cells) }

  /// Every line, header first.
  func render(style: Style) -> [String] {
    var lines: [String] = []
    forEachLine(style: style) { lines.append($0) }
    return lines
  }

  /// Produces the lines one at a time.
  func forEachLine(style: Style, _ body: (String) -> Void) {
    Self.stream(headers: headers, separator: separator, style: style, output: body) { emit in rows.forEach(emit) }
  }

  /// Prints a table whose rows `rows` produces, calling it twice (widths, then lines) so that
  /// the rows are never all held at once.
  static func stream(
    headers: [String], separator: String = "  ", style: Style, output: (String) -> Void,
    rows: ((([Cell]) -> Void)) -> Void
  ) {
    var widths = headers.map(\.unicodeScalars.count)
    rows { row in
      for (index, cell) in row.enumerated() where index < widths.count {
        widths[index] = max(widths[index], cell.width)
      }
    }
    func line(_ cells: [Cell]) -> String {
      var text = ""
      for (index, cell) in cells.enumerated() {
        if index > 0 { text += separator }
        text += cell.tint.apply(cell.text, style)
        if index < cells.count - 1 { text += String(repeating: " ", count: max(0, widths[index] - cell.width)) }
      }
      while text.last == " " { text.removeLast() }
      return text
    }
    output(line(headers.map { Cell(text: $0, tint: .bold) }))
    withoutActuallyEscaping(output) { print in rows { print(line($0)) } }
  }
}
