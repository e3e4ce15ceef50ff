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
    Self.writeLine(
      json
        ? WatchEventJSON(event: event, specs: specs, protocols: protocols, interval: interval).encoded() : text(event))
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
    WatchEventJSON.iso8601(epoch)
  }

  static func now() -> Double {
    Date().timeIntervalSince1970
  }

  /// `0.25`, `2`.
  static func seconds(_ duration: Duration) -> String {
    WatchEventJSON.seconds(duration)
  }

  /// Writes `line` and a newline to standard output and flushes it. A write that fails (the
  /// reader went away, the disk is full) ends the process as every other command does.
  static func writeLine(_ line: String) {
    print(line)
    if fflush(stdout) != 0 { StandardStreams.finish(ExitStatus.systemError) }
  }
}
