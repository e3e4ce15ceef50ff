import PortKit

/// The result of `check`.
struct CheckDocument: Encodable {
  var exitCode: Int32
  var checks: [BindCheck]

  /// `--host`'s machine; `nil` (null) for this one.
  var host: String? = nil

  enum CodingKeys: String, CodingKey { case schemaVersion, command, host, exitCode, error, bindable, checks }
  enum CheckKeys: String, CodingKey {
    case proto = "protocol", port, address, bindable, binds, plainBindable, reasons, notes
  }
  enum ReasonKeys: String, CodingKey { case code, message, pids }

  func encode(to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: CodingKeys.self)
    try container.encode(JSONOutput.schemaVersion, forKey: .schemaVersion)
    try container.encode("check", forKey: .command)
    try container.encode(host, forKey: .host)
    try container.encode(exitCode, forKey: .exitCode)
    try container.encodeNil(forKey: .error)
    try container.encode(checks.allSatisfy(\.bindable), forKey: .bindable)
    try container.encode(checks.map(entry), forKey: .checks)
  }

  func entry(_ check: BindCheck) -> CheckJSON { CheckJSON(check: check) }
}

/// One `check` answer.
struct CheckJSON: Encodable {
  var check: BindCheck

  enum CheckKeys: String, CodingKey {
    case proto = "protocol", port, address, bindable, binds, plainBindable, reasons, notes
  }
  enum ReasonKeys: String, CodingKey { case code, message, pids }

  func encode(to encoder: any Encoder) throws {
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
        try item.encode(CheckText.text(reason), forKey: .message)
        try item.encode(reason.pids, forKey: .pids)
      }
    }
  }
}
