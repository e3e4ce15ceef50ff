import PortKit

/// The result of `explain`.
package struct ExplainDocument: Encodable {
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

  package enum CodingKeys: String, CodingKey {
    case schemaVersion, command, exitCode, error, recognized, failure, check, checks, problem, advice
  }
  package enum FailureKeys: String, CodingKey {
    case kind, runtime, errorName, port, address, host, proto = "protocol", operation, reuseAddress
  }

  package func encode(to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: CodingKeys.self)
    try container.encode(JSONOutput.schemaVersion, forKey: .schemaVersion)
    try container.encode("explain", forKey: .command)
    try container.encode(exitCode, forKey: .exitCode)
    try container.encodeNil(forKey: .error)
    try container.encode(failure != nil, forKey: .recognized)
    if let failure {
      var nested = container.nestedContainer(keyedBy: FailureKeys.self, forKey: .failure)
      try nested.encode(failure.kind.rawValue, forKey: .kind)
      try nested.encode(failure.runtime, forKey: .runtime)
      try nested.encode(failure.errorName, forKey: .errorName)
      try nested.encode(failure.port, forKey: .port)
      try nested.encode(failure.address?.description, forKey: .address)
      try nested.encode(failure.host, forKey: .host)
      try nested.encode(failure.proto?.rawValue, forKey: .proto)
      try nested.encode(failure.operation.rawValue, forKey: .operation)
      try nested.encode(failure.reuseAddress, forKey: .reuseAddress)
    } else {
      try container.encodeNil(forKey: .failure)
    }
    if let check {
      try container.encode(CheckDocument(exitCode: exitCode, checks: [check]).entry(check), forKey: .check)
    } else {
      try container.encodeNil(forKey: .check)
    }
    try container.encode(checks.map(CheckJSON.init), forKey: .checks)
    try container.encode(problem, forKey: .problem)
    try container.encode(advice, forKey: .advice)
  }
}
