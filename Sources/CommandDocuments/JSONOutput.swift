import PortKit

#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Darwin)
@preconcurrency import Darwin
#elseif os(Windows)
@preconcurrency import CRT
#endif

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

  /// Writes `document` to standard output through a ``JSONWriter``, in chunks of about
  /// 64 KB: a listing of tens of thousands of sockets is never held as one text.
  package static func emit(_ document: some JSONDocument) {
    var writer = JSONWriter(sink: writeToStandardOutput)
    document.write(to: &writer)
    writer.newline()
    writer.finish()
  }

  /// `document` as `emit` writes it (without the final newline): what the MCP server
  /// returns as a tool's result.
  package static func text(_ document: some JSONDocument) -> String {
    var writer = JSONWriter()
    document.write(to: &writer)
    return writer.text
  }

  /// `list --json`: the document ``ReportDocument`` would make of `listing`, written one
  /// socket at a time, without copying the listing into a report.
  package static func streamListing(
    _ listing: SocketListing, exitCode: Int32, projects: [PID: Project]? = nil, host: String? = nil
  ) {
    let empty = PortReport(
      sockets: [], takenAt: listing.takenAt, uninspectableCount: listing.uninspectableCount,
      effectiveUID: listing.snapshot.effectiveUID)
    let frame = ReportDocument(
      command: "list", exitCode: exitCode, query: nil, report: empty,
      held: listing.contains { $0.owner.holdsPort }, projects: projects, host: host)
    var writer = JSONWriter(sink: writeToStandardOutput)
    frame.write(to: &writer, sockets: listing)
    writer.newline()
    writer.finish()
  }

  /// `who --json` and `why --json`: `document`, written as it goes.
  package static func streamReport(_ document: ReportDocument) {
    emit(document)
  }

  /// Through the C library's `stdout`, as `print` writes: the chunks keep their place among
  /// the program's other output, and a failed write is seen where every other one is (the
  /// stream's error flag, checked at exit).
  private static func writeToStandardOutput(_ bytes: UnsafeBufferPointer<UInt8>) {
    guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
    _ = fwrite(base, 1, bytes.count, stdout)
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

  /// `epoch` (seconds since the Unix epoch) as `Date.formatted(.iso8601)` writes it:
  /// `2024-05-01T12:00:00Z`, UTC, the fraction of a second dropped.
  package static func iso8601(_ epoch: Double) -> String {
    guard let fields = utcFields(epoch) else { return Date(timeIntervalSince1970: epoch).formatted(.iso8601) }
    return String(unsafeUninitializedCapacity: 20) { buffer in
      guard let base = buffer.baseAddress else { return 0 }
      formatISO8601(fields, into: base)
      return 20
    }
  }

  /// The UTC calendar fields of `epoch` (rounded down to the second) in the proleptic
  /// Gregorian calendar; `nil` outside 1970–9999, which ``iso8601(_:)`` leaves to Foundation.
  static func utcFields(_ epoch: Double) -> (year: Int, month: Int, day: Int, second: Int)? {
    guard epoch >= 0, epoch < 253_402_300_800 else { return nil }
    let seconds = Int(epoch.rounded(.down))
    let days = seconds / 86_400
    // Days since 0000-03-01, counted in 400-year eras of 146 097 days.
    let shifted = days + 719_468
    let era = shifted / 146_097
    let dayOfEra = shifted - era * 146_097
    let yearOfEra = (dayOfEra - dayOfEra / 1_460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
    let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
    let monthFromMarch = (5 * dayOfYear + 2) / 153
    let day = dayOfYear - (153 * monthFromMarch + 2) / 5 + 1
    let month = monthFromMarch < 10 ? monthFromMarch + 3 : monthFromMarch - 9
    let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
    return (year, month, day, seconds % 86_400)
  }

  /// Writes the 20 bytes of `YYYY-MM-DDTHH:MM:SSZ` for `fields` at `pointer`.
  static func formatISO8601(
    _ fields: (year: Int, month: Int, day: Int, second: Int), into pointer: UnsafeMutablePointer<UInt8>
  ) {
    var position = 0
    func append(_ value: Int, digits: Int) {
      var divisor = 1
      for _ in 1..<digits { divisor *= 10 }
      var rest = value
      while divisor > 0 {
        pointer[position] = UInt8(ascii: "0") + UInt8(rest / divisor)
        position += 1
        rest %= divisor
        divisor /= 10
      }
    }
    func append(_ byte: UInt8) {
      pointer[position] = byte
      position += 1
    }
    append(fields.year, digits: 4)
    append(UInt8(ascii: "-"))
    append(fields.month, digits: 2)
    append(UInt8(ascii: "-"))
    append(fields.day, digits: 2)
    append(UInt8(ascii: "T"))
    append(fields.second / 3600, digits: 2)
    append(UInt8(ascii: ":"))
    append(fields.second / 60 % 60, digits: 2)
    append(UInt8(ascii: ":"))
    append(fields.second % 60, digits: 2)
    append(UInt8(ascii: "Z"))
  }
}
