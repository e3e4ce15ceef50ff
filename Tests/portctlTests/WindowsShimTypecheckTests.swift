#if os(Linux)
import Foundation
import Testing

/// The one Swift file that calls Windows (`WindowsNative.swift`) is compiled only on
/// Windows. Here it is type-checked against CPortSys.h with its `#ifdef _WIN32` part turned
/// on, together with the `WindowsCalls` seam it implements, so that a change to either side
/// of the contract shows up on Linux too.
@Suite struct WindowsShimTypecheckTests {
  static let sources = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("Sources")

  /// swiftc from PATH, else beside the toolchain in /opt/swift.
  static let swiftc: String? = {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
    let candidates = path.split(separator: ":").map { "\($0)/swiftc" } + ["/opt/swift/usr/bin/swiftc"]
    return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
  }()

  static let required = ProcessInfo.processInfo.environment["CI"] == "true"

  @Test(.enabled(if: swiftc != nil || required, "needs swiftc"))
  func shimTypechecksAgainstTheHeader() throws {
    let swiftc = try #require(Self.swiftc, "swiftc is needed (CI=true)")
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
      "portctl-shim-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString)")
    let include = directory.appendingPathComponent("include")
    try FileManager.default.createDirectory(at: include, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }

    var header = try String(
      contentsOf: Self.sources.appendingPathComponent("CPortSys/include/CPortSys.h"), encoding: .utf8)
    let windowsPart = try #require(header.range(of: "#ifdef _WIN32\n"), "CPortSys.h has no _WIN32 part")
    header.replaceSubrange(windowsPart, with: "#if 1\n")
    // The Linux part needs Linux's syscall headers only; it is not part of this check.
    let linuxPart = try #require(header.range(of: "#ifdef __linux__"))
    header = String(header[..<linuxPart.lowerBound]) + "#endif\n"
    try header.write(to: include.appendingPathComponent("CPortSys.h"), atomically: true, encoding: .utf8)
    try "module CPortSys {\n  header \"CPortSys.h\"\n  export *\n}\n".write(
      to: include.appendingPathComponent("module.modulemap"), atomically: true, encoding: .utf8)

    let windows = Self.sources.appendingPathComponent("PortKit/Platform/Windows")
    var shim = try String(contentsOf: windows.appendingPathComponent("WindowsNative.swift"), encoding: .utf8)
    let opening = try #require(shim.range(of: "#if os(Windows)\n"), "the shim is not wrapped in #if os(Windows)")
    shim.removeSubrange(opening)
    let closing = try #require(shim.range(of: "#endif", options: .backwards))
    shim.removeSubrange(closing)
    try shim.write(to: directory.appendingPathComponent("WindowsNative.swift"), atomically: true, encoding: .utf8)
    // What the seam's file uses from the rest of PortKit.
    try "enum TransportProtocol: Hashable { case tcp, udp }\n".write(
      to: directory.appendingPathComponent("Stubs.swift"), atomically: true, encoding: .utf8)

    let result = try run(
      URL(fileURLWithPath: swiftc),
      [
        "-typecheck", "-swift-version", "6", "-I", include.path,
        directory.appendingPathComponent("WindowsNative.swift").path,
        windows.appendingPathComponent("WindowsCalls.swift").path, directory.appendingPathComponent("Stubs.swift").path,
      ])
    #expect(result.status == 0, "swiftc -typecheck failed:\n\(result.stderr)")
  }
}
#endif
