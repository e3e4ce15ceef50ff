import CommandDocuments
import MCP
import PortKit

/// Runs a `tools/call`: the tool's PortKit use case, answered with the document `--json`
/// prints for the command of the same name.
struct ToolCalls: Sendable {
  /// Whether `free` and `kill` are offered.
  var allowStop: Bool

  /// The longest `wait` a call may ask for, in seconds.
  static let maximumWait = 120.0
  /// `check` binds every port it is asked about: at most this many.
  static let maximumChecks = 4096

  /// The arguments each tool takes.
  static let argumentNames: [String: Set<String>] = [
    "who": ["ports", "all", "protocol"], "why": ["ports", "all", "protocol"],
    "list": ["all", "protocol", "process", "pid", "user"], "check": ["ports"],
    "find": ["count", "from", "range", "protocol", "host"], "wait": ["ports", "until", "timeoutSeconds"],
    "explain": ["text", "port"], "free": ["ports", "protocol", "planId"], "kill": ["ports", "protocol", "planId"],
  ]

  /// A tool's answer: the document and its exit status.
  struct Answer {
    var document: String
    var exitCode: Int32
    /// Whether a client should take it as a failed call (see docs/json.md, "MCP results").
    var isError: Bool
  }

  /// The result of tool `name` with `arguments`. An unknown tool (or `free` and `kill`
  /// without `--allow-stop`) is a protocol error; anything else is a result.
  func call(_ name: String, arguments: [String: Value]) async throws -> CallTool.Result {
    guard let accepted = Self.argumentNames[name] else {
      throw MCPError.invalidParams("Unknown tool '\(name)'.")
    }
    if (name == "free" || name == "kill") && !allowStop {
      throw MCPError.invalidParams(
        "The \(name) tool is offered only when the server is started with --allow-stop (portctl mcp --allow-stop).")
    }
    let answer = await answer(name, ToolArguments(values: arguments, accepted: accepted))
    return CallTool.Result(
      content: [.text(text: answer.document, annotations: nil, _meta: nil)], isError: answer.isError)
  }

  /// Runs tool `name`; argument and system errors become error documents.
  func answer(_ name: String, _ arguments: ToolArguments) async -> Answer {
    do {
      try arguments.checkNames()
      let system = try System.make()
      switch name {
      case "who", "why": return try await inspect(name, arguments, system: system)
      case "list": return try await list(arguments, system: system)
      case "check": return try await check(arguments, system: system)
      case "find": return try await find(arguments, system: system)
      case "wait": return try await wait(arguments, system: system)
      case "explain": return try await explain(arguments, system: system)
      default: return try await stop(name, arguments, system: system)
      }
    } catch let error as ArgumentError {
      return failure(name, ExitStatus.usage, code: "usage", message: error.message)
    } catch let error as PortKitError {
      return failure(name, ExitStatus.systemError, code: error.code.rawValue, message: error.message)
    } catch {
      return failure(name, ExitStatus.systemError, code: "internal", message: "\(error)")
    }
  }

  private func failure(_ command: String, _ status: Int32, code: String, message: String) -> Answer {
    Answer(
      document: JSONOutput.text(ErrorDocument(command: command, exitCode: status, code: code, message: message)),
      exitCode: status, isError: true)
  }

  /// A question's answer: exit status 1 is the negative answer, not a failure.
  private func answered(_ document: some Encodable, _ status: Int32) -> Answer {
    Answer(document: JSONOutput.text(document), exitCode: status, isError: status >= ExitStatus.systemError)
  }

  /// A question's answer, for the documents written through ``JSONWriter``.
  private func answered(_ document: some JSONDocument, _ status: Int32) -> Answer {
    Answer(document: JSONOutput.text(document), exitCode: status, isError: status >= ExitStatus.systemError)
  }

  private func inspect(_ name: String, _ arguments: ToolArguments, system: System) async throws -> Answer {
    let specs = try arguments.specs()
    let result = try await PortInspection(system: system).inspect(
      specs, protocols: try arguments.protocols(), listenersOnly: !(try arguments.bool("all")),
      exclusions: name == "who")
    let status = result.report.isHeld ? ExitStatus.success : ExitStatus.negative
    return answered(
      ReportDocument(
        command: name, exitCode: status, query: specs, report: result.report, excluded: result.exclusions,
        provenance: result.provenance, projects: result.projects), status)
  }

