import PortKit

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Writes exactly one JSON document to standard output. Schema: docs/json.md.
package enum JSONOutput {
  package static let schemaVersion = 1

  package static func emit(_ document: some Encodable) {
    print(text(document))
  }

  /// `document` as `emit` writes it (without the final newline): what the MCP server
  /// returns as a tool's result.
  package static func text(_ document: some Encodable) -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    do {
      let data = try encoder.encode(document)
      return visible(String(decoding: data, as: UTF8.self))
    } catch {
      return #"{"schemaVersion":1,"error":{"code":"internal","message":"could not encode the result"}}"#
    }
  }

  /// `list --json`: the document ``ReportDocument`` would make, written one socket at a
  /// time so that a listing of tens of thousands of sockets is never held as one tree.
  package static func streamListing(
    _ listing: SocketListing, exitCode: Int32, projects: [PID: Project]? = nil, host: String? = nil
  ) {
    let empty = PortReport(
      sockets: [], takenAt: listing.takenAt, uninspectableCount: listing.uninspectableCount,
      effectiveUID: listing.snapshot.effectiveUID)
    let frame = ReportDocument(
      command: "list", exitCode: exitCode, query: nil, report: empty,
      held: listing.contains { $0.owner.holdsPort }, host: host)
    streamReport(frame, sockets: listing, takenAt: listing.takenAt, projects: projects)
  }

  /// `who --json` and `why --json`: `document`, with its sockets encoded one at a time.
  package static func streamReport(_ document: ReportDocument) {
    var frame = document
    frame.report.sockets = []
    frame.held = document.report.isHeld
    streamReport(
      frame, sockets: document.report.sockets, takenAt: document.report.takenAt, provenance: document.provenance,
      projects: document.projects)
  }

  /// Writes `frame` (a document whose `sockets` is empty) with `sockets` encoded into it one
  /// at a time: encoding the whole tree at once takes about 10 KB per socket.
  private static func streamReport(
    _ frame: ReportDocument, sockets: some Collection<SocketReport>, takenAt: Double,
    provenance: [PID: Provenance]? = nil, projects: [PID: Project]? = nil
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
      guard
        let socket = try? encoder.encode(
          SocketJSON(entry, takenAt: takenAt, provenance: provenance, projects: projects))
      else {
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
  package static func visible(_ json: String) -> String {
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

  package static func iso8601(_ epoch: Double) -> String {
    Date(timeIntervalSince1970: epoch).formatted(.iso8601)
  }
}
