/// Whether something is likely to start a holder again after it is killed.
public enum RespawnRisk {
  static let shells: Set<String> = [
    "sh", "bash", "zsh", "fish", "dash", "ksh", "mksh", "tcsh", "csh", "ash", "busybox", "nu", "pwsh", "xonsh",
    "elvish",
  ]

  /// A sentence naming what may restart `target`, or `nil` when nothing seems to manage it:
  /// its parent is init or an interactive shell, and it is not in a systemd service.
  /// A parent that is any other live process (a supervisor, a process manager, a container
  /// runtime, a shell running a script or a `-c` loop) may restart it.
  public static func reason(for target: ProcessRecord, parent: ProcessRecord?) -> String? {
    if let unit = systemdService(target.controlGroup) {
      return "it runs in the systemd service \(unit), which may restart it (Restart=)"
    }
    guard let parent, parent.pid > 1 else { return nil }
    if shells.contains(parent.name), isInteractive(parent) { return nil }
    return "its parent \(parent.name) (pid \(parent.pid)) may start it again"
  }

  /// The `.service` unit in a cgroup path such as `0::/system.slice/nginx.service`, for
  /// system services and user services alike (but not login sessions or scopes).
  public static func systemdService(_ controlGroup: String?) -> String? {
    guard let controlGroup else { return nil }
    let path = controlGroup.split(separator: "\n").first { $0.hasPrefix("0::") } ?? Substring(controlGroup)
    return path.split(separator: "/").last { $0.hasSuffix(".service") && !$0.hasPrefix("user@") }.map(String.init)
  }

  /// A shell that reads commands from a person, not a script or `-c` string.
  static func isInteractive(_ shell: ProcessRecord) -> Bool {
    let arguments = shell.commandLine.dropFirst()
    return arguments.allSatisfy { ["-i", "-l", "--login", "--interactive", "-"].contains($0) }
  }
}
