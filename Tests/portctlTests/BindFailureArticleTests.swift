import Foundation
import PortKit
import Testing

// The code of the DocC article "Explain your server's bind failure"
// (Sources/PortKit/PortKit.docc/ExplainYourServersBindFailure.md), kept word for word so
// that it compiles against the public API (plain `import PortKit`) and is run on a real
// holder below.

private func explain(_ error: any Error, port: UInt16, system: System) async throws -> [String] {
  var lines: [String] = []
  let outcome = try await BindFailureExplanation(system: system)
    .explain(String(describing: error), port: port)
  if case .checked(let failure, let checks) = outcome {
    lines.append("bind failed with \(failure.errorName)")
    for check in checks where !check.bindable {
      lines += check.reasons.map(\.fullMessage)
    }
  }
  return lines
}

private func holders(of port: UInt16, system: System) async throws -> [String] {
  var lines: [String] = []
  let result = try await PortInspection(system: system)
    .inspect([PortSpec(ports: port...port, proto: .tcp)])
  for socket in result.report.sockets {
    for holder in socket.owner.holders {
      let process = holder.process
      lines.append("port \(port) is held by pid \(process.pid) (\(process.name))")
      if let manager = result.provenance[process.pid]?.managers.first {
        lines.append("it runs under \(manager.name); stop it with: \(manager.stop)")
      }
    }
  }
  return lines
}

private func freePort(near port: UInt16, system: System) async throws -> UInt16? {
  let found = try await PortFinding(system: system).find(.init(from: port == .max ? nil : port + 1))
  return found.ports.first
}

private func start(port: UInt16, run: (UInt16) async throws -> Void) async throws {
  do {
    try await run(port)
  } catch {
    let system = try System.make()
    for line in try await explain(error, port: port, system: system) { print(line) }
    for line in try await holders(of: port, system: system) { print(line) }
    guard let other = try await freePort(near: port, system: system) else { throw error }
    print("starting on port \(other) instead")
    try await run(other)
  }
}

/// What SwiftNIO (under Hummingbird and Vapor) says when the port is taken.
private struct NIOBindError: Error, CustomStringConvertible {
  var description: String { "bind(descriptor:ptr:bytes:): Address already in use (errno: 98)" }
}

@Suite(.serialized) struct BindFailureArticleTests {
  @Test func articleCodeNamesTheRealHolderAndAFreePort() async throws {
    let holder = try Holder("tcp:0.0.0.0:0")
    defer { holder.stop() }
    let port = holder.port
    let system = try System.make()

    let explained = try await explain(NIOBindError(), port: port, system: system)
    #expect(explained.first == "bind failed with EADDRINUSE")
    #expect(explained.dropFirst().contains { $0.contains("\(holder.pid)") })

    let named = try await holders(of: port, system: system)
    #expect(named.contains { $0.hasPrefix("port \(port) is held by pid \(holder.pid) (") })

    let other = try #require(try await freePort(near: port, system: system))
    #expect(other != port)
    #expect(canBind(other))
  }
}
