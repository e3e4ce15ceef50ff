import PortKit

/// The result of `wait`.
package struct WaitDocument: Encodable {
  package var exitCode: Int32
  package var condition: PortWaiter.Condition
  package var met: Bool
  package var seconds: Double
  package var report: PortReport
  /// On a `free` timeout: why each port still cannot be bound.
  package var checks: [BindCheck] = []

  /// The document of `wait`.
  package init(
    exitCode: Int32, condition: PortWaiter.Condition, met: Bool, seconds: Double, report: PortReport,
    checks: [BindCheck] = []
  ) {
    self.exitCode = exitCode
    self.condition = condition
    self.met = met
    self.seconds = seconds
    self.report = report
    self.checks = checks
  }

  package enum CodingKeys: String, CodingKey {
    case schemaVersion, command, exitCode, error, condition, met, seconds, sockets, checks
  }

  package func encode(to encoder: any Encoder) throws {
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
