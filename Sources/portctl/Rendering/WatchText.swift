import PortKit

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Darwin)
@preconcurrency import Darwin
#elseif os(Windows)
@preconcurrency import CRT
#endif

/// Writes `watch`'s events: one text line, or one JSON object (NDJSON), per event, each
/// flushed at once so that a reader sees it as it happens.
struct WatchRenderer: Sendable {
  var json: Bool
  var specs: [PortSpec]
  var protocols: Set<TransportProtocol>
  var interval: Duration

  func write(_ event: PortWatchEvent) {
    Self.writeLine(json ? WatchEventJSON(event: event, renderer: self).encoded() : text(event))
  }

  /// One event as text: time, event, protocol, address and port, holders.
  ///
  ///     2026-11-29T01:50:03.456Z  listening  tcp  127.0.0.1:5000  5001/python3
  ///     2026-11-29T01:50:07.000Z  changed    tcp  127.0.0.1:5000  5010/python3 (was 5001/python3)
  ///     2026-11-29T01:50:09.000Z  closed     tcp  127.0.0.1:5000  5010/python3
  func text(_ event: PortWatchEvent) -> String {
    let time = Self.iso8601(event.time)
    let name = event.kind.rawValue + String(repeating: " ", count: max(0, 9 - event.kind.rawValue.count))
    guard let listener = event.listener else {
      // `ready`: what is watched.
      let ports = specs.isEmpty ? "every port" : specs.map(\.text).joined(separator: ",")
      let protos = protocols.sorted().map(\.rawValue).joined(separator: ",")
      return "\(time)  \(name)  \(protos)  \(TerminalText.escape(ports))  every \(Self.seconds(interval)) s"
    }
    var line = "\(time)  \(name)  \(listener.key.proto.rawValue)  \(listener.key.local)  \(Self.owners(listener))"
    if let previous = event.previous { line += " (was \(Self.owners(previous)))" }
    return line
  }

  /// `4242/node, 4243/node`, a hidden owner, or `kernel`; names escaped.
  static func owners(_ listener: WatchedListener) -> String {
    var parts = listener.holders.map { "\($0.pid)/\(TerminalText.escape($0.name))" }
    if let hidden = listener.hidden {
      let user = hidden.user.map { TerminalText.escape($0) } ?? hidden.uid.map { "uid \($0)" } ?? "unknown user"
      parts.append("hidden (\(user)\(hidden.user != nil ? hidden.uid.map { ", uid \($0)" } ?? "" : ""))")
    }
    if listener.kernel { parts.append("kernel") }
    return parts.isEmpty ? "-" : parts.joined(separator: ", ")
  }

  /// `2026-11-29T01:50:03.456Z`: UTC, to the millisecond.
  static func iso8601(_ epoch: Double) -> String {
    Date(timeIntervalSince1970: epoch).formatted(
      Date.ISO8601FormatStyle(includingFractionalSeconds: true, timeZone: .gmt))
  }

  static func now() -> Double {
    Date().timeIntervalSince1970
  }

  /// `0.25`, `2`.
  static func seconds(_ duration: Duration) -> String {
    let value = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    let rounded = (value * 1000).rounded() / 1000
    return rounded == rounded.rounded() ? String(Int(rounded)) : String(rounded)
  }

  /// Writes `line` and a newline to standard output and flushes it. A write that fails (the
  /// reader went away, the disk is full) ends the process as every other command does.
  static func writeLine(_ line: String) {
    print(line)
    if fflush(stdout) != 0 { StandardStreams.finish(ExitStatus.systemError) }
  }
}

/// One NDJSON object of `watch --json` (docs/json.md).
struct WatchEventJSON: Encodable {
  var event: PortWatchEvent
  var renderer: WatchRenderer

  enum CodingKeys: String, CodingKey {
    case schemaVersion, command, event, time, unixTime
    case proto = "protocol", family, localAddress, localPort, sockets, processes, hiddenOwner, kernel, previous
    case query, protocols, intervalSeconds
  }
  enum OwnersKeys: String, CodingKey { case sockets, processes, hiddenOwner, kernel }
  enum ProcessKeys: String, CodingKey { case pid, name, command, commandLine, user, uid, startTime }
  enum HiddenKeys: String, CodingKey { case uid, user }
  enum SpecKeys: String, CodingKey { case text, firstPort, lastPort, proto = "protocol", address }

  func encode(to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: CodingKeys.self)
    try container.encode(JSONOutput.schemaVersion, forKey: .schemaVersion)
    try container.encode("watch", forKey: .command)
    try container.encode(event.kind.rawValue, forKey: .event)
    try container.encode(WatchRenderer.iso8601(event.time), forKey: .time)
    try container.encode(event.time, forKey: .unixTime)
    guard let listener = event.listener else {
      if renderer.specs.isEmpty {
        try container.encodeNil(forKey: .query)
      } else {
        var query = container.nestedUnkeyedContainer(forKey: .query)
        for spec in renderer.specs {
          var item = query.nestedContainer(keyedBy: SpecKeys.self)
          try item.encode(spec.text, forKey: .text)
          try item.encode(spec.ports.lowerBound, forKey: .firstPort)
          try item.encode(spec.ports.upperBound, forKey: .lastPort)
          try item.encode(spec.proto?.rawValue, forKey: .proto)
          try item.encode(spec.address?.description, forKey: .address)
        }
      }
      try container.encode(renderer.protocols.sorted().map(\.rawValue), forKey: .protocols)
      try container.encode(Double(WatchRenderer.seconds(renderer.interval)) ?? 0, forKey: .intervalSeconds)
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

  func encoded() -> String {
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
struct WatchErrorJSON: Encodable {
  var error: PortKitError
  var time: Double

  enum CodingKeys: String, CodingKey { case schemaVersion, command, event, time, unixTime, exitCode, error }
  enum ErrorKeys: String, CodingKey { case code, message }

  func encode(to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: CodingKeys.self)
    try container.encode(JSONOutput.schemaVersion, forKey: .schemaVersion)
    try container.encode("watch", forKey: .command)
    try container.encode("error", forKey: .event)
    try container.encode(WatchRenderer.iso8601(time), forKey: .time)
    try container.encode(time, forKey: .unixTime)
    try container.encode(ExitStatus.systemError, forKey: .exitCode)
    var nested = container.nestedContainer(keyedBy: ErrorKeys.self, forKey: .error)
    try nested.encode(error.code.rawValue, forKey: .code)
    try nested.encode(error.message, forKey: .message)
  }

  func encoded() -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    guard let data = try? encoder.encode(self) else { return #"{"command":"watch","event":"error"}"# }
    return JSONOutput.visible(String(decoding: data, as: UTF8.self))
  }
}
