/// `list`'s filters on holders: by process name, pid and user. Unset fields match all.
public struct ListFilter: Hashable, Sendable {
  /// A case-insensitive substring of a holder's command name, executable or first argument.
  public var process: String?
  /// A holder's pid.
  public var pid: PID?
  /// The socket's or a holder's user, by name or uid.
  public var user: String?

  /// A filter; with no argument it keeps every socket.
  public init(process: String? = nil, pid: PID? = nil, user: String? = nil) {
    self.process = process
    self.pid = pid
    self.user = user
  }

  /// True when any field is set.
  public var isActive: Bool { process != nil || pid != nil || user != nil }

  /// True when `socket` passes every set field.
  public func matches(_ socket: SocketReport) -> Bool {
    let holders = socket.owner.holders.map(\.process)
    if let pid, !holders.contains(where: { $0.pid == pid }) { return false }
    if let process {
      let wanted = process.lowercased()
      let hit = holders.contains { record in
        let names = [record.name, record.executable.map(baseName), record.commandLine.first.map(baseName)]
        return names.contains { $0?.lowercased().contains(wanted) == true }
      }
      if !hit { return false }
    }
    if let user {
      let uid = UInt32(user)
      let socketUser: String? =
        if case .hidden(let hidden) = socket.owner { hidden.user } else { holders.first?.user }
      let uids = [socket.socket.uid] + holders.map(\.uid)
      let users = [socketUser] + holders.map(\.user)
      let hit = uid.map { uids.contains($0) } ?? users.contains(user)
      if !hit { return false }
    }
    return true
  }

  private func baseName(_ path: String) -> String {
    path.split(separator: "/").last.map(String.init) ?? path
  }
}
