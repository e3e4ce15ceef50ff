import PortKit

/// `{"schemaVersion", "command", "exitCode", "error": {"code", "message"}}`.
package struct ErrorDocument: Encodable {
  package var command: String
  package var exitCode: Int32
  package var code: String
  package var message: String

  /// The document of `command` failing with `code` and `message`.
  package init(command: String, exitCode: Int32, code: String, message: String) {
    self.command = command
    self.exitCode = exitCode
    self.code = code
    self.message = message
  }

  package enum CodingKeys: String, CodingKey { case schemaVersion, command, exitCode, error }
  package enum ErrorKeys: String, CodingKey { case code, message }

  package func encode(to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: CodingKeys.self)
    try container.encode(JSONOutput.schemaVersion, forKey: .schemaVersion)
    try container.encode(command, forKey: .command)
    try container.encode(exitCode, forKey: .exitCode)
    var error = container.nestedContainer(keyedBy: ErrorKeys.self, forKey: .error)
    try error.encode(code, forKey: .code)
    try error.encode(message, forKey: .message)
  }
}
