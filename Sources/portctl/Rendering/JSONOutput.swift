import PortKit

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Writes exactly one JSON document to standard output. Schema: docs/json.md.
enum JSONOutput {
  static let schemaVersion = 1

  static func emit(_ document: some Encodable) {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    do {
      let data = try encoder.encode(document)
      print(visible(String(decoding: data, as: UTF8.self)))
    } catch {
      print(#"{"schemaVersion":1,"error":{"code":"internal","message":"could not encode the result"}}"#)
    }
  }

  /// `list --json`: the document ``ReportDocument`` would make, written one socket at a
  /// time so that a listing of tens of thousands of sockets is never held as one tree.
  static func streamListing(_ listing: SocketListing, exitCode: Int32) {
    let empty = PortReport(
      sockets: [], takenAt: listing.takenAt, uninspectableCount: listing.uninspectableCount,
      effectiveUID: listing.snapshot.effectiveUID)
    let frame = ReportDocument(
      command: "list", exitCode: exitCode, query: nil, report: empty,
      held: listing.contains { $0.owner.holdsPort })
    streamReport(frame, sockets: listing, takenAt: listing.takenAt)
  }

  /// `who --json` and `why --json`: `document`, with its sockets encoded one at a time.
  static func streamReport(_ document: ReportDocument) {
    var frame = document
    frame.report.sockets = []
    frame.held = document.report.isHeld
    streamReport(
      frame, sockets: document.report.sockets, takenAt: document.report.takenAt, provenance: document.provenance)
  }

  /// Writes `frame` (a document whose `sockets` is empty) with `sockets` encoded into it one
  /// at a time: encoding the whole tree at once takes about 10 KB per socket.
  private static func streamReport(
    _ frame: ReportDocument, sockets: some Collection<SocketReport>, takenAt: Double,
    provenance: [PID: Provenance]? = nil
  ) {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    let marker = #""sockets" : ["#
    guard let data = try? encoder.encode(frame), case let text = String(decoding: data, as: UTF8.self),
      let open = text.firstRange(of: marker), let close = text[open.upperBound...].firstIndex(of: "]")
    else {
      print(#"{"schemaVersion":1,"error":{"code":"internal","message":"could not encode the result"}}"#)
      return
    }
    var chunk = String(text[..<open.upperBound])
    for (position, entry) in sockets.enumerated() {
      chunk += position == 0 ? "\n" : ",\n"
      guard let socket = try? encoder.encode(SocketJSON(entry, takenAt: takenAt, provenance: provenance)) else {
        continue
      }
      var first = true
      for line in String(decoding: socket, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false) {
        if !first { chunk += "\n" }
        first = false
        chunk += "    "
        chunk.append(contentsOf: line)
      }
      if chunk.utf8.count >= 1 << 16 {
        print(visible(chunk), terminator: "")
        chunk = ""
      }
    }
    chunk += sockets.isEmpty ? "\n\n  " : "\n  "
    chunk.append(contentsOf: text[close...])
    print(visible(chunk))
  }

  /// Encoded JSON with every character ``TerminalText`` would escape, that the encoder left
  /// raw (DEL, C1 controls, format characters such as U+202E, U+2028, U+2029), written as a
  /// `\uXXXX` escape (a surrogate pair above U+FFFF). The strings decode to exactly the same
  /// text; a terminal showing the document is never steered by them. (Outside strings a
  /// JSON document is plain ASCII, so only string contents change.)
  static func visible(_ json: String) -> String {
    var plain = true
    for byte in json.utf8 where byte >= 0x7F {
      plain = false
      break
    }
    if plain { return json }
    var result = ""
    result.reserveCapacity(json.utf8.count + 16)
    for scalar in json.unicodeScalars {
      guard scalar.value >= 0x7F, TerminalText.needsEscaping(scalar) else {
        result.unicodeScalars.append(scalar)
        continue
      }
      for unit in String(scalar).utf16 {
        let hex = String(unit, radix: 16)
        result += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
      }
    }
    return result
  }

  static func iso8601(_ epoch: Double) -> String {
    Date(timeIntervalSince1970: epoch).formatted(.iso8601)
  }
}

/// `{"schemaVersion", "command", "exitCode", "error": {"code", "message"}}`.
struct ErrorDocument: Encodable {
  var command: String
  var exitCode: Int32
  var code: String
  var message: String

  enum CodingKeys: String, CodingKey { case schemaVersion, command, exitCode, error }
  enum ErrorKeys: String, CodingKey { case code, message }

  func encode(to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: CodingKeys.self)
    try container.encode(JSONOutput.schemaVersion, forKey: .schemaVersion)
    try container.encode(command, forKey: .command)
    try container.encode(exitCode, forKey: .exitCode)
    var error = container.nestedContainer(keyedBy: ErrorKeys.self, forKey: .error)
    try error.encode(code, forKey: .code)
    try error.encode(message, forKey: .message)
  }
}

/// The result of `who` and `list`.
struct ReportDocument: Encodable {
  var command: String
  var exitCode: Int32
  var query: [PortSpec]?
  var report: PortReport
  var excluded: [ExcludedPortHit] = []
  /// Ancestry and managers per holder (`who` and `why`).
  var provenance: [PID: Provenance]? = nil
  /// Whether something holds a port, when `report` does not carry the sockets.
  var held: Bool? = nil

