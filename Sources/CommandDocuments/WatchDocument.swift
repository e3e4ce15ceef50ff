import PortKit

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// One NDJSON object of `watch --json` (docs/json.md).
package struct WatchEventJSON {
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

  /// Writes the event as one object.
  package func write(to writer: inout JSONWriter) {
    writer.beginObject()
    writer.field("command", "watch")
    writer.field("event", event.kind.rawValue)
    guard let listener = event.listener else {
      // `ready`: what is watched.
      writer.field("intervalSeconds", Double(Self.seconds(interval)) ?? 0)
      writer.field("protocols", protocols.sorted().map(\.rawValue))
      writer.key("query")
      if specs.isEmpty {
        writer.null()
      } else {
        writer.beginArray()
        for spec in specs { SpecJSON(spec).write(to: &writer) }
        writer.endArray()
      }
      writer.field("schemaVersion", JSONOutput.schemaVersion)
      writer.field("time", Self.iso8601(event.time))
      writer.field("unixTime", event.time)
      writer.endObject()
      return
    }
    writer.field("family", listener.key.local.address.family.rawValue)
    Self.writeHidden(listener, to: &writer)
    writer.field("kernel", listener.kernel)
    writer.field("localAddress", listener.key.local.address.description)
    writer.field("localPort", listener.key.local.port)
    writer.key("previous")
    if let previous = event.previous {
      writer.beginObject()
      Self.writeHidden(previous, to: &writer)
      writer.field("kernel", previous.kernel)
      Self.writeProcesses(previous, to: &writer)
      writer.field("sockets", previous.sockets)
      writer.endObject()
    } else {
      writer.null()
    }
    Self.writeProcesses(listener, to: &writer)
    writer.field("protocol", listener.key.proto.rawValue)
    writer.field("schemaVersion", JSONOutput.schemaVersion)
    writer.field("sockets", listener.sockets)
    writer.field("time", Self.iso8601(event.time))
    writer.field("unixTime", event.time)
    writer.endObject()
  }

  private static func writeHidden(_ listener: WatchedListener, to writer: inout JSONWriter) {
    writer.key("hiddenOwner")
    if let hidden = listener.hidden {
      writer.beginObject()
      writer.field("uid", hidden.uid)
      writer.field("user", hidden.user)
      writer.endObject()
    } else {
      writer.null()
    }
  }

  private static func writeProcesses(_ listener: WatchedListener, to writer: inout JSONWriter) {
    writer.key("processes")
    writer.beginArray()
    for holder in listener.holders {
      writer.beginObject()
      writer.key("command")
      if holder.commandLine.isEmpty { writer.string(holder.name) } else { writer.string(joining: holder.commandLine) }
      writer.field("commandLine", holder.commandLine)
      writer.field("name", holder.name)
      writer.field("pid", holder.pid)
      writer.dateField("startTime", holder.startTime)
      writer.field("uid", holder.uid)
      writer.field("user", holder.user)
      writer.endObject()
    }
    writer.endArray()
  }

  /// The object on one line, keys sorted, as `watch --json` writes it.
  package func encoded() -> String {
    var writer = JSONWriter(compact: true)
    write(to: &writer)
    return writer.text
  }
}

/// The last NDJSON object of a watch whose poll failed: `"event": "error"`, exit status 2.
package struct WatchErrorJSON {
  package var error: PortKitError
  package var time: Double

  /// The object for `error`, at `time` (seconds since the Unix epoch).
  package init(error: PortKitError, time: Double) {
    self.error = error
    self.time = time
  }

  /// Writes the error as one object.
  package func write(to writer: inout JSONWriter) {
    writer.beginObject()
    writer.field("command", "watch")
    writer.key("error")
    writer.beginObject()
    writer.field("code", error.code.rawValue)
    writer.field("message", error.message)
    writer.endObject()
    writer.field("event", "error")
    writer.field("exitCode", ExitStatus.systemError)
    writer.field("schemaVersion", JSONOutput.schemaVersion)
    writer.field("time", WatchEventJSON.iso8601(time))
    writer.field("unixTime", time)
    writer.endObject()
  }

  /// The object on one line, keys sorted, as `watch --json` writes it.
  package func encoded() -> String {
    var writer = JSONWriter(compact: true)
    write(to: &writer)
    return writer.text
  }
}
