import PortKit

/// A `check` reason as `check` prints it and its JSON carries it.
package enum ReasonText {
  /// Appended to the portctl commands that output suggests (`portctl free 8080`), so that they
  /// act on the same machine: ` --host HOST …` with `--host`, empty otherwise. Set once, before
  /// anything is read, by the command that takes `--host`.
  nonisolated(unsafe) package static var suggestionSuffix = ""

  /// A reason's message with its remedy as the portctl commands that carry it out.
  package static func withRemedy(_ reason: BindReason) -> String {
    let suffix = suggestionSuffix
    return switch reason.remedy {
    case .stopHolders(let port)?:
      "\(reason.message): stop it properly (portctl why \(port)\(suffix)) or free it (portctl free \(port)\(suffix))"
    case .endConnections(let port)?:
      "\(reason.message): binds fail while it stays open; end those processes too (portctl free \(port) --all\(suffix))"
    case nil:
      reason.message
    }
  }
}