  enum CodingKeys: String, CodingKey {
    case schemaVersion, command, exitCode, error, held, query, sockets, uninspectableProcesses, excludedRanges
  }
  enum ExcludedKeys: String, CodingKey { case proto = "protocol", spec, firstPort, lastPort, administered, advice }

  func encode(to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: CodingKeys.self)
    try container.encode(JSONOutput.schemaVersion, forKey: .schemaVersion)
    try container.encode(command, forKey: .command)
    try container.encode(exitCode, forKey: .exitCode)
    try container.encodeNil(forKey: .error)
    try container.encode(held ?? report.isHeld, forKey: .held)
    try container.encode(query.map { $0.map(SpecJSON.init) }, forKey: .query)
    try container.encode(
      report.sockets.map { SocketJSON($0, takenAt: report.takenAt, provenance: provenance) }, forKey: .sockets)
    try container.encode(report.uninspectableCount, forKey: .uninspectableProcesses)
    var ranges = container.nestedUnkeyedContainer(forKey: .excludedRanges)
    for hit in excluded {
      var entry = ranges.nestedContainer(keyedBy: ExcludedKeys.self)
      try entry.encode(hit.proto.rawValue, forKey: .proto)
      try entry.encode(hit.spec.text, forKey: .spec)
      try entry.encode(hit.range.ports.lowerBound, forKey: .firstPort)
      try entry.encode(hit.range.ports.upperBound, forKey: .lastPort)
      try entry.encode(hit.range.administered, forKey: .administered)
      try entry.encode(hit.advice, forKey: .advice)
    }
  }
}

struct SpecJSON: Encodable {
  var text: String
  var firstPort: UInt16
  var lastPort: UInt16
  var proto: String?
  var address: String?

  init(_ spec: PortSpec) {
    text = spec.text
    firstPort = spec.ports.lowerBound
    lastPort = spec.ports.upperBound
    proto = spec.proto?.rawValue
    address = spec.address?.description
  }

  enum CodingKeys: String, CodingKey { case text, firstPort, lastPort, proto = "protocol", address }

  func encode(to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: CodingKeys.self)
    try container.encode(text, forKey: .text)
    try container.encode(firstPort, forKey: .firstPort)
    try container.encode(lastPort, forKey: .lastPort)
    try container.encode(proto, forKey: .proto)
    try container.encode(address, forKey: .address)
  }
}

struct SocketJSON: Encodable {
  var entry: SocketReport
  var takenAt: Double
  var provenance: [PID: Provenance]?

  init(_ entry: SocketReport, takenAt: Double, provenance: [PID: Provenance]? = nil) {
    self.entry = entry
    self.takenAt = takenAt
    self.provenance = provenance
  }

  enum CodingKeys: String, CodingKey {
    case proto = "protocol", family, localAddress, localPort, addressScope, remoteAddress, remotePort
    case state, listening, uid, id, v6Only, timer, owner, hiddenOwner, unseenHolders, processes
  }
  enum TimerKeys: String, CodingKey { case kind, remainingSeconds }
  enum HiddenKeys: String, CodingKey { case uid, user, reason, advice, candidates }
  enum CandidateKeys: String, CodingKey { case pid, name, command }

