import PortKit

/// The result of `wait`.
struct WaitDocument: Encodable {
  var exitCode: Int32
  var condition: PortWaiter.Condition
  var met: Bool
  var seconds: Double
  var report: PortReport
  /// On a `free` timeout: why each port still cannot be bound.
  var checks: [BindCheck] = []

  enum CodingKeys: String, CodingKey {
    case schemaVersion, command, exitCode, error, condition, met, seconds, sockets, checks
  }

  func encode(to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: CodingKeys.self)
    try container.encode(JSONOutput.schemaVersion, forKey: .schemaVersion)
    try container.encode("wait", forKey: .command)
    try container.encode(exitCode, forKey: .exitCode)
    try container.encodeNil(forKey: .error)
    try container.encode(condition.rawValue, forKey: .condition)
    try container.encode(met, forKey: .met)
    try container.encode(seconds, forKey: .seconds)
    try container.encode(report.sockets.map { SocketJSON($0, takenAt: report.takenAt) }, forKey: .sockets)
    try container.encode(checks.map(CheckJSON.init), forKey: .checks)
  }
}
