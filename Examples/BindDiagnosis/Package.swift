// swift-tools-version: 6.2
import PackageDescription

// A Hummingbird 2 server that explains its own bind failure with PortKit. A package of its
// own, so that portctl itself does not depend on Hummingbird.
let package = Package(
  name: "BindDiagnosis",
  platforms: [.macOS(.v14)],
  dependencies: [
    // Named, so that the identity does not depend on the folder the repository is cloned in.
    .package(name: "portctl", path: "../.."),
    .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
  ],
  targets: [
    .executableTarget(
      name: "BindDiagnosisServer",
      dependencies: [
        .product(name: "PortKit", package: "portctl"),
        .product(name: "Hummingbird", package: "hummingbird"),
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
        .product(name: "NIOCore", package: "swift-nio"),
      ]
    )
  ],
  swiftLanguageModes: [.v6]
)
