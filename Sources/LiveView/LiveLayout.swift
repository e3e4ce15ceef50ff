/// Lays out the live view's frame: a title line, the table's header, the rows (or a panel
/// in their place), and a status line, each exactly `width` columns. Cells are escaped text
/// (no control characters), cut by display width before colour is added, so a cut never
/// splits an escape sequence.
public enum LiveLayout {
  /// A table column.
  public struct Column: Hashable, Sendable {
    /// The header.
    public var title: String
    /// The width given.
    public var width: Int
  }

  static let titles = ["PORT", "PROTO", "ADDRESS", "PID", "PROCESS", "USER", "PROJECT", "UPTIME", "MANAGER"]
  static let minimum = [5, 5, 7, 7, 7, 4, 7, 6, 7]
  static let maximum = [5, 5, 39, 8, 24, 12, 32, 7, 36]
  /// Which columns give way first when even their minimum widths do not fit.
  static let dropOrder = [5, 8, 2, 7, 6, 1]
  /// Which columns shrink (toward their minimum) when the natural widths do not fit.
  static let flexible: Set<Int> = [2, 4, 5, 6, 8]
  /// The marker columns before the table: the selection (`>`) and the row's state (`+` new,
  /// `x` closed), which show even without colour.
  public static let markerWidth = 2

  /// The cells of `row` at `now`, in ``titles`` order.
  public static func cells(_ row: LiveRow, now: Double) -> [String] {
    [
      "\(row.port)", row.key.proto.rawValue, row.address, row.key.pid.map { "\($0)" } ?? "-", row.process,
      row.user, row.project, row.uptime(at: now), row.manager,
    ]
  }

  /// The columns for `rows` in `width` columns: each as wide as its widest cell (within
  /// bounds); the flexible ones shrink when that is too wide, and the least useful go when
  /// even their minimum does not fit.
  public static func columns(for rows: [LiveRow], width: Int, now: Double) -> [Column] {
    var widths = titles.map(DisplayWidth.of)
    for row in rows {
      for (index, cell) in cells(row, now: now).enumerated() {
        widths[index] = max(widths[index], min(DisplayWidth.of(cell), maximum[index]))
      }
    }
    var shown = Array(titles.indices)
    func total() -> Int { markerWidth + shown.reduce(0) { $0 + widths[$1] } + max(0, shown.count - 1) }
    while total() > width {
      let candidates = shown.filter { flexible.contains($0) && widths[$0] > minimum[$0] }
      if let widest = candidates.max(by: { widths[$0] - minimum[$0] < widths[$1] - minimum[$1] }) {
        widths[widest] -= 1
        continue
      }
      guard let drop = dropOrder.first(where: { shown.contains($0) }) else { break }
      shown.removeAll { $0 == drop }
    }
    // What is left over widens the project, manager and process columns, up to their widest cell.
    var spare = width - total()
    for index in [6, 8, 4] where shown.contains(index) && spare > 0 {
      let natural = rows.map { DisplayWidth.of(cells($0, now: now)[index]) }.max() ?? 0
      let grow = min(spare, max(0, natural - widths[index]))
      widths[index] += grow
      spare -= grow
    }
    return shown.map { Column(title: titles[$0], width: widths[$0]) }
  }

  /// Colour on or off (`NO_COLOR`, `TERM=dumb`, not a terminal: off).
  public struct Paint: Sendable {
    /// True when escape sequences for colour may be written.
    public var enabled: Bool
    /// Paints nothing, or paints.
    public init(enabled: Bool) { self.enabled = enabled }
    func apply(_ text: String, _ code: String) -> String {
      enabled ? "\u{1B}[\(code)m\(text)\u{1B}[0m" : text
    }
  }

  /// A panel shown in place of the rows (the `why` of a row, the help).
  public struct Panel: Hashable, Sendable {
    /// Its title.
    public var title: String
    /// Its lines, plain escaped text.
    public var lines: [String]
    /// The first line shown.
    public var scroll: Int

    /// A panel titled `title` showing `lines` from the top.
    public init(title: String, lines: [String], scroll: Int = 0) {
      self.title = title
      self.lines = lines
      self.scroll = scroll
    }
  }

