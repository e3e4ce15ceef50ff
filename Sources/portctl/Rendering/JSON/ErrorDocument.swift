import PortKit

/// `{"schemaVersion", "command", "exitCode", "error": {"code", "message"}}`.
struct ErrorDocument: Encodable {
  var command: String
  var exitCode: Int32
  var code: String
  var message: String
  /// `--host`'s machine; the commands that take `--host` write `host` (null locally).
  var host: String? = nil

  /// The commands whose documents name the host.
  static let hostCommands: Set<String> = ["who", "list", "why", "check", "kill", "free"]

  enum CodingKeys: String, CodingKey { case schemaVersion, command, exitCode, error, host }
  enum ErrorKeys: String, CodingKey { case code, message }

  func encode(to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: CodingKeys.self)
    try container.encode(JSONOutput.schemaVersion, forKey: .schemaVersion)
    try container.encode(command, forKey: .command)
    try container.encode(exitCode, forKey: .exitCode)
    if Self.hostCommands.contains(command) { try container.encode(host, forKey: .host) }
    var error = container.nestedContainer(keyedBy: ErrorKeys.self, forKey: .error)
    try error.encode(code, forKey: .code)
    try error.encode(message, forKey: .message)
  }
}
