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
    didSet {
      filter = LiveFilter(filterText)
      reorder()
    }
  }
  /// The parsed filter.
  public private(set) var filter = LiveFilter.everything
  /// Rows grouped by project (`p`).
  public var grouped = false {
    didSet { reorder() }
  }
  /// The visible rows (filtered, with the closing ones) in order, with group headers: kept
  /// between changes, so that a frame of thousands of rows is not sorted again.
  private var ordered: [Entry] = []

  private enum Entry {
    case group(String)
    case row(LiveRow, closed: Bool)
  }
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
    reorder()
    expire(now: now)
    if selected == nil, first { selectFirst() }
  }

  /// Lets highlights and closed rows expire at `now` (between snapshots).
  public mutating func expire(now: Double) {
    self.now = max(self.now, now)
    var expired = false
    for (key, entry) in closed where now - entry.at >= Self.closedFor {
      closed[key] = nil
      expired = true
    }
    if expired { reorder() }
    let live = Set(current.map(\.key))
    for key in firstSeen.keys where !live.contains(key) && closed[key] == nil { firstSeen[key] = nil }
    if let selected, !live.contains(selected), closed[selected] == nil {
      self.selected = nil
    }
  }

  /// The visible lines: the filtered rows (and the closing ones) in port order, or grouped
  /// by project with a header for each.
  public var lines: [Line] { ordered.map(line) }

  private func line(_ entry: Entry) -> Line {
    switch entry {
    case .group(let name): .group(name)
    case .row(let row, true): .row(row, .closed)
    case .row(let row, false): .row(row, isNew(row.key) ? .new : .normal)
    }
  }

  private mutating func reorder() {
    var rows: [(LiveRow, Bool)] = current.filter(filter.matches).map { ($0, false) }
    rows += closed.values.filter { filter.matches($0.row) }.map { ($0.row, true) }
    rows.sort { Self.order($0.0, $1.0) }
    guard grouped else {
      ordered = rows.map { .row($0.0, closed: $0.1) }
      return
    }
    let groups = Dictionary(grouping: rows) { $0.0.project }
    let names = groups.keys.sorted { ($0.isEmpty ? 1 : 0, $0) < ($1.isEmpty ? 1 : 0, $1) }
    ordered = []
    for name in names {
      let members = groups[name] ?? []
      ordered.append(.group(name.isEmpty ? "no project (\(members.count))" : "\(name) (\(members.count))"))
      ordered += members.map { .row($0.0, closed: $0.1) }
    }
  }

  static func order(_ a: LiveRow, _ b: LiveRow) -> Bool {
    if a.key.local.port != b.key.local.port { return a.key.local.port < b.key.local.port }
    if a.key.proto != b.key.proto { return a.key.proto < b.key.proto }
    if a.key.local.address != b.key.local.address { return a.key.local < b.key.local }
    if a.key.pid != b.key.pid { return (a.key.pid ?? 0) < (b.key.pid ?? 0) }
    return a.key.socketID < b.key.socketID
  }

  /// The selected row, while it is shown and still open.
  public var selection: LiveRow? {
    guard let selected else { return nil }
    return current.first { $0.key == selected }
  }

  /// The selected row as shown, open or closing.
  public var selectedLine: Int? {
    guard let selected else { return nil }
    return ordered.firstIndex {
      if case .row(let row, _) = $0 { return row.key == selected }
      return false
    }
  }

  /// The rows shown from line `start`, at most `count` (what a frame draws).
  public func lines(from start: Int, count: Int) -> [Line] {
    guard start < ordered.count, count > 0 else { return [] }
    return ordered[start..<min(ordered.count, start + count)].map(line)
  }

  /// How many lines there are.
  public var lineCount: Int { ordered.count }

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
    let count = ordered.count
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
