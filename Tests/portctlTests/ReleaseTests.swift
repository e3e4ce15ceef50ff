#if os(Linux)
import Foundation
import PortKit
import Testing

/// The files a release is made from, read from the package this test was built from.
enum ReleaseFiles {
  /// The package's root directory.
  static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

  /// The text of `path`, relative to the package root.
  static func text(_ path: String) throws -> String {
    try String(contentsOf: root.appendingPathComponent(path), encoding: .utf8)
  }

  /// The version of the CHANGELOG's newest release: the first `## [X.Y.Z]` heading that is not
  /// `[Unreleased]`.
  static func changelogVersion() throws -> String? {
    for line in try text("CHANGELOG.md").split(separator: "\n") where line.hasPrefix("## [") {
      let name = line.dropFirst(4).prefix { $0 != "]" }
      if name != "Unreleased" { return String(name) }
    }
    return nil
  }
}

/// The version is written once (Sources/PortKit/Version.swift); everything that shows one shows
/// that.
@Suite struct VersionTests {
  @Test func portctlAndTheMCPServerPrintTheOneVersionTheChangelogReleases() throws {
    let version = PortctlVersion.current
    #expect(version.split(separator: ".").count == 3 && version.split(separator: ".").allSatisfy { Int($0) != nil })

    let cli = try portctl("--version")
    #expect(cli.status == 0)
    #expect(cli.stdout == version + "\n")

    let server = try run(Products.directory.appendingPathComponent("portctl-mcp"), ["--version"])
    #expect(server.status == 0)
    #expect(server.stdout == version + "\n")

    let session = try MCPSession()
    let initialized = try session.initialize()
    let serverInfo = try #require(initialized["serverInfo"] as? [String: Any], "\(initialized)")
    #expect(serverInfo["version"] as? String == version)
    #expect(session.finish() == 0)

    #expect(try ReleaseFiles.changelogVersion() == version)
  }

  @Test func theLicenseIsMIT() throws {
    let license = try ReleaseFiles.text("LICENSE")
    #expect(license.hasPrefix("MIT License\n"))
    #expect(license.contains("Copyright (c) 2026 the portctl authors"))
  }
}
#endif