  private func list(_ arguments: ToolArguments, system: System) async throws -> Answer {
    let process = try arguments.string("process")
    let user = try arguments.string("user")
    if process?.isEmpty == true { throw ArgumentError(message: "'process' takes a non-empty name.") }
    if user?.isEmpty == true { throw ArgumentError(message: "'user' takes a user name or uid.") }
    let pid = try arguments.integer("pid", in: 1...Int(Int32.max)).map { PID($0) }
    let query = SocketQuery(
      specs: nil, protocols: try arguments.protocols(), listenersOnly: !(try arguments.bool("all")), detail: .summary)
    let inspection = PortInspection(system: system)
    let listing = try await inspection.listing(for: query, filter: ListFilter(process: process, pid: pid, user: user))
    let projects = await inspection.projects(in: listing)
    let status = listing.isEmpty ? ExitStatus.negative : ExitStatus.success
    let report = PortReport(
      sockets: Array(listing), takenAt: listing.takenAt, uninspectableCount: listing.uninspectableCount,
      effectiveUID: listing.snapshot.effectiveUID)
    return answered(
      ReportDocument(
        command: "list", exitCode: status, query: nil, report: report,
        held: listing.contains { $0.owner.holdsPort }, projects: projects), status)
  }

  private func check(_ arguments: ToolArguments, system: System) async throws -> Answer {
    let specs = try arguments.specs()
    let count = specs.reduce(0) { $0 + $1.ports.count }
    if count > Self.maximumChecks {
      throw ArgumentError(
        message: "check binds every port it is asked about: \(count) ports is too many (at most \(Self.maximumChecks))."
      )
    }
    let checks = try await BindDiagnosis(system: system).checks(for: specs)
    let status = checks.allSatisfy(\.bindable) ? ExitStatus.success : ExitStatus.negative
    return answered(CheckDocument(exitCode: status, checks: checks), status)
  }

  private func find(_ arguments: ToolArguments, system: System) async throws -> Answer {
    let count = try arguments.integer("count", in: 1...1000) ?? 1
    let from = try arguments.integer("from", in: 1...65535).map { UInt16($0) }
    var range: ClosedRange<UInt16>?
    if let text = try arguments.string("range") {
      let bounds = text.split(separator: "-", omittingEmptySubsequences: false)
      guard bounds.count == 2, let low = UInt16(bounds[0]), let high = UInt16(bounds[1]), low >= 1, low <= high else {
        throw ArgumentError(message: "'range' takes A-B with 1 <= A <= B <= 65535, such as 8000-8100, not '\(text)'.")
      }
      range = low...high
    }
    if let from, let range, !range.contains(from) {
      throw ArgumentError(message: "'from' \(from) is outside 'range' \(range.lowerBound)-\(range.upperBound).")
    }
    var host: IPAddress?
    if let text = try arguments.string("host") {
      guard let address = IPAddress(text) else {
        throw ArgumentError(message: "'host' takes an IP address such as 127.0.0.1 or ::1, not '\(text)'.")
      }
      host = address
    }
    let request = PortFinding.Request(
      from: from, range: range, count: count, proto: try arguments.transport() ?? .tcp, host: host)
    let found = try await PortFinding(system: system).find(request)
    let status = found.isComplete ? ExitStatus.success : ExitStatus.negative
    return answered(
      FindDocument(
        exitCode: status, proto: request.proto, host: found.request.host, ports: found.ports, skipped: found.skipped),
      status)
  }

