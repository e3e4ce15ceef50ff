import PortKit

/// The result of `check`.
package struct CheckDocument: Encodable {
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

  package enum CodingKeys: String, CodingKey { case schemaVersion, command, host, exitCode, error, bindable, checks }
  package enum CheckKeys: String, CodingKey {
    case proto = "protocol", port, address, bindable, binds, plainBindable, reasons, notes
  }
  package enum ReasonKeys: String, CodingKey { case code, message, pids }

  package func encode(to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: CodingKeys.self)
    try container.encode(JSONOutput.schemaVersion, forKey: .schemaVersion)
    try container.encode("check", forKey: .command)
    try container.encode(host, forKey: .host)
    try container.encode(exitCode, forKey: .exitCode)
    try container.encodeNil(forKey: .error)
    try container.encode(checks.allSatisfy(\.bindable), forKey: .bindable)
    try container.encode(checks.map(entry), forKey: .checks)
  }

  package func entry(_ check: BindCheck) -> CheckJSON { CheckJSON(check: check) }
}

/// One `check` answer.
package struct CheckJSON: Encodable {
  package var check: BindCheck

  package enum CheckKeys: String, CodingKey {
    case proto = "protocol", port, address, bindable, binds, plainBindable, reasons, notes
  }
  package enum ReasonKeys: String, CodingKey { case code, message, pids }

  package func encode(to encoder: any Encoder) throws {
    var entry = encoder.container(keyedBy: CheckKeys.self)
    try entry.encode(check.proto.rawValue, forKey: .proto)
    try entry.encode(check.port, forKey: .port)
    try entry.encode(check.address?.description, forKey: .address)
    try entry.encode(check.bindable, forKey: .bindable)
    var binds: [String: String] = [:]
    for (address, outcome) in check.binds { binds[address.description] = PortResultJSON.code(outcome) }
    try entry.encode(binds, forKey: .binds)
    try entry.encode(check.plainBindable, forKey: .plainBindable)
    for (key, reasons) in [(CheckKeys.reasons, check.reasons), (.notes, check.notes)] {
      var array = entry.nestedUnkeyedContainer(forKey: key)
      for reason in reasons {
        var item = array.nestedContainer(keyedBy: ReasonKeys.self)
        try item.encode(reason.code.rawValue, forKey: .code)
        try item.encode(ReasonText.withRemedy(reason), forKey: .message)
        try item.encode(reason.pids, forKey: .pids)
      }
    }
  }
}