  func encode(to encoder: any Encoder) throws {
    let socket = entry.socket
    var container = encoder.container(keyedBy: CodingKeys.self)
    try container.encode(socket.proto.rawValue, forKey: .proto)
    try container.encode(socket.family.rawValue, forKey: .family)
    try container.encode(socket.local.address.description, forKey: .localAddress)
    try container.encode(socket.local.port, forKey: .localPort)
    try container.encode(socket.local.address.scope.rawValue, forKey: .addressScope)
    try container.encode(socket.remote?.address.description, forKey: .remoteAddress)
    try container.encode(socket.remote?.port, forKey: .remotePort)
    try container.encode(socket.state.rawValue, forKey: .state)
    try container.encode(socket.isListener, forKey: .listening)
    try container.encode(socket.uid, forKey: .uid)
    try container.encode(socket.id, forKey: .id)
    try container.encode(socket.v6Only, forKey: .v6Only)
    if let timer = socket.timer {
      var nested = container.nestedContainer(keyedBy: TimerKeys.self, forKey: .timer)
      try nested.encode(timer.kind.rawValue, forKey: .kind)
      try nested.encode(timer.remainingSeconds, forKey: .remainingSeconds)
    } else {
      try container.encodeNil(forKey: .timer)
    }
    let ownerKind: String
    switch entry.owner {
    case .processes: ownerKind = "processes"
    case .hidden: ownerKind = "hidden"
    case .kernel: ownerKind = "kernel"
    case .none: ownerKind = "none"
    }
    try container.encode(ownerKind, forKey: .owner)
    func encode(_ hidden: HiddenOwner?, advice: (HiddenOwner) -> String, forKey key: CodingKeys) throws {
      guard let hidden else { return try container.encodeNil(forKey: key) }
      var nested = container.nestedContainer(keyedBy: HiddenKeys.self, forKey: key)
      try nested.encode(hidden.uid, forKey: .uid)
      try nested.encode(hidden.user, forKey: .user)
      try nested.encode(hidden.reason.rawValue, forKey: .reason)
      try nested.encode(advice(hidden), forKey: .advice)
      var candidates = nested.nestedUnkeyedContainer(forKey: .candidates)
      for candidate in hidden.candidates {
        var entry = candidates.nestedContainer(keyedBy: CandidateKeys.self)
        try entry.encode(candidate.pid, forKey: .pid)
        try entry.encode(candidate.name, forKey: .name)
        try entry.encode(candidate.displayCommand, forKey: .command)
      }
    }
    if case .hidden(let hidden) = entry.owner {
      try encode(hidden, advice: \.advice, forKey: .hiddenOwner)
    } else {
      try container.encodeNil(forKey: .hiddenOwner)
    }
    try encode(entry.unseenHolders, advice: \.alsoHeldAdvice, forKey: .unseenHolders)
    try container.encode(
      entry.owner.holders.map {
        ProcessJSON(
          $0, takenAt: takenAt, socket: socket, provenance: provenance?[$0.process.pid],
          withProvenance: provenance != nil)
      }, forKey: .processes)
  }
}

struct ProcessJSON: Encodable {
  var holder: HolderProcess
  var takenAt: Double
  var socket: SocketEntry
  var provenance: Provenance?
  var withProvenance: Bool

  init(
    _ holder: HolderProcess, takenAt: Double, socket: SocketEntry, provenance: Provenance? = nil,
    withProvenance: Bool = false
  ) {
    self.holder = holder
    self.takenAt = takenAt
    self.socket = socket
    self.provenance = provenance
    self.withProvenance = withProvenance
  }

  enum CodingKeys: String, CodingKey {
    case pid, ppid, uid, user, name, command, commandLine, executable, cwd, startTime, uptimeSeconds
    case fds, role, sharesWith, services, hint, ancestry, managers
  }
  enum AncestorKeys: String, CodingKey { case pid, ppid, name, command, startTime }
  enum ManagerKeys: String, CodingKey { case kind, name, detail, stop, evidence, selfReported }

  func encode(to encoder: any Encoder) throws {
    let process = holder.process
    var container = encoder.container(keyedBy: CodingKeys.self)
    try container.encode(process.pid, forKey: .pid)
    try container.encode(process.ppid, forKey: .ppid)
    try container.encode(process.uid, forKey: .uid)
    try container.encode(process.user, forKey: .user)
    try container.encode(process.name, forKey: .name)
    try container.encode(process.displayCommand, forKey: .command)
    try container.encode(process.commandLine, forKey: .commandLine)
    try container.encode(process.executable, forKey: .executable)
    try container.encode(process.workingDirectory, forKey: .cwd)
    try container.encode(process.startTime.map(JSONOutput.iso8601), forKey: .startTime)
    try container.encode(process.startTime.map { max(0, takenAt - $0) }, forKey: .uptimeSeconds)
    try container.encode(holder.fds, forKey: .fds)
    try container.encode(holder.role.rawValue, forKey: .role)
    try container.encode(holder.sharesWith, forKey: .sharesWith)
    try container.encode(process.services, forKey: .services)
    try container.encode(HolderHints.hint(for: process, socket: socket), forKey: .hint)
    guard withProvenance else { return }
    var ancestry = container.nestedUnkeyedContainer(forKey: .ancestry)
    for ancestor in provenance?.ancestry ?? [] {
      var item = ancestry.nestedContainer(keyedBy: AncestorKeys.self)
      try item.encode(ancestor.pid, forKey: .pid)
      try item.encode(ancestor.ppid, forKey: .ppid)
      try item.encode(ancestor.name, forKey: .name)
      try item.encode(ancestor.displayCommand, forKey: .command)
      try item.encode(ancestor.startTime.map(JSONOutput.iso8601), forKey: .startTime)
    }
    var managers = container.nestedUnkeyedContainer(forKey: .managers)
    for manager in provenance?.managers ?? [] {
      var item = managers.nestedContainer(keyedBy: ManagerKeys.self)
      try item.encode(manager.kind.rawValue, forKey: .kind)
      try item.encode(manager.name, forKey: .name)
      try item.encode(manager.detail, forKey: .detail)
      try item.encode(manager.stop, forKey: .stop)
      try item.encode(manager.evidence.rawValue, forKey: .evidence)
      try item.encode(manager.evidence.isSelfReported, forKey: .selfReported)
    }
  }
}

