/// What a well-known holder is and the right way to stop it, from its name, services and
/// port: a pure function of them and the platform (Windows advice only on Windows, macOS
/// advice only on macOS).
public enum HolderHints {
  /// A sentence for `process` holding `socket` on `platform`, or `nil` when it is nothing special.
  public static func hint(for process: ProcessRecord, socket: SocketEntry, platform: HostPlatform = .current)
    -> String?
  {
    let name = process.name.lowercased()
    let port = socket.local.port
    switch platform {
    case .windows: return windows(process, name: name, port: port)
    case .macOS: return macOS(name: name, port: port)
    case .linux, .other: return name == "docker-proxy" ? docker(port) : nil
    }
  }

  private static func docker(_ port: UInt16) -> String {
    "Docker publishes this port for a container: find it with docker ps --filter publish=\(port) and stop it with docker stop"
  }

  private static func macOS(name: String, port: UInt16) -> String? {
    switch name {
    case "controlcenter" where port == 5000 || port == 7000:
      "the macOS AirPlay Receiver: turn it off in System Settings > General > AirDrop & Handoff > AirPlay Receiver"
    case "com.docker.backend", "com.docker.vpnkit", "docker-proxy": docker(port)
    default: nil
    }
  }

  private static func windows(_ process: ProcessRecord, name: String, port: UInt16) -> String? {
    if name == "system", process.pid == 4 {
      let smb = port == 445 || port == 139 ? "SMB file sharing (the Server service, LanmanServer)" : nil
      return
        "the Windows kernel: \(smb ?? "HTTP.sys, serving a URL registered by IIS, WinRM, SSRS or another service") holds it; see which with netsh http show servicestate, and stop that service"
    }
    if !process.services.isEmpty {
      let list = process.services.joined(separator: ", ")
      let stop = process.services.map { "sc stop \(ProcessManagers.windowsQuote($0))" }.joined(separator: "; ")
      return
        "hosts the Windows service\(process.services.count > 1 ? "s" : "") \(list); stop it with \(stop) (elevated)"
    }
    switch name {
    case "w3wp.exe", "inetinfo.exe":
      return "IIS: stop the site in IIS Manager, or everything with iisreset /stop (elevated)"
    case "sqlservr.exe":
      return "SQL Server: net stop MSSQLSERVER (or the named instance's service), elevated"
    case "wslrelay.exe":
      return "WSL2 forwards this port from a Linux server inside WSL: stop it there, or wsl --shutdown"
    case "com.docker.backend.exe", "vpnkit.exe", "vpnkit-bridge.exe", "docker-proxy", "docker-proxy.exe":
      return docker(port)
    case "wininit.exe", "lsass.exe", "services.exe", "svchost.exe":
      return "a Windows system process; find the service behind it with tasklist /SVC /FI \"PID eq \(process.pid)\""
    default:
      return nil
    }
  }
}
