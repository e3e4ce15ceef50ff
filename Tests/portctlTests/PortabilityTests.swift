#if os(Linux)
import Foundation
import Testing

/// What the Windows and macOS builds need from the sources, checked where they cannot be
/// compiled: these read the repository's files, not the built program.
@Suite struct PortabilityTests {
  /// The repository's root, from this file's place in it.
  static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

  static func text(_ path: String) throws -> String {
    try String(contentsOf: root.appendingPathComponent(path), encoding: .utf8)
  }

  /// Every Swift file under `Sources`, by path relative to the root.
  static func sourceFiles() throws -> [String] {
    let sources = root.appendingPathComponent("Sources")
    let enumerator = try #require(FileManager.default.enumerator(atPath: sources.path))
    return enumerator.compactMap { $0 as? String }.filter { $0.hasSuffix(".swift") }.sorted()
      .map { "Sources/\($0)" }
  }

  /// The lines of `text` that are code: `//` comments dropped.
  static func codeLines(_ text: String) -> [Substring] {
    text.split(separator: "\n", omittingEmptySubsequences: false).map { line in
      line.firstRange(of: "//").map { line[..<$0.lowerBound] } ?? line[...]
    }
  }

  /// On Windows the Swift `errno` is declared in the CRT overlay; `ucrt` (the C runtime's
  /// Clang module, which CRT re-exports) has none. A file whose Windows branch imports `ucrt`
  /// and reads `errno` does not compile there.
  @Test func windowsBranchesImportTheCRTOverlay() throws {
    let files = try Self.sourceFiles()
    #expect(files.contains("Sources/portctl/Rendering/ListTable.swift"))
    for file in files {
      let lines = Self.codeLines(try Self.text(file))
      #expect(!lines.contains { $0.contains("import ucrt") }, "\(file) imports ucrt, which has no errno: import CRT")
      // A file with POSIX imports chosen by `#if canImport(Glibc)` that is not wrapped whole in
      // a non-Windows condition is compiled on Windows too: its `errno` needs CRT there.
      let code = lines.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
      let wrappedWhole =
        code.first.map { $0.hasPrefix("#if ") && !$0.contains("Windows") } == true && code.last == "#endif"
      let importsGlibc = code.contains("#if canImport(Glibc)")
      let readsErrno = lines.contains { $0.contains(/\berrno\s*(==|!=|=[^=])|=\s*errno\b/) }
      guard !wrappedWhole, importsGlibc, readsErrno else { continue }
      #expect(lines.contains { $0.hasPrefix("#elseif os(Windows)") }, "\(file): no Windows import branch")
      #expect(lines.contains { $0.contains("import CRT") }, "\(file) reads errno but imports no CRT on Windows")
    }
  }

  /// Package.swift, the README and the CI workflow agree on Swift 6.2 as the floor, and the
  /// workflow's macOS and Windows jobs run on the images that have it.
  @Test func swiftFloorIsTheSameEverywhere() throws {
    let package = try Self.text("Package.swift")
    #expect(package.hasPrefix("// swift-tools-version: 6.2\n"))
    // The example depends on PortKit, so it cannot ask for less.
    #expect(try Self.text("Examples/BindDiagnosis/Package.swift").hasPrefix("// swift-tools-version: 6.2\n"))
    let readme = try Self.text("README.md")
    #expect(readme.contains("Needs Swift 6.2 or later"))
    let workflow = try Self.text(".github/workflows/ci.yml")
    #expect(workflow.contains("os: [macos-26, windows-latest]"))
    let versions = workflow.matches(of: /swift-version: "([0-9.]+)"/).map { String($0.output.1) }
    #expect(versions == ["6.3.1", "6.2"], "linux, then macOS and Windows: \(versions)")
    for (name, text) in [("Package.swift", package), ("README.md", readme), ("ci.yml", workflow)] {
      #expect(!text.contains(/Swift 6\.1\b|swift-tools-version: 6\.1|swift-version: "6\.1/), "\(name) names 6.1")
    }
  }
}
#endif
