import PortKit

/// A `check` reason as `check` prints it and its JSON carries it.
package enum ReasonText {
  /// A reason's message with its remedy as the portctl commands that carry it out.
  package static func withRemedy(_ reason: BindReason) -> String {
    switch reason.remedy {
    case .stopHolders(let port)?:
      "\(reason.message): stop it properly (portctl why \(port)) or free it (portctl free \(port))"
    case .endConnections(let port)?:
      "\(reason.message): binds fail while it stays open; end those processes too (portctl free \(port) --all)"
    case nil:
      reason.message
    }
  }
}
