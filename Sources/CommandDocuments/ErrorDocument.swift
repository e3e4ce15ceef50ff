import PortKit

/// `{"schemaVersion", "command", "exitCode", "error": {"code", "message"}}`.
package struct ErrorDocument: Encodable {
  package var command: String
  package var exitCode: Int32
  package var code: String
  package var message: String
  /// `--host`'s machine; the commands that take `--host` write `host` (null locally).
  package var host: String?

  /// The commands whose documents name the host.
  package static let hostCommands: Set<String> = ["who", "list", "why", "check", "kill", "free"]

  /// The document of `command` failing with `code` and `message`.
  package init(command: String, exitCode: Int32, code: String, message: String, host: String? = nil) {
    self.command = command
    self.exitCode = exitCode
    self.code = code
    self.message = message
    self.host = host
  }

  package enum CodingKeys: String, CodingKey { case schemaVersion, command, exitCode, error, host }
  package enum ErrorKeys: String, CodingKey { case code, message }

  package func encode(to encoder: any Encoder) throws {
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
