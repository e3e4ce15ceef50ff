import Foundation
import Testing

@testable import CommandDocuments
@testable import PortKit

/// The `--json` documents of `who`, `why`, `list`, `kill`, `free` and `wait`, compared byte for
/// byte with the files in `Golden/`. Those files were written by the JSONEncoder-based
/// encoding these documents had before they were written directly (see the commit that added
/// them); `PORTCTL_UPDATE_GOLDEN=1` rewrites them.
@Suite struct GoldenDocumentTests {
  static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden")

  static func check(_ name: String, _ text: String, extension: String = "json") throws {
    let file = directory.appendingPathComponent(name + "." + `extension`)
    if ProcessInfo.processInfo.environment["PORTCTL_UPDATE_GOLDEN"] == "1" {
      try Data((text + "\n").utf8).write(to: file)
      return
    }
    let golden = try Data(contentsOf: file)
    let produced = Data((text + "\n").utf8)
    if golden != produced {
      let goldenLines = String(decoding: golden, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
      let producedLines = produced.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        .map { String(decoding: $0, as: UTF8.self) }
      let line =
        zip(goldenLines, producedLines).enumerated().first { $0.element.0 != $0.element.1 }?.offset
        ?? min(goldenLines.count, producedLines.count)
      let expected = line < goldenLines.count ? String(goldenLines[line]) : "<end>"
      let got = line < producedLines.count ? producedLines[line] : "<end>"
      Issue.record(
        "\(name): differs from Golden/\(name).\(`extension`) at line \(line + 1): expected \(expected), got \(got)")
    }
  }

  @Test(arguments: DocumentFixtures.reportDocuments.map(\.0))
  func reportDocument(_ name: String) throws {
    let document = try #require(DocumentFixtures.reportDocuments.first { $0.0 == name }?.1)
    try Self.check(name, JSONOutput.text(document))
  }

  @Test(arguments: DocumentFixtures.terminationDocuments.map(\.0))
  func terminationDocument(_ name: String) throws {
    let document = try #require(DocumentFixtures.terminationDocuments.first { $0.0 == name }?.1)
    try Self.check(name, JSONOutput.text(document))
  }

  @Test(arguments: DocumentFixtures.checkDocuments.map(\.0))
  func checkDocument(_ name: String) throws {
    let document = try #require(DocumentFixtures.checkDocuments.first { $0.0 == name }?.1)
    try Self.check(name, JSONOutput.text(document))
  }

  @Test(arguments: DocumentFixtures.explainDocuments.map(\.0))
  func explainDocument(_ name: String) throws {
    let document = try #require(DocumentFixtures.explainDocuments.first { $0.0 == name }?.1)
    try Self.check(name, JSONOutput.text(document))
  }

  @Test(arguments: DocumentFixtures.waitDocuments.map(\.0))
  func waitDocument(_ name: String) throws {
    let document = try #require(DocumentFixtures.waitDocuments.first { $0.0 == name }?.1)
    try Self.check(name, JSONOutput.text(document))
  }
}
