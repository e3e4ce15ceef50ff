/// Exit statuses, one table for every command (README: "Exit codes"); the JSON documents
/// carry them as `exitCode`, and the MCP server's results as `isError`.
package enum ExitStatus {
  package static let success: Int32 = 0
  package static let negative: Int32 = 1
  package static let systemError: Int32 = 2
  package static let notPermitted: Int32 = 3
  package static let refused: Int32 = 4
  package static let notUnderstood: Int32 = 5
  package static let usage: Int32 = 64
}
