import Testing

@testable import PortKit

/// Every message of `Fixtures/explain-corpus` (captured here, and quoted from public bug
/// reports of Windows and macOS programs) read as its manifest, `corpus.tsv`, says: the kind,
/// the port, the address, the protocol and the program. `bench/explain_corpus.py` gives the
/// same comparison as rates, for messages outside the repository too.
@Suite struct ExplainCorpusTests {
  struct Row: CustomTestStringConvertible, Sendable {
    var file: String
    var kind: String
    var port: String
    var address: String
    var proto: String
    var program: String
    var testDescription: String { file }
  }

  static let rows: [Row] = {
    guard let bytes = try? fixture("explain-corpus/corpus.tsv") else { return [] }
    let lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n")
    let header = lines.first.map { $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init) } ?? []
    return lines.dropFirst().map { line in
      let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
      let value = { (name: String) in header.firstIndex(of: name).map { fields[$0] } ?? "" }
      return Row(
        file: value("file"), kind: value("kind"), port: value("port"), address: value("address"),
        proto: value("protocol"), program: value("program"))
    }
  }()

  @Test func everyShapeCompiles() {
    #expect(BindEndpoints.shapes.allSatisfy { $0.regex != nil })
  }

  @Test func theManifestListsEveryMessage() throws {
    #expect(Self.rows.count >= 350)
    #expect(Set(Self.rows.map(\.file)).count == Self.rows.count)
    let kinds: Set<String> = ["in-use", "permission", "address-not-available", "connect-side", "unstated"]
    for row in Self.rows {
      #expect(kinds.contains(row.kind), "\(row.file): kind \(row.kind)")
      #expect(["tcp", "udp", "unknown"].contains(row.proto), "\(row.file): protocol \(row.proto)")
      #expect(row.port.isEmpty || UInt16(row.port) != nil, "\(row.file): port \(row.port)")
    }
  }

  @Test(arguments: rows)
  func readsAsTheManifestSays(_ row: Row) throws {
    let text = String(decoding: try fixture("explain-corpus/\(row.file)"), as: UTF8.self)
    let parsed = BindErrorParser.parse(ErrorExcerpt.focus(text))
    if row.kind == "unstated" {
      // The message does not say why the bind failed: no cause may be claimed.
      #expect(parsed == nil || parsed?.kind == .unspecified, "\(String(describing: parsed?.kind))")
      guard parsed != nil else { return }
    }
    let failure = try #require(parsed)
    switch row.kind {
    case "in-use":
      #expect(failure.kind == .addressInUse)
      #expect(failure.operation == .bind)
    case "permission":
      #expect(failure.kind == .permissionDenied || failure.kind == .accessForbidden)
      #expect(failure.operation == .bind)
    case "address-not-available":
      #expect(failure.kind == .addressNotAvailable)
      #expect(failure.operation == .bind)
    case "connect-side":
      #expect(failure.operation == .connect)
    default:
      #expect(failure.kind == .unspecified)
    }
    #expect(failure.port == UInt16(row.port))
    let address = failure.address?.description ?? failure.host
    #expect(address == (row.address.isEmpty ? nil : row.address.trimmingBrackets))
    if row.proto != "unknown" { #expect(failure.proto?.rawValue == row.proto) }
    #expect(failure.runtime == (row.program == "program" ? KnownPrograms.unnamed : row.program))
  }
}

extension String {
  fileprivate var trimmingBrackets: String {
    hasPrefix("[") && hasSuffix("]") ? String(dropFirst().dropLast()) : self
  }
}
