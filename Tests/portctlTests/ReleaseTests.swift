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

  /// Every version the packaging files name (not the formats' own, such as winget's
  /// ManifestVersion), so that they cannot drift from the one constant.
  @Test func thePackagingFilesNameTheOneVersion() throws {
    let version = PortctlVersion.current
    let tag = "/v\(version)/"
    let formula = try ReleaseFiles.text("packaging/homebrew/portctl.rb")
    #expect(
      formula.contains(
        "url \"https://github.com/portctl/portctl/releases/download\(tag)portctl-\(version)-source.tar.gz\""))
    #expect(formula.components(separatedBy: "/download/v").count == 2, "one download URL in the formula")

    let scoop = try #require(
      try JSONSerialization.jsonObject(with: Data(ReleaseFiles.text("packaging/scoop/portctl.json").utf8))
        as? [String: Any])
    #expect(scoop["version"] as? String == version)
    let architectures = try #require(scoop["architecture"] as? [String: [String: Any]])
    let url = try #require(architectures["64bit"]?["url"] as? String)
    #expect(url.contains(tag) && url.hasSuffix("portctl-\(version)-windows-x86_64.zip"), "\(url)")

    for file in ["portctl.portctl.yaml", "portctl.portctl.installer.yaml", "portctl.portctl.locale.en-US.yaml"] {
      let manifest = try ReleaseFiles.text("packaging/winget/\(file)")
      let versions = manifest.split(separator: "\n").filter { $0.hasPrefix("PackageVersion:") }
      #expect(versions == ["PackageVersion: \(version)"], "\(file)")
      for line in manifest.split(separator: "\n") where line.contains("InstallerUrl:") {
        #expect(line.contains(tag) && line.hasSuffix("portctl-\(version)-windows-x86_64.zip"), "\(line)")
      }
    }
  }

  @Test func theReadmeInstallsTheOneVersionAndTestsWithSwiftTest() throws {
    let readme = try ReleaseFiles.text("README.md")
    let install = try #require(readme.range(of: "## Install\n"))
    let quickStart = try #require(readme.range(of: "## Quick start\n"))
    #expect(install.lowerBound < quickStart.lowerBound, "Install comes first")
    #expect(readme.contains("`make install`"))
    #expect(readme.contains("portctl_\(PortctlVersion.current)_amd64.deb"))
    #expect(readme.contains("swift test                      # unit and end-to-end tests"))
    #expect(readme.contains("swift run portctl list"))
    // CI runs exactly the README's test command.
    let ci = try ReleaseFiles.text(".ci/run")
    #expect(ci.split(separator: "\n").contains("swift test"))
  }

  /// The Makefile (which names the .deb) reads the version from the same constant.
  @Test(.enabled(if: RealServers.tool("make") != nil || InstallTests.isCI, "needs make"))
  func theMakefileReadsTheOneVersion() throws {
    let result = try run(
      URL(fileURLWithPath: "/usr/bin/env"),
      ["make", "-s", "--no-print-directory", "-C", ReleaseFiles.root.path, "version"])
    #expect(result.status == 0)
    #expect(result.stdout == PortctlVersion.current + "\n", "\(result)")
  }

  @Test func theLicenseIsMIT() throws {
    let license = try ReleaseFiles.text("LICENSE")
    #expect(license.hasPrefix("MIT License\n"))
    #expect(license.contains("Copyright (c) 2026 the portctl authors"))
  }
}

/// `make install` into a temporary prefix, from this package, and `make uninstall`: a release
/// build (minutes the first time; later runs reuse `.build-install`).
@Suite(.serialized) struct InstallTests {
  static let isCI = ProcessInfo.processInfo.environment["CI"] == "true"
  static let tools = ["make", "man", "bash"]
  static let canRun = isCI || tools.allSatisfy { RealServers.tool($0) != nil }

  /// The files `make install` puts under the prefix.
  static let installed = [
    "bin/portctl", "bin/portctl-mcp", "share/man/man1/portctl.1",
    "share/bash-completion/completions/portctl", "share/zsh/site-functions/_portctl",
    "share/fish/vendor_completions.d/portctl.fish",
  ]

