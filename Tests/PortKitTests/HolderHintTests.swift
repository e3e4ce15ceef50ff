import Testing

@testable import PortKit

@Suite struct HolderHintTests {
  private func socket(_ port: UInt16) -> SocketEntry {
    SocketEntry(proto: .tcp, local: Endpoint(address: .anyV4, port: port), state: .listen, id: 1)
  }
  private func process(_ pid: PID, _ name: String, services: [String] = []) -> ProcessRecord {
    ProcessRecord(pid: pid, ppid: 0, name: name, services: services)
  }

  @Test func airPlayReceiverOnlyOnItsPortsAndOnlyOnMacOS() {
    let control = process(503, "ControlCenter")
    #expect(
      HolderHints.hint(for: control, socket: socket(5000), platform: .macOS)?.contains("AirPlay Receiver") == true)
    #expect(
      HolderHints.hint(for: control, socket: socket(7000), platform: .macOS)?.contains("AirDrop & Handoff") == true)
    #expect(HolderHints.hint(for: control, socket: socket(5001), platform: .macOS) == nil)
    #expect(HolderHints.hint(for: control, socket: socket(5000), platform: .linux) == nil)
    #expect(HolderHints.hint(for: control, socket: socket(7000), platform: .windows) == nil)
  }

  @Test func windowsKernelServicesAndKnownServers() {
    func hint(_ process: ProcessRecord, _ port: UInt16) -> String? {
      HolderHints.hint(for: process, socket: socket(port), platform: .windows)
    }
    #expect(hint(process(4, "System"), 80)?.contains("netsh http show servicestate") == true)
    #expect(hint(process(4, "System"), 445)?.contains("SMB") == true)
    let postgres = hint(process(4460, "postgres.exe", services: ["postgresql-x64-16"]), 5432)
    #expect(
      postgres == "hosts the Windows service postgresql-x64-16; stop it with sc stop postgresql-x64-16 (elevated)")
    // A service key name with a space is quoted, as cmd.exe needs it.
    let bonjour = hint(process(2210, "mDNSResponder.exe", services: ["Bonjour Service"]), 5353)
    #expect(bonjour == "hosts the Windows service Bonjour Service; stop it with sc stop \"Bonjour Service\" (elevated)")
    #expect(hint(process(9, "w3wp.exe"), 443)?.contains("iisreset /stop") == true)
    #expect(hint(process(9, "sqlservr.exe"), 1433)?.contains("MSSQLSERVER") == true)
    #expect(hint(process(9, "wslrelay.exe"), 3000)?.contains("wsl --shutdown") == true)
    #expect(hint(process(9, "com.docker.backend.exe"), 8080)?.contains("docker ps --filter publish=8080") == true)
    #expect(hint(process(9, "svchost.exe"), 135)?.contains("tasklist /SVC") == true)
    #expect(hint(process(9, "node.exe"), 3000) == nil)
  }

  /// On Linux none of the Windows or macOS advice is given, whatever a process is called;
  /// Docker's proxy is named on every platform.
  @Test func linuxGetsNoWindowsOrMacOSAdvice() {
    let lookalikes = [
      process(4, "System"), process(9, "w3wp.exe"), process(9, "svchost.exe"), process(9, "wslrelay.exe"),
      process(9, "com.docker.backend"), process(9, "postgres", services: ["postgresql-x64-16"]),
    ]
    for lookalike in lookalikes {
      #expect(HolderHints.hint(for: lookalike, socket: socket(80), platform: .linux) == nil, "\(lookalike.name)")
    }
    #expect(
      HolderHints.hint(for: process(9, "docker-proxy"), socket: socket(8080), platform: .linux)?.contains(
        "docker ps --filter publish=8080") == true)
  }

  @Test func wellKnownPortNotesByPlatform() {
    #expect(WellKnownPorts.name(80, proto: .tcp, platform: .linux) == "HTTP")
    #expect(WellKnownPorts.name(443, proto: .tcp, platform: .macOS) == "HTTPS")
    #expect(WellKnownPorts.name(80, proto: .tcp, platform: .windows)?.contains("HTTP.sys") == true)
    #expect(WellKnownPorts.name(5000, proto: .tcp, platform: .linux) == "Flask and ASP.NET development servers")
    #expect(WellKnownPorts.name(5000, proto: .tcp, platform: .macOS)?.contains("AirPlay Receiver") == true)
    #expect(WellKnownPorts.name(7000, proto: .tcp, platform: .linux) == nil)
    #expect(WellKnownPorts.name(7000, proto: .tcp, platform: .macOS)?.contains("AirPlay Receiver") == true)
    #expect(WellKnownPorts.name(6379, proto: .tcp, platform: .linux) == "Redis")
    // find still passes over 7000 everywhere, as it did.
    #expect(WellKnownPorts.isServicePort(7000, proto: .tcp))
    #expect(!WellKnownPorts.isServicePort(3000, proto: .tcp))
  }
}
