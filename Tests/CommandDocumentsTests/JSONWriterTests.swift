import Foundation
import Testing

@testable import CommandDocuments
@testable import PortKit

/// ``JSONWriter`` against Foundation's `JSONEncoder` (with ``JSONOutput/visible(_:)`` over its
/// text, as the documents were written before) for numbers, strings and dates.
@Suite struct JSONWriterTests {
  static func encoded(_ value: some Encodable) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    return JSONOutput.visible(String(decoding: try encoder.encode(value), as: UTF8.self))
  }

  @Test func doublesAreWrittenAsTheEncoderWritesThem() throws {
    let values: [Double] = [
      0, -0.0, 1, 1.0, -5, 999_999_999_999_999, -999_999_999_999_999, 1e15 - 0.5, 4_503_599_627_370_496.5, 0.1, 0.2,
      0.3, 1e-7, 1.5e-7, Double.leastNonzeroMagnitude, 2.2250738585072014e-308, 1e15, 1e16, 1e17, 1e21,
      123_456.789, 1_700_000_100.5, 1_700_000_100.5 - 1_700_000_000.25, 9_007_199_254_740_992,
      1.7976931348623157e308, -3.25, 59.999, 0.001, 7.5, 10.5, 5.000_001, 100, 1e100, 1 / 3,
    ]
    for value in values {
      var writer = JSONWriter()
      writer.double(value)
      #expect(writer.text == (try Self.encoded(value)), "\(value)")
    }
    for value in [Double.nan, .infinity, -.infinity] {
      var writer = JSONWriter()
      writer.double(value)
      #expect(writer.text == "null")
    }
  }

  @Test func integersAreWrittenInDecimal() throws {
    let values: [Int64] = [0, 1, -1, 9, 10, 99, 100, 65535, Int64(Int32.max), Int64(Int32.min), .max, .min]
    for value in values {
      var writer = JSONWriter()
      writer.integer(value)
      #expect(writer.text == "\(value)")
    }
    var writer = JSONWriter()
    writer.integer(UInt64.max)
    #expect(writer.text == "\(UInt64.max)")
  }

  /// Every scalar of the Basic Multilingual Plane and a sample of the others, in strings of
  /// 64, escaped as the encoder escapes them plus the terminal-safe escapes.
  @Test func stringsAreEscapedAsBefore() throws {
    var scalars = (0...0xFFFF).compactMap(Unicode.Scalar.init)
    scalars += stride(from: 0x1_0000, through: 0x10_FFFF, by: 97).compactMap(Unicode.Scalar.init)
    scalars += [0xE0001, 0xE0041, 0xE007F, 0x1F600, 0x1D173, 0x10FFFF].compactMap(Unicode.Scalar.init)
    var start = 0
    while start < scalars.count {
      var text = ""
      text.unicodeScalars.append(contentsOf: scalars[start..<min(start + 64, scalars.count)])
      var writer = JSONWriter()
      writer.string(text)
      let expected = try Self.encoded(text)
      if writer.text != expected {
        Issue.record("scalars from U+\(String(scalars[start].value, radix: 16)): \(writer.text) != \(expected)")
      }
      start += 64
    }
    let decoded = String(decoding: [0x61, 0xFF, 0xC3, 0x28, 0xED, 0xA0, 0x80, 0xF4, 0x90, 0x80, 0x80], as: UTF8.self)
    var writer = JSONWriter()
    writer.string(decoded)
    #expect(writer.text == (try Self.encoded(decoded)))
  }

  /// Mostly plain ASCII, with a character to escape here and there: the eight-bytes-at-a-time
  /// scan must stop at every one of them.
  @Test func mostlyPlainStringsAreEscapedAsBefore() throws {
    let plain = Array("abcdefghijklmnopqrstuvwxyz0123456789 /-_.:ABC".unicodeScalars)
    let special = Array("\"\\\u{0}\u{1F}\n\t\u{7F}\u{80}é\u{202E}😀~ ".unicodeScalars)
    var generator = SystemRandomNumberGenerator()
    for _ in 0..<3000 {
      var text = ""
      for _ in 0..<Int.random(in: 0...40, using: &generator) {
        let pool = Int.random(in: 0..<12, using: &generator) == 0 ? special : plain
        text.unicodeScalars.append(pool[Int.random(in: 0..<pool.count, using: &generator)])
      }
      var writer = JSONWriter()
      writer.string(text)
      let expected = try Self.encoded(text)
      if writer.text != expected { Issue.record("\(writer.text) != \(expected)") }
    }
    var writer = JSONWriter()
    writer.beginObject()
    writer.addressField("a", .v4(0xC0A8_0102))
    writer.addressField("b", .anyV4)
    writer.addressField("c", IPAddress("::ffff:10.0.0.1") ?? .anyV6)
    writer.endObject()
    #expect(writer.text == "{\n  \"a\" : \"192.168.1.2\",\n  \"b\" : \"0.0.0.0\",\n  \"c\" : \"::ffff:10.0.0.1\"\n}")
  }

  @Test func datesMatchFoundationsISO8601() {
    var epochs: [Double] = [
      0, 0.5, 1, 59.999, 86_399.999, 86_400, 951_782_400, 951_868_799.5, 1_700_000_000.25, 1_709_251_199,
      4_102_444_800, 253_402_300_799.9, 253_402_300_800, 1e12, -1, -0.5, -86_400, -62_135_596_800,
    ]
    var generator = SystemRandomNumberGenerator()
    for _ in 0..<2000 { epochs.append(Double.random(in: 0..<253_402_300_800, using: &generator)) }
    for epoch in epochs {
      #expect(JSONOutput.iso8601(epoch) == Date(timeIntervalSince1970: epoch).formatted(.iso8601), "\(epoch)")
      var writer = JSONWriter()
      writer.date(epoch)
      #expect(writer.text == "\"\(Date(timeIntervalSince1970: epoch).formatted(.iso8601))\"", "\(epoch)")
    }
  }

  @Test func emptyAndNestedContainersAreLaidOutAsTheEncoderLaysThemOut() throws {
    struct Shape: Encodable {
      var a: [Int] = []
      var b: [String: Int] = [:]
      var c: [[String]] = [[], ["x"]]
      var d: [String: [String: Int]] = ["k": [:], "j": ["z": 1, "Z": 2, "é": 3, "e": 4]]
    }
    var writer = JSONWriter()
    writer.beginObject()
    writer.field("a", [Int]())
    writer.field("b", [String: Int]())
    writer.key("c")
    writer.beginArray()
    writer.beginArray()
    writer.endArray()
    writer.beginArray()
    writer.string("x")
    writer.endArray()
    writer.endArray()
    writer.key("d")
    writer.beginObject()
    writer.field("j", ["z": 1, "Z": 2, "é": 3, "e": 4])
    writer.field("k", [String: Int]())
    writer.endObject()
    writer.endObject()
    #expect(writer.text == (try Self.encoded(Shape())))
  }

  @Test func compactLayoutIsTheEncodersWithoutPrettyPrinting() throws {
    struct Shape: Encodable {
      var a: [Int] = []
      var b: [String: Int] = [:]
      var c: [[String]] = [[], ["x", "y \"z\""]]
      var d: Double = 0.25
    }
    var compact = JSONWriter(compact: true)
    compact.beginObject()
    compact.field("a", [Int]())
    compact.field("b", [String: Int]())
    compact.key("c")
    compact.beginArray()
    compact.beginArray()
    compact.endArray()
    compact.beginArray()
    compact.string("x")
    compact.string("y \"z\"")
    compact.endArray()
    compact.endArray()
    compact.field("d", 0.25)
    compact.endObject()
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    #expect(compact.text == String(decoding: try encoder.encode(Shape()), as: UTF8.self))
  }

  /// `list --json` and `who --json` write through a sink in chunks: the same bytes as the
  /// whole text, whatever the chunk size.
  @Test(arguments: [1, 7, 100, 4096])
  func chunkedOutputIsTheSameText(chunkSize: Int) throws {
    for (name, document) in DocumentFixtures.reportDocuments {
      var chunks: [UInt8] = []
      var count = 0
      var writer = JSONWriter(chunkSize: chunkSize) { chunk in
        chunks.append(contentsOf: chunk)
        count += 1
      }
      document.write(to: &writer, sockets: document.report.sockets)
      writer.newline()
      writer.finish()
      #expect(String(decoding: chunks, as: UTF8.self) == JSONOutput.text(document) + "\n", "\(name)")
      if chunkSize <= 100 && !document.report.sockets.isEmpty { #expect(count > 1, "\(name)") }
    }
  }
}

/// ``Project/name``, found from the end of the root's bytes, names what splitting the root
/// at slashes names.
@Test func projectNameIsTheRootsLastComponent() {
  for root in [
    "/srv/site", "/srv/site/", "/srv/site//", "/", "//", "///", "", "site", "/a", "a/", "/é/漢字", "/x/😀/", "/ /",
  ] {
    let trimmed = root.hasSuffix("/") && root.count > 1 ? String(root.dropLast()) : root
    let expected = trimmed.split(separator: "/").last.map(String.init) ?? trimmed
    #expect(Project(root: root).name == expected, "\(root)")
  }
}
