/// Parses `ps -o pid=,ppid=,uid=,lstart=,command= -p …` (macOS and procps alike): three
/// numbers, a fixed-width start time `Mon Nov 16 09:12:44 2026`, then the command line,
/// which may hold any spaces.
enum PsParser {
  struct Row: Hashable, Sendable {
    var pid: PID
    var ppid: PID
    var uid: UInt32
    var start: CivilTime
    var command: String
  }

  /// A wall-clock time with no zone.
  struct CivilTime: Hashable, Sendable {
    var year: Int
    var month: Int
    var day: Int
    var hour: Int
    var minute: Int
    var second: Int

    /// Seconds since the epoch, for a zone `utcOffset` seconds east of UTC.
    func epochSeconds(utcOffset: Int) -> Double {
      // Days from 1970-01-01 to the civil date (proleptic Gregorian).
      let y = month <= 2 ? year - 1 : year
      let era = (y >= 0 ? y : y - 399) / 400
      let yearOfEra = y - era * 400
      let m = month + (month > 2 ? -3 : 9)
      let dayOfYear = (153 * m + 2) / 5 + day - 1
      let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
      let days = era * 146_097 + dayOfEra - 719_468
      return Double(days * 86_400 + hour * 3600 + minute * 60 + second - utcOffset)
    }
  }

  static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

  static func parse(_ bytes: [UInt8]) -> [Row] {
    String(decoding: bytes, as: UTF8.self).split(whereSeparator: { $0 == "\n" || $0 == "\r\n" }).compactMap {
      row(String($0))
    }
  }

  static func row(_ line: String) -> Row? {
    var rest = Substring(line)
    func token() -> Substring? {
      rest = rest.drop { $0 == " " || $0 == "\t" || $0 == "\r" }
      guard !rest.isEmpty else { return nil }
      let end = rest.firstIndex { $0 == " " || $0 == "\t" } ?? rest.endIndex
      defer { rest = rest[end...] }
      return rest[..<end]
    }
    guard let pid = token().flatMap({ PID($0) }), let ppid = token().flatMap({ PID($0) }),
      let uid = token().flatMap({ UInt32($0) }), token() != nil,  // weekday
      let monthName = token(), let month = months.firstIndex(of: String(monthName)),
      let day = token().flatMap({ Int($0) }), let clock = token(), let year = token().flatMap({ Int($0) })
    else { return nil }
    let parts = clock.split(separator: ":").compactMap { Int($0) }
    guard parts.count == 3, (1...31).contains(day) else { return nil }
    var command = rest.drop { $0 == " " || $0 == "\t" }
    while command.last == "\r" || command.last == " " { command = command.dropLast() }
    return Row(
      pid: pid, ppid: ppid, uid: uid,
      start: CivilTime(year: year, month: month + 1, day: day, hour: parts[0], minute: parts[1], second: parts[2]),
      command: String(command))
  }

  /// The full name for a command name lsof cut short (`ControlCe` → `ControlCenter`): the
  /// shortest word of the command line, between slashes and spaces, that starts with it
  /// (so `ControlCenter` wins over `ControlCenter.app`).
  static func fullName(_ short: String, command: String) -> String {
    guard !short.isEmpty else { return short }
    let words = command.split(whereSeparator: { $0 == "/" || $0 == " " }).filter { $0.hasPrefix(short) }
    return words.min { $0.count < $1.count }.map(String.init) ?? short
  }
}