  /// The frame: `height` lines of exactly `width` columns. `empty` replaces the line shown
  /// when there is no row (before the first snapshot).
  public static func frame(
    _ model: LiveModel, width: Int, height: Int, title: String, status: String, panel: Panel?, paint: Paint,
    empty: String? = nil
  ) -> [String] {
    let width = max(width, 10)
    let height = max(height, 3)
    var lines: [String] = []
    lines.append(paint.apply(DisplayWidth.fit(title, to: width), "7"))
    let body = height - 2
    if let panel {
      lines.append(paint.apply(DisplayWidth.fit(panel.title, to: width), "1"))
      let shown = panel.lines.dropFirst(panel.scroll).prefix(body - 1)
      for line in shown { lines.append(DisplayWidth.fit(line, to: width)) }
    } else {
      // Only the lines on screen are read: the columns fit what is shown.
      let shown = model.lines(from: model.scroll, count: body - 1)
      let rows = shown.compactMap { if case .row(let row, _) = $0 { row } else { nil } }
      let columns = columns(for: rows, width: width, now: model.now)
      let indices = columns.map { column in titles.firstIndex(of: column.title) ?? 0 }
      func join(_ texts: [String]) -> String {
        var parts: [String] = []
        for (position, text) in texts.enumerated() {
          let column = columns[position]
          let isNumber = position < 4 && (column.title == "PORT" || column.title == "PID")
          let cut = DisplayWidth.cut(text, to: column.width)
          let pad = String(repeating: " ", count: max(0, column.width - DisplayWidth.of(cut)))
          parts.append(isNumber ? pad + cut : cut + pad)
        }
        return parts.joined(separator: " ")
      }
      lines.append(
        paint.apply(
          DisplayWidth.fit(String(repeating: " ", count: markerWidth) + join(columns.map(\.title)), to: width), "1"))
      let selectedLine = model.selectedLine
      for (offset, line) in shown.enumerated() {
        let number = model.scroll + offset
        switch line {
        case .group(let name):
          lines.append(paint.apply(DisplayWidth.fit("▸ " + name, to: width), "1;36"))
        case .row(let row, let state):
          let all = cells(row, now: model.now)
          let selected = number == selectedLine
          let marker = (selected ? ">" : " ") + (state == .new ? "+" : state == .closed ? "x" : " ")
          let text = DisplayWidth.fit(marker + join(indices.map { all[$0] }), to: width)
          var codes: [String] = []
          if selected { codes.append("7") }
          if state == .new { codes.append("32") }
          if state == .closed { codes.append("31") }
          lines.append(codes.isEmpty ? text : paint.apply(text, codes.joined(separator: ";")))
        }
      }
      if shown.isEmpty {
        let text = empty ?? (model.filterText.isEmpty ? "nothing is listening" : "no row matches the filter")
        lines.append(DisplayWidth.fit("  " + text, to: width))
      }
    }
    while lines.count < height - 1 { lines.append(String(repeating: " ", count: width)) }
    lines.append(paint.apply(DisplayWidth.fit(status, to: width), "7"))
    return lines
  }

  /// The help panel's lines.
  public static let help = [
    "Keys",
    "  ↑ ↓  j  Ctrl-N  Ctrl-P  PgUp PgDn Home End   move the selection (j is down; k is not up:",
    "                                               it frees, so up is ↑ or Ctrl-P)",
    "  /        filter as you type: :3000 a port, /src/app a path (working directory or command),",
    "           !4242 a pid, anything else a name or command; Enter keeps it, Esc clears it",
    "  Enter    why: the row's ancestry, manager and stop command",
    "  k  x     free the selected port the safe way: the consent of `portctl free`, then the proof",
    "  K        the same with SIGKILL at once",
    "  m        stop it through its manager's stop command (systemctl, supervisorctl, docker…)",
    "  o        open http://localhost:PORT in the browser (xdg-open, open)",
    "  a        every socket (connections too), or listeners only",
    "  p        group the rows by project",
    "  ?        this help",
    "  q  Esc  Ctrl-C   quit (Esc first clears a filter)",
    "",
    "Rows marked + are new; rows marked x have just closed (red, then gone).",
    "The selection stays on its process (pid, start time, socket) across refreshes: when that",
    "process goes, nothing is selected. k, K and m act only on the process shown: if another",
    "one holds the port by then, nothing is signalled.",
  ]
}
