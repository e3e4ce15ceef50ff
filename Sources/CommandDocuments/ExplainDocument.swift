import PortKit

/// The result of `explain`.
package struct ExplainDocument: JSONDocument {
  package var exitCode: Int32
  package var failure: BindFailure?
  package var check: BindCheck?
  /// Every check made (TCP and UDP when the protocol is unknown); `check` is the deciding one.
  package var checks: [BindCheck] = []
  package var problem: String?
  /// What to do instead of a port check (a connect-side error, an unnamed unavailable address).
  package var advice: String? = nil

  /// The document of `explain`.
  package init(
    exitCode: Int32, failure: BindFailure?, check: BindCheck?, checks: [BindCheck] = [], problem: String?,
    advice: String? = nil
  ) {
    self.exitCode = exitCode
    self.failure = failure
    self.check = check
    self.checks = checks
    self.problem = problem
    self.advice = advice
  }

  package func write(to writer: inout JSONWriter) {
    writer.beginObject()
    writer.field("advice", advice)
    writer.key("check")
    if let check {
      CheckDocument(exitCode: exitCode, checks: [check]).entry(check).write(to: &writer)
    } else {
      writer.null()
    }
    writer.key("checks")
    writer.beginArray()
    for check in checks { CheckJSON(check: check).write(to: &writer) }
    writer.endArray()
    writer.field("command", "explain")
    writer.nullField("error")
    writer.field("exitCode", exitCode)
    writer.key("failure")
    if let failure {
      writer.beginObject()
      writer.field("address", failure.address?.description)
      writer.field("errorName", failure.errorName)
      writer.field("host", failure.host)
      writer.field("kind", failure.kind.rawValue)
      writer.field("operation", failure.operation.rawValue)
      writer.field("port", failure.port)
      writer.field("protocol", failure.proto?.rawValue)
      writer.field("reuseAddress", failure.reuseAddress)
      writer.field("runtime", failure.runtime)
      writer.endObject()
    } else {
      writer.null()
    }
    writer.field("problem", problem)
    writer.field("recognized", failure != nil)
    writer.field("schemaVersion", JSONOutput.schemaVersion)
    writer.endObject()
  }
}
