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

  /// The code lines of `lines` a Windows build compiles: `#if`, `#elseif` and `#else` taken
  /// as a Swift compiler targeting Windows takes them.
  static func windowsLines(_ lines: [Substring]) -> [Substring] {
    var stack: [(outer: Bool, taken: Bool)] = []
    var active = true
    var kept: [Substring] = []
    for line in lines {
      let directive = line.trimmingCharacters(in: .whitespaces)
      if directive.hasPrefix("#if ") {
        let holds = WindowsCondition.holds(directive.dropFirst(4))
        stack.append((active, holds))
        active = active && holds
      } else if directive.hasPrefix("#elseif "), let top = stack.popLast() {
        let holds = !top.taken && WindowsCondition.holds(directive.dropFirst(8))
        stack.append((top.outer, top.taken || holds))
        active = top.outer && holds
      } else if directive == "#else", let top = stack.popLast() {
        stack.append((top.outer, true))
        active = top.outer && !top.taken
      } else if directive == "#endif", let top = stack.popLast() {
        active = top.outer
      } else if active {
        kept.append(line)
      }
    }
    return kept
  }

  @Test func windowsConditionsAreEvaluatedAsAWindowsBuildWould() {
    let text = """
      a
      #if canImport(Glibc)
      glibc
      #elseif canImport(Darwin)
      darwin
      #elseif os(Windows)
      windows
      #if !os(Windows) || canImport(Glibc)
      never
      #else
      nested
      #endif
      #endif
      #if os(Linux) || (os(macOS) && canImport(CRT))
      posix
      #else
      other
      #endif
      z
      """
    #expect(Self.windowsLines(Self.codeLines(text)) == ["a", "windows", "nested", "other", "z"])
    #expect(WindowsCondition.holds("canImport(WinSDK) && !os(Linux)"))
    #expect(!WindowsCondition.holds("canImport(Glibc) || canImport(Darwin)"))
  }

  /// On Windows the Swift `errno` is declared in the CRT overlay; `ucrt` (the C runtime's
  /// Clang module, which CRT re-exports) has none, and the C runtime marks `getenv`
  /// deprecated (an error with warnings as errors). Checked on what a Windows build compiles.
  @Test func windowsBuildsImportTheCRTOverlayAndAvoidDeprecatedCalls() throws {
    let files = try Self.sourceFiles()
    #expect(files.contains("Sources/portctl/Rendering/ListTable.swift"))
    var readers: [String] = []
    for file in files {
      let lines = Self.windowsLines(Self.codeLines(try Self.text(file)))
      #expect(!lines.contains { $0.contains("import ucrt") }, "\(file) imports ucrt, which has no errno: import CRT")
      #expect(
        !lines.contains { $0.contains("getenv(") && $0.contains(/\bgetenv\(/) }, "\(file) calls getenv on Windows")
      // A file that declares a value named errno (a property, a parameter) means its own.
      // (Regexes only on the few lines that name errno: they are slow on every line.)
      let naming = lines.filter { $0.contains("errno") }
      let declaresOwn = naming.contains { $0.contains(/\b(var|let)\s+errno\b|\berrno:\s*Int32/) }
      let reads = naming.contains { $0.contains(/\berrno\s*(==|!=|=[^=])|=\s*errno\b/) }
      guard reads, !declaresOwn else { continue }
      readers.append(file)
      #expect(lines.contains { $0.contains(/import CRT\b/) }, "\(file) reads errno but imports no CRT on Windows")
    }
    #expect(readers.contains("Sources/portctl/Rendering/ListTable.swift"))
    #expect(readers.contains("Sources/portctl/Rendering/Terminal.swift"))
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

/// A `#if` condition as a Swift compiler targeting Windows evaluates it: `os(Windows)` and
/// the Windows modules hold, other systems and their modules do not; `!`, `&&`, `||` and
/// parentheses combine them. Anything else (a flag, `compiler(…)`) is taken to hold.
enum WindowsCondition {
  static let windowsModules: Set<String> = ["CRT", "ucrt", "WinSDK"]

  static func holds(_ condition: some StringProtocol) -> Bool {
    var rest = Substring(condition.trimmingCharacters(in: .whitespaces))
    return disjunction(&rest)
  }

  private static func disjunction(_ rest: inout Substring) -> Bool {
    var value = conjunction(&rest)
    while skip("||", &rest) { value = conjunction(&rest) || value }
    return value
  }

  private static func conjunction(_ rest: inout Substring) -> Bool {
    var value = term(&rest)
    while skip("&&", &rest) { value = term(&rest) && value }
    return value
  }

  private static func term(_ rest: inout Substring) -> Bool {
    if skip("!", &rest) { return !term(&rest) }
    if skip("(", &rest) {
      let value = disjunction(&rest)
      _ = skip(")", &rest)
      return value
    }
    let name = rest.prefix { $0.isLetter || $0.isNumber || $0 == "_" }
    rest = rest.dropFirst(name.count)
    var argument = ""
    if skip("(", &rest) {
      let inside = rest.prefix { $0 != ")" }
      argument = inside.trimmingCharacters(in: .whitespaces)
      rest = rest.dropFirst(inside.count)
      _ = skip(")", &rest)
    }
    switch name {
    case "os": return argument == "Windows"
    case "canImport": return windowsModules.contains(argument)
    default: return true
    }
  }

  private static func skip(_ token: String, _ rest: inout Substring) -> Bool {
    rest = rest.drop { $0 == " " }
    guard rest.hasPrefix(token) else { return false }
    rest = rest.dropFirst(token.count).drop { $0 == " " }
    return true
  }
}
#endif
