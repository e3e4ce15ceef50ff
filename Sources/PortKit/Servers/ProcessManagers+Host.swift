extension ProcessManagers {
  /// What the host records: containers and systemd units (control groups), launchd, Windows services.
  static func fromHost(_ clues: Clues, into found: inout [ProcessManager]) {
    let holder = clues.holder
    let ancestors = clues.ancestors
    // Control groups: containers and systemd units.
    if let container = container(holder.controlGroup) {
      let tool = container.podman ? "podman" : "docker"
      found.append(
        ProcessManager(
          kind: container.podman ? .podman : .docker, name: container.id,
          detail: "runs in the \(tool) container \(container.id)", stop: "\(tool) stop \(quote(container.id))",
          evidence: .controlGroup))
    }
    if let unit = RespawnRisk.systemdService(holder.controlGroup), !found.contains(where: { $0.kind == .docker }) {
      let user = (holder.controlGroup ?? "").contains("/user@")
      found.append(
        ProcessManager(
          kind: user ? .systemdUserUnit : .systemdUnit, name: unit,
          detail: "runs in the systemd \(user ? "user " : "")service \(unit), which may restart it (Restart=)",
          stop: user ? "systemctl --user stop \(quote(unit))" : "systemctl stop \(quote(unit))",
          evidence: .controlGroup))
    }
    if let parent = ancestors.first, parent.pid == 1, parent.name == "launchd" {
      found.append(
        ProcessManager(
          kind: .launchd, name: holder.name, detail: "started by launchd, which may start it again (KeepAlive)",
          stop:
            "launchctl list | grep -i -- \(quote(holder.name)), then launchctl bootout gui/$(id -u)/LABEL (or system/LABEL)",
          evidence: .ancestor))
    }
    for service in holder.services {
      found.append(
        ProcessManager(
          kind: .windowsService, name: service, detail: "hosts the Windows service \(service)",
          stop: "sc stop \(windowsQuote(service))", evidence: .serviceTable))
    }
  }
}
