/// Compact durations for every front end: `45s`, `12m05s`, `3h04m`, `2d03h`.
public enum Durations {
  /// `seconds` in at most two units; `-` when it is negative, not finite or absurdly large.
  public static func compact(_ seconds: Double) -> String {
    // Finite and within Int: a start time from odd input never traps the conversion.
    guard seconds.isFinite, seconds >= 0, seconds < 1e15 else { return "-" }
    let total = Int(seconds)
    let (days, hours, minutes, secs) = (total / 86400, total / 3600 % 24, total / 60 % 60, total % 60)
    func two(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
    if days > 0 { return "\(days)d\(two(hours))h" }
    if hours > 0 { return "\(hours)h\(two(minutes))m" }
    if minutes > 0 { return "\(minutes)m\(two(secs))s" }
    return "\(secs)s"
  }
}
