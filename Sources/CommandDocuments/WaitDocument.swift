import PortKit

/// The result of `wait`.
package struct WaitDocument: JSONDocument {
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

  package func write(to writer: inout JSONWriter) {
    writer.beginObject()
    writer.key("checks")
    writer.beginArray()
    for check in checks { CheckJSON(check: check).write(to: &writer) }
    writer.endArray()
    writer.field("command", "wait")
    writer.field("condition", condition.rawValue)
    writer.nullField("error")
    writer.field("exitCode", exitCode)
    writer.field("met", met)
    writer.field("schemaVersion", JSONOutput.schemaVersion)
    writer.field("seconds", seconds)
    writer.key("sockets")
    writer.beginArray()
    for socket in report.sockets { SocketJSON(socket, takenAt: report.takenAt).write(to: &writer) }
    writer.endArray()
    writer.endObject()
  }
}
