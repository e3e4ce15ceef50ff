import Testing

@testable import PortKit

@Suite struct HolderHintTests {
  private func socket(_ port: UInt16) -> SocketEntry {
    SocketEntry(proto: .tcp, local: Endpoint(address: .anyV4, port: port), state: .listen, id: 1)
  }
  private func process(_ pid: PID, _ name: String, services: [String] = []) -> ProcessRecord {
    ProcessRecord(pid: pid, ppid: 0, name: name, services: services)
  }

  @Test func airPlayReceiverOnlyOnItsPorts() {
    let control = process(503, "ControlCenter")
    #expect(HolderHints.hint(for: control, socket: socket(5000))?.contains("AirPlay Receiver") == true)
    #expect(HolderHints.hint(for: control, socket: socket(7000))?.contains("AirDrop & Handoff") == true)
    #expect(HolderHints.hint(for: control, socket: socket(5001)) == nil)
  }

  @Test func windowsKernelServicesAndKnownServers() {
    #expect(
      HolderHints.hint(for: process(4, "System"), socket: socket(80))?.contains("netsh http show servicestate") == true)
    #expect(HolderHints.hint(for: process(4, "System"), socket: socket(445))?.contains("SMB") == true)
    let postgres = HolderHints.hint(
      for: process(4460, "postgres.exe", services: ["postgresql-x64-16"]), socket: socket(5432))
    #expect(
      postgres == "hosts the Windows service postgresql-x64-16; stop it with sc stop postgresql-x64-16 (elevated)")
    #expect(HolderHints.hint(for: process(9, "w3wp.exe"), socket: socket(443))?.contains("iisreset /stop") == true)
    #expect(HolderHints.hint(for: process(9, "sqlservr.exe"), socket: socket(1433))?.contains("MSSQLSERVER") == true)
    #expect(HolderHints.hint(for: process(9, "wslrelay.exe"), socket: socket(3000))?.contains("wsl --shutdown") == true)
    #expect(
      HolderHints.hint(for: process(9, "com.docker.backend.exe"), socket: socket(8080))?.contains(
        "docker ps --filter publish=8080") == true)
    #expect(HolderHints.hint(for: process(9, "node.exe"), socket: socket(3000)) == nil)
  }
}
