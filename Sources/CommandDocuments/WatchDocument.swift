import PortKit

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// One NDJSON object of `watch --json` (docs/json.md).
package struct WatchEventJSON: Encodable {
  package var event: PortWatchEvent
  /// What is watched (`ready` names them).
  package var specs: [PortSpec]
  package var protocols: Set<TransportProtocol>
  package var interval: Duration

  /// The object for `event`, of a watch of `specs` (every port when empty) over `protocols`,
  /// polled every `interval`.
  package init(event: PortWatchEvent, specs: [PortSpec], protocols: Set<TransportProtocol>, interval: Duration) {
    self.event = event
    self.specs = specs
    self.protocols = protocols
    self.interval = interval
  }

  /// `2026-11-29T01:50:03.456Z`: UTC, to the millisecond.
  package static func iso8601(_ epoch: Double) -> String {
    Date(timeIntervalSince1970: epoch).formatted(
      Date.ISO8601FormatStyle(includingFractionalSeconds: true, timeZone: .gmt))
  }

  /// `0.25`, `2`.
  package static func seconds(_ duration: Duration) -> String {
    let value = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    let rounded = (value * 1000).rounded() / 1000
    return rounded == rounded.rounded() ? String(Int(rounded)) : String(rounded)
  }

  package enum CodingKeys: String, CodingKey {
    case schemaVersion, command, event, time, unixTime
    case proto = "protocol", family, localAddress, localPort, sockets, processes, hiddenOwner, kernel, previous
    case query, protocols, intervalSeconds
  }
  package enum OwnersKeys: String, CodingKey { case sockets, processes, hiddenOwner, kernel }
  package enum ProcessKeys: String, CodingKey { case pid, name, command, commandLine, user, uid, startTime }
  package enum HiddenKeys: String, CodingKey { case uid, user }
  package enum SpecKeys: String, CodingKey { case text, firstPort, lastPort, proto = "protocol", address }

  package func encode(to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: CodingKeys.self)
    try container.encode(JSONOutput.schemaVersion, forKey: .schemaVersion)
    try container.encode("watch", forKey: .command)
    try container.encode(event.kind.rawValue, forKey: .event)
    try container.encode(Self.iso8601(event.time), forKey: .time)
    try container.encode(event.time, forKey: .unixTime)
    guard let listener = event.listener else {
      if specs.isEmpty {
        try container.encodeNil(forKey: .query)
      } else {
        var query = container.nestedUnkeyedContainer(forKey: .query)
        for spec in specs {
          var item = query.nestedContainer(keyedBy: SpecKeys.self)
          try item.encode(spec.text, forKey: .text)
          try item.encode(spec.ports.lowerBound, forKey: .firstPort)
          try item.encode(spec.ports.upperBound, forKey: .lastPort)
          try item.encode(spec.proto?.rawValue, forKey: .proto)
          try item.encode(spec.address?.description, forKey: .address)
        }
      }
      try container.encode(protocols.sorted().map(\.rawValue), forKey: .protocols)
      try container.encode(Double(Self.seconds(interval)) ?? 0, forKey: .intervalSeconds)
      return
    }
    try container.encode(listener.key.proto.rawValue, forKey: .proto)
    try container.encode(listener.key.local.address.family.rawValue, forKey: .family)
    try container.encode(listener.key.local.address.description, forKey: .localAddress)
    try container.encode(listener.key.local.port, forKey: .localPort)
    try container.encode(listener.sockets, forKey: .sockets)
    try encodeOwners(listener, into: &container)
    if let previous = event.previous {
      var nested = container.nestedContainer(keyedBy: CodingKeys.self, forKey: .previous)
      try nested.encode(previous.sockets, forKey: .sockets)
      try encodeOwners(previous, into: &nested)
    } else {
      try container.encodeNil(forKey: .previous)
    }
  }

  private func encodeOwners(_ listener: WatchedListener, into container: inout KeyedEncodingContainer<CodingKeys>)
    throws
  {
    var processes = container.nestedUnkeyedContainer(forKey: .processes)
    for holder in listener.holders {
      var item = processes.nestedContainer(keyedBy: ProcessKeys.self)
      try item.encode(holder.pid, forKey: .pid)
      try item.encode(holder.name, forKey: .name)
      try item.encode(
        holder.commandLine.isEmpty ? holder.name : holder.commandLine.joined(separator: " "), forKey: .command)
      try item.encode(holder.commandLine, forKey: .commandLine)
      try item.encode(holder.user, forKey: .user)
      try item.encode(holder.uid, forKey: .uid)
      try item.encode(holder.startTime.map(JSONOutput.iso8601), forKey: .startTime)
    }
    if let hidden = listener.hidden {
      var item = container.nestedContainer(keyedBy: HiddenKeys.self, forKey: .hiddenOwner)
      try item.encode(hidden.uid, forKey: .uid)
      try item.encode(hidden.user, forKey: .user)
    } else {
      try container.encodeNil(forKey: .hiddenOwner)
    }
    try container.encode(listener.kernel, forKey: .kernel)
  }

  /// The object on one line, keys sorted, as `watch --json` writes it.
  package func encoded() -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    guard let data = try? encoder.encode(self) else {
      return
        #"{"command":"watch","error":{"code":"internal","message":"could not encode the event"},"schemaVersion":1}"#
    }
    return JSONOutput.visible(String(decoding: data, as: UTF8.self))
  }
}

/// The last NDJSON object of a watch whose poll failed: `"event": "error"`, exit status 2.
package struct WatchErrorJSON: Encodable {
  package var error: PortKitError
  package var time: Double

  /// The object for `error`, at `time` (seconds since the Unix epoch).
  package init(error: PortKitError, time: Double) {
    self.error = error
    self.time = time
  }

  package enum CodingKeys: String, CodingKey { case schemaVersion, command, event, time, unixTime, exitCode, error }
  package enum ErrorKeys: String, CodingKey { case code, message }

  package func encode(to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: CodingKeys.self)
    try container.encode(JSONOutput.schemaVersion, forKey: .schemaVersion)
    try container.encode("watch", forKey: .command)
    try container.encode("error", forKey: .event)
    try container.encode(WatchEventJSON.iso8601(time), forKey: .time)
    try container.encode(time, forKey: .unixTime)
    try container.encode(ExitStatus.systemError, forKey: .exitCode)
    var nested = container.nestedContainer(keyedBy: ErrorKeys.self, forKey: .error)
    try nested.encode(error.code.rawValue, forKey: .code)
    try nested.encode(error.message, forKey: .message)
  }

  /// The object on one line, keys sorted, as `watch --json` writes it.
  package func encoded() -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    guard let data = try? encoder.encode(self) else { return #"{"command":"watch","event":"error"}"# }
    return JSONOutput.visible(String(decoding: data, as: UTF8.self))
  }
}
