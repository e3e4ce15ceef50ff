// swift-tools-version: 6.2
import PackageDescription

// CI (.ci/run, .github/workflows/ci.yml) sets PORTCTL_WARNINGS_AS_ERRORS: our own targets then
// build with every warning an error. Dependencies are not affected (the settings belong to
// these targets), and without the variable a package that depends on PortKit builds it as
// usual (Xcode rejects -warnings-as-errors next to the -suppress-warnings it gives
// dependencies).
let strict = Context.environment["PORTCTL_WARNINGS_AS_ERRORS"].map { !$0.isEmpty && $0 != "0" } ?? false
let swiftSettings: [SwiftSetting] = strict ? [.treatAllWarnings(as: .error)] : []
let cSettings: [CSetting] = strict ? [.treatAllWarnings(as: .error)] : []

let package = Package(
  name: "portctl",
  platforms: [.macOS(.v13)],
  products: [
    .executable(name: "portctl", targets: ["portctl"]),
    .executable(name: "portctl-mcp", targets: ["portctl-mcp"]),
    .library(name: "PortKit", targets: ["PortKit"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
    // Runs lsof, ps, netstat, tasklist, netsh and taskkill; its Foundation trait is off to
    // keep Foundation out of start-up.
    .package(url: "https://github.com/swiftlang/swift-subprocess", from: "1.0.2", traits: []),
    // The Model Context Protocol SDK: only `portctl-mcp` links it, so `portctl` starts as fast.
    .package(url: "https://github.com/modelcontextprotocol/swift-sdk", from: "0.12.1"),
  ],
  targets: [
    .target(
      name: "PortKit",
      dependencies: [
        "CPortSys",
        .product(name: "SystemPackage", package: "swift-system"),
        .product(name: "Subprocess", package: "swift-subprocess"),
      ],
      swiftSettings: swiftSettings
    ),
    // windows.c (built on Windows only) reads the IP Helper tables, process tokens and the
    // service manager, and probes binds through Winsock.
    .target(
      name: "CPortSys", cSettings: cSettings,
      linkerSettings: [
        .linkedLibrary("iphlpapi", .when(platforms: [.windows])),
        .linkedLibrary("ws2_32", .when(platforms: [.windows])),
        .linkedLibrary("advapi32", .when(platforms: [.windows])),
      ]),
    // The live view's terminal handling and layout (`portctl ui`): presentation only.
    .target(name: "LiveView", dependencies: ["PortKit"], swiftSettings: swiftSettings),
    // The `--json` documents (docs/json.md), shared by `portctl` and `portctl-mcp`.
    .target(name: "CommandDocuments", dependencies: ["PortKit"], swiftSettings: swiftSettings),
    .executableTarget(
      name: "portctl",
      dependencies: [
        "PortKit",
        "LiveView",
        "CommandDocuments",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ],
      swiftSettings: swiftSettings
    ),
    // `portctl mcp` execs this: a Model Context Protocol server over stdio. The MCP SDK is linked
    // here only, so it adds nothing to `portctl`'s start-up.
    .executableTarget(
      name: "portctl-mcp",
      dependencies: [
        "PortKit",
        "CommandDocuments",
        .product(name: "MCP", package: "swift-sdk"),
      ],
      swiftSettings: swiftSettings
    ),
    // Test fixture, not a product: opens sockets on request and holds them.
    .executableTarget(name: "port-holder", swiftSettings: swiftSettings),
    .testTarget(
      name: "PortKitTests", dependencies: ["PortKit"], resources: [.copy("Fixtures")], swiftSettings: swiftSettings),
    .testTarget(name: "portctlTests", dependencies: ["PortKit", "LiveView"], swiftSettings: swiftSettings),
    // The documents compared with golden files written by the earlier, JSONEncoder-based encoding.
    .testTarget(
      name: "CommandDocumentsTests", dependencies: ["CommandDocuments", "PortKit"], exclude: ["Golden"],
      swiftSettings: swiftSettings),
  ],
  swiftLanguageModes: [.v6]
)