/// The result of `check`.
struct CheckDocument: Encodable {
  var exitCode: Int32
  var checks: [BindCheck]

  enum CodingKeys: String, CodingKey { case schemaVersion, command, exitCode, error, bindable, checks }
  enum CheckKeys: String, CodingKey {
    case proto = "protocol", port, address, bindable, binds, plainBindable, reasons, notes
  }
  enum ReasonKeys: String, CodingKey { case code, message, pids }

  func encode(to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: CodingKeys.self)
    try container.encode(JSONOutput.schemaVersion, forKey: .schemaVersion)
    try container.encode("check", forKey: .command)
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
        try item.encode(reason.message, forKey: .message)
        try item.encode(reason.pids, forKey: .pids)
      }
    }
  }
}

/// The result of `find`.
struct FindDocument: Encodable {
  var exitCode: Int32
  var proto: TransportProtocol
  var host: IPAddress?
  var ports: [UInt16]
  var skipped: [PortFinder.Skip: Int]

  enum CodingKeys: String, CodingKey {
    case schemaVersion, command, exitCode, error, proto = "protocol", host, ports, skipped
  }

  func encode(to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: CodingKeys.self)
    try container.encode(JSONOutput.schemaVersion, forKey: .schemaVersion)
    try container.encode("find", forKey: .command)
    try container.encode(exitCode, forKey: .exitCode)
    try container.encodeNil(forKey: .error)
    try container.encode(proto.rawValue, forKey: .proto)
    try container.encode(host?.description, forKey: .host)
    try container.encode(ports, forKey: .ports)
    try container.encode(
      Dictionary(uniqueKeysWithValues: skipped.map { ($0.key.rawValue, $0.value) }), forKey: .skipped)
  }
}

/// The result of `wait`.
struct WaitDocument: Encodable {
  var exitCode: Int32
  var condition: PortWaiter.Condition
  var met: Bool
  var seconds: Double
  var report: PortReport
  /// On a `free` timeout: why each port still cannot be bound.
  var checks: [BindCheck] = []

  enum CodingKeys: String, CodingKey {
    case schemaVersion, command, exitCode, error, condition, met, seconds, sockets, checks
  }

  func encode(to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: CodingKeys.self)
    try container.encode(JSONOutput.schemaVersion, forKey: .schemaVersion)
    try container.encode("wait", forKey: .command)
    try container.encode(exitCode, forKey: .exitCode)
    try container.encodeNil(forKey: .error)
    try container.encode(condition.rawValue, forKey: .condition)
    try container.encode(met, forKey: .met)
    try container.encode(seconds, forKey: .seconds)
    try container.encode(report.sockets.map { SocketJSON($0, takenAt: report.takenAt) }, forKey: .sockets)
    try container.encode(checks.map(CheckJSON.init), forKey: .checks)
  }
}

/// The result of `explain`.
struct ExplainDocument: Encodable {
  var exitCode: Int32
  var failure: BindFailure?
  var check: BindCheck?
  /// Every check made (TCP and UDP when the protocol is unknown); `check` is the deciding one.
  var checks: [BindCheck] = []
  var problem: String?
  /// What to do instead of a port check (a connect-side error, an unnamed unavailable address).
  var advice: String? = nil

  enum CodingKeys: String, CodingKey {
    case schemaVersion, command, exitCode, error, recognized, failure, check, checks, problem, advice
  }
  enum FailureKeys: String, CodingKey {
    case kind, runtime, errorName, port, address, host, proto = "protocol", operation, reuseAddress
  }

  func encode(to encoder: any Encoder) throws {
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