  private func wait(_ arguments: ToolArguments, system: System) async throws -> Answer {
    let specs = try arguments.specs()
    if specs.reduce(0, { $0 + $1.ports.count }) > 4096 {
      throw ArgumentError(message: "wait watches at most 4096 ports.")
    }
    let condition: PortWaiter.Condition
    switch try arguments.string("until") {
    case "free"?: condition = .free
    case "listening"?: condition = .listening
    default: throw ArgumentError(message: "'until' takes free or listening.")
    }
    let seconds = try arguments.number("timeoutSeconds", in: 0...Self.maximumWait) ?? 10
    let outcome = try await PortWaiting(system: system).wait(
      for: specs, until: condition, timeout: .milliseconds(Int64(seconds * 1000)))
    let status = outcome.met ? ExitStatus.success : ExitStatus.negative
    return answered(
      WaitDocument(
        exitCode: status, condition: condition, met: outcome.met, seconds: outcome.seconds, report: outcome.report,
        checks: outcome.checks), status)
  }

  private func explain(_ arguments: ToolArguments, system: System) async throws -> Answer {
    guard var text = try arguments.string("text") else {
      throw ArgumentError(message: "Missing 'text': the error output.")
    }
    if text.utf8.count > 256 << 10 {
      var excerpt = ErrorExcerpt()
      excerpt.append(text.utf8)
      text = excerpt.text
    }
    let port = try arguments.integer("port", in: 1...65535).map { UInt16($0) }
    let outcome = try await BindFailureExplanation(system: system).explain(text, port: port)
    var checks: [BindCheck] = []
    var problem: String?
    var advice: String?
    switch outcome {
    case .notRecognized:
      problem =
        "no bind error recognised in the text: look for EADDRINUSE, \"address already in use\", EACCES or a Windows 10048/10013 error"
    case .noPort(let failure):
      problem = "\(failure.runtime) reported \(failure.errorName) but did not say which port; call again with port"
    case .advice(_, let text): advice = text
    case .checked(_, let judged): checks = judged
    }
    let check = BindFailureDiagnosis.deciding(checks)
    let status: Int32
    if check != nil {
      status = checks.allSatisfy(\.bindable) ? ExitStatus.success : ExitStatus.negative
    } else {
      status = advice != nil ? ExitStatus.negative : ExitStatus.notUnderstood
    }
    let document = ExplainDocument(
      exitCode: status, failure: outcome.failure, check: check, checks: checks, problem: problem, advice: advice)
    // Not understood (5) is an answer about the text, not a failed call.
    return Answer(
      document: JSONOutput.text(document), exitCode: status,
      isError: status >= ExitStatus.systemError && status != ExitStatus.notUnderstood)
  }

  /// `free` and `kill`: a plan and its id, or (with the id of an unchanged plan) the act.
  private func stop(_ name: String, _ arguments: ToolArguments, system: System) async throws -> Answer {
    let specs = try arguments.specs()
    let given = try arguments.string("planId")
    var request = PortFreeing.Request(
      specs: specs, protocols: try arguments.protocols(), includeConnections: false, dryRun: given == nil,
      verification: name == "free" ? PortFreeing.Verification() : nil)
    // The blast radius is for the plan shown; the act only compares the plan's id.
    request.readsBlastRadius = given == nil
    let seen = PlanSeen()
    let outcome = try await PortFreeing(system: system).free(
      request,
      consent: { plan in
        let id = StopPlan.id(command: name, plan: plan)
        await seen.record(id)
        return id == given ? .givenInAdvance : .refused
      })
    var document = TerminationDocument(
      command: name, dryRun: given == nil, outcome: outcome,
      consent: outcome.consent.map { $0 == .refused ? "refused" : "plan-id" })
    if given == nil {
      if outcome.ending == .dryRun { document.planId = StopPlan.id(command: name, plan: outcome.plan) }
    } else if let current = await seen.id, current != given {
      document.planId = current
      document.failure = (
        "plan-changed",
        "The plan changed since planId \(given ?? "") was made (it is now \(current)): nothing was signalled. Read the new plan in this document and call \(name) again with its planId if it is still what you mean."
      )
    }
    return Answer(
      document: JSONOutput.text(document), exitCode: document.exitCode, isError: document.exitCode != ExitStatus.success
    )
  }
}

/// The id of the plan the consent callback saw.
actor PlanSeen {
  private(set) var id: String?

  func record(_ id: String) { self.id = id }
}
