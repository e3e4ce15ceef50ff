import PortKit

/// The result of `check`.
package struct CheckDocument: JSONDocument {
  package var exitCode: Int32
  package var checks: [BindCheck]

  /// `--host`'s machine; `nil` (null) for this one.
  package var host: String?

  /// The document of `check` for `checks`, ending with `exitCode`.
  package init(exitCode: Int32, checks: [BindCheck], host: String? = nil) {
    self.exitCode = exitCode
    self.checks = checks
    self.host = host
  }

  package func write(to writer: inout JSONWriter) {
    writer.beginObject()
    writer.field("bindable", checks.allSatisfy(\.bindable))
    writer.key("checks")
    writer.beginArray()
    for check in checks { entry(check).write(to: &writer) }
    writer.endArray()
    writer.field("command", "check")
    writer.nullField("error")
    writer.field("exitCode", exitCode)
    writer.field("host", host)
    writer.field("schemaVersion", JSONOutput.schemaVersion)
    writer.endObject()
  }

  package func entry(_ check: BindCheck) -> CheckJSON { CheckJSON(check: check) }
}

/// One `check` answer.
package struct CheckJSON {
  package var check: BindCheck

  /// Writes the answer as one object.
  package func write(to writer: inout JSONWriter) {
    writer.beginObject()
    writer.field("address", check.address?.description)
    writer.field("bindable", check.bindable)
    var binds: [String: String] = [:]
    for (address, outcome) in check.binds { binds[address.description] = PortResultJSON.code(outcome) }
    writer.field("binds", binds)
    Self.write(check.notes, named: "notes", to: &writer)
    writer.field("plainBindable", check.plainBindable)
    writer.field("port", check.port)
    writer.field("protocol", check.proto.rawValue)
    Self.write(check.reasons, named: "reasons", to: &writer)
    writer.endObject()
  }

  private static func write(_ reasons: [BindReason], named name: StaticString, to writer: inout JSONWriter) {
    writer.key(name)
    writer.beginArray()
    for reason in reasons {
      writer.beginObject()
      writer.field("code", reason.code.rawValue)
      writer.field("message", ReasonText.withRemedy(reason))
      writer.field("pids", reason.pids)
      writer.endObject()
    }
    writer.endArray()
  }
}
