/// The state of the live view, apart from the terminal: the rows of the latest snapshot,
/// the rows that just appeared (highlighted for a while) and just closed (shown in red for a
/// while before they go), the filter, the grouping and the selection.
///
/// The selection is pinned to a row's ``RowKey`` (socket, pid, start time): a refresh never
/// moves it to another row. When its row closes, the selection stays on it while it fades,
/// then there is no selection until a key moves it.
public struct LiveModel: Sendable {
  /// How long a new row is highlighted, in seconds.
  public static let newFor = 3.0
  /// How long a closed row stays, in red, in seconds.
  public static let closedFor = 2.0

  /// What a visible line of the table is.
  public enum Line: Hashable, Sendable {
    /// A project's header when rows are grouped.
    case group(String)
    /// A row, and whether it is new or closing.
    case row(LiveRow, RowState)
  }

  /// How a row is shown.
  public enum RowState: Hashable, Sendable {
    case normal, new, closed
  }

  /// The rows of the latest snapshot.
  public private(set) var current: [LiveRow] = []
  private var firstSeen: [RowKey: Double] = [:]
  private var closed: [RowKey: (row: LiveRow, at: Double)] = [:]
  private var primed = false
  /// When the latest snapshot was taken (seconds since the epoch): for uptimes and fades.
  public private(set) var now: Double = 0
  /// The pinned selection.
  public private(set) var selected: RowKey?
  /// What `/` typed.
  public var filterText: String = "" {
    didSet { filter = LiveFilter(filterText) }
  }
  /// The parsed filter.
  public private(set) var filter = LiveFilter.everything
  /// Rows grouped by project (`p`).
  public var grouped = false
  /// The first line shown (scrolling).
  public private(set) var scroll = 0
  /// Where the selection was last, to pick it up again after its row went.
  private var lastPosition = 0

  /// An empty view.
  public init() {}

  /// Takes a new snapshot's rows, taken at `now`.
  public mutating func update(_ rows: [LiveRow], now: Double) {
    self.now = now
    let first = !primed
    let keys = Set(rows.map(\.key))
    for row in current where !keys.contains(row.key) { closed[row.key] = (row, now) }
    for key in keys {
      closed[key] = nil
      if firstSeen[key] == nil { firstSeen[key] = primed ? now : -Double.infinity }
    }
    current = rows
    primed = true
    expire(now: now)
    if selected == nil, first { selectFirst() }
  }

  /// Lets highlights and closed rows expire at `now` (between snapshots).
  public mutating func expire(now: Double) {
    self.now = max(self.now, now)
    for (key, entry) in closed where now - entry.at >= Self.closedFor { closed[key] = nil }
    let live = Set(current.map(\.key))
    for key in firstSeen.keys where !live.contains(key) && closed[key] == nil { firstSeen[key] = nil }
    if let selected, !live.contains(selected), closed[selected] == nil {
      self.selected = nil
    }
  }

  /// The visible lines: the filtered rows (and the closing ones) in port order, or grouped
  /// by project with a header for each.
  public var lines: [Line] {
    var rows: [(LiveRow, RowState)] = current.map { row in
      let seen = firstSeen[row.key] ?? -Double.infinity
      return (row, now - seen < Self.newFor ? .new : .normal)
    }
    rows += closed.values.map { ($0.row, .closed) }
    rows = rows.filter { filter.matches($0.0) }
    rows.sort { Self.order($0.0, $1.0) }
    guard grouped else { return rows.map { .row($0.0, $0.1) } }
    let groups = Dictionary(grouping: rows) { $0.0.project }
    let names = groups.keys.sorted { ($0.isEmpty ? 1 : 0, $0) < ($1.isEmpty ? 1 : 0, $1) }
    var lines: [Line] = []
    for name in names {
      let members = groups[name] ?? []
      lines.append(.group(name.isEmpty ? "no project (\(members.count))" : "\(name) (\(members.count))"))
      lines += members.map { .row($0.0, $0.1) }
    }
    return lines
  }

  static func order(_ a: LiveRow, _ b: LiveRow) -> Bool {
    let left = (a.port, a.key.proto.rawValue, "\(a.key.local.address)", a.key.pid ?? 0, a.key.socketID)
    let right = (b.port, b.key.proto.rawValue, "\(b.key.local.address)", b.key.pid ?? 0, b.key.socketID)
    return left < right
  }

  /// The selected row, while it is shown and still open.
  public var selection: LiveRow? {
    guard let selected else { return nil }
    return current.first { $0.key == selected }
  }

  /// The selected row as shown, open or closing.
  public var selectedLine: Int? {
    guard let selected else { return nil }
    return lines.firstIndex {
      if case .row(let row, _) = $0 { return row.key == selected }
      return false
    }
  }

  /// Selects the first row shown.
  public mutating func selectFirst() {
    let shown = lines
    for line in shown {
      if case .row(let row, _) = line {
        selected = row.key
        return
      }
    }
    selected = nil
  }

  /// Moves the selection `offset` rows (negative: up), skipping group headers; with no
  /// selection, picks up where it was last.
  public mutating func move(by offset: Int) {
    let shown = lines
    let positions = shown.indices.filter { if case .row = shown[$0] { true } else { false } }
    guard !positions.isEmpty else {
      selected = nil
      return
    }
    let currentIndex: Int
    if let line = selectedLine, let index = positions.firstIndex(of: line) {
      currentIndex = min(max(index + offset, 0), positions.count - 1)
    } else {
      currentIndex = min(max(lastPosition, 0), positions.count - 1)
    }
    lastPosition = currentIndex
    if case .row(let row, _) = shown[positions[currentIndex]] { selected = row.key }
  }

  /// Keeps the selection on screen in a table of `height` lines.
  public mutating func scrollToSelection(height: Int) {
    let count = lines.count
    guard height > 0 else { return }
    if let line = selectedLine {
      if line < scroll { scroll = line }
      if line >= scroll + height { scroll = line - height + 1 }
    }
    scroll = max(0, min(scroll, max(0, count - height)))
  }

  /// Whether a row is new at `now`.
  public func isNew(_ key: RowKey) -> Bool {
    guard let seen = firstSeen[key] else { return false }
    return now - seen < Self.newFor
  }
}
