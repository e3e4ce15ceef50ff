// swift-tools-version: 6.1
import PackageDescription

let package = Package(
  name: "portctl",
  platforms: [.macOS(.v13)],
  products: [
    .executable(name: "portctl", targets: ["portctl"]),
    .library(name: "PortKit", targets: ["PortKit"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
    // Runs lsof, ps, netstat, tasklist, netsh and taskkill; its Foundation trait is off to
    // keep Foundation out of start-up.
    .package(url: "https://github.com/swiftlang/swift-subprocess", from: "1.0.2", traits: []),
  ],
  targets: [
    .target(
      name: "PortKit",
      dependencies: [
        "CPortSys",
        .product(name: "SystemPackage", package: "swift-system"),
        .product(name: "Subprocess", package: "swift-subprocess"),
      ]
    ),
    .target(name: "CPortSys"),
    .executableTarget(
      name: "portctl",
      dependencies: [
        "PortKit",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]
    ),
    // Test fixture, not a product: opens sockets on request and holds them.
    .executableTarget(name: "port-holder"),
    .testTarget(name: "PortKitTests", dependencies: ["PortKit"], resources: [.copy("Fixtures")]),
    .testTarget(name: "portctlTests", dependencies: ["PortKit"]),
  ],
  swiftLanguageModes: [.v6]
)