  /// Runs `make TARGET` in the package with PREFIX and its own scratch path (`swift test` holds
  /// the lock on `.build`), within 20 minutes, niced below the other tests. It waits on a thread
  /// of its own: a release build takes minutes, and blocking one of the few threads Swift
  /// concurrency has (two on a 2-core machine) for that long would starve the tests beside it.
  func make(_ target: String, prefix: URL) async throws -> RunResult {
    var path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
    if RealServers.tool("swift") == nil { path = "/opt/swift/usr/bin:" + path }
    let arguments = [
      "-n", "10", "/usr/bin/timeout", "1200", "make", "-C", ReleaseFiles.root.path, target, "PREFIX=\(prefix.path)",
      "SCRATCH_PATH=\(ReleaseFiles.root.appendingPathComponent(".build-install").path)",
    ]
    let environment = ["PATH": path]
    return try await withCheckedThrowingContinuation { continuation in
      Thread {
        continuation.resume(
          with: Result {
            try run(URL(fileURLWithPath: "/usr/bin/nice"), arguments, environment: environment)
          })
      }.start()
    }
  }

  @Test(.enabled(if: canRun, "needs make, man and bash (CI=true makes their absence a failure)"))
  func makeInstallPutsAWorkingPortctlItsManPageAndCompletionsInThePrefix() async throws {
    for tool in Self.tools { #expect(RealServers.tool(tool) != nil, "\(tool) is not installed") }
    let prefix = try RealServers.directory("prefix")
    defer { try? FileManager.default.removeItem(at: prefix) }

    let install = try await make("install", prefix: prefix)
    try #require(install.status == 0, "make install: \(install.status)\n\(install.stdout)\n\(install.stderr)")
    for file in Self.installed {
      #expect(FileManager.default.fileExists(atPath: prefix.appendingPathComponent(file).path), "\(file)")
    }

    let bin = prefix.appendingPathComponent("bin")
    let version = try run(bin.appendingPathComponent("portctl"), ["--version"])
    #expect(version.status == 0 && version.stdout == PortctlVersion.current + "\n", "\(version)")
    let server = try run(bin.appendingPathComponent("portctl-mcp"), ["--version"])
    #expect(server.status == 0 && server.stdout == PortctlVersion.current + "\n", "\(server)")
    // The Swift runtime is linked in: neither binary needs a libswift*.so.
    for binary in ["portctl", "portctl-mcp"] {
      let libraries = try run(URL(fileURLWithPath: "/usr/bin/ldd"), [bin.appendingPathComponent(binary).path])
      #expect(libraries.status == 0 && !libraries.stdout.contains("libswift"), "\(binary): \(libraries.stdout)")
    }

    // The man page renders, and it is the one generated from the command definitions: it has
    // the subcommands' abstracts.
    let page = prefix.appendingPathComponent("share/man/man1/portctl.1").path
    let manual = try run(
      URL(fileURLWithPath: "/usr/bin/env"), ["MANWIDTH=100", "man", "-P", "cat", "-l", page])
    #expect(manual.status == 0, "\(manual.stderr)")
    #expect(manual.stdout.contains("portctl"))
    #expect(manual.stdout.contains("Find out who holds a port, and why."), "\(manual.stdout.prefix(500))")
    for subcommand in ["who", "list", "why", "check", "kill", "free", "find", "wait", "explain", "run", "mcp"] {
      #expect(manual.stdout.contains("\n     \(subcommand)"), "no \(subcommand) in the man page")
    }

    // The bash completion loads and completes portctl's subcommands.
    let completion = prefix.appendingPathComponent("share/bash-completion/completions/portctl").path
    let bash = try run(
      URL(fileURLWithPath: "/bin/bash"), ["-c", "source \"$1\"; complete -p portctl", "bash", completion])
    #expect(bash.status == 0 && bash.stdout.contains("portctl"), "\(bash)")

    let uninstall = try await make("uninstall", prefix: prefix)
    #expect(uninstall.status == 0, "make uninstall: \(uninstall.stderr)")
    for file in Self.installed {
      #expect(!FileManager.default.fileExists(atPath: prefix.appendingPathComponent(file).path), "\(file) left")
    }
  }
}
#endif
