/// How a holder came to be: its ancestors and the managers that own its life.
public struct Provenance: Hashable, Sendable {
  /// Parent first, up to pid 1 where visible.
  public var ancestry: [ProcessRecord]
  /// Most specific first; the first is the one to stop it with.
  public var managers: [ProcessManager]
  /// The server the holder belongs to, when portctl recognises it (nginx, PostgreSQL…).
  public var server: RecognizedServer?

  /// A holder's `ancestry`, `managers` and `server`.
  public init(ancestry: [ProcessRecord], managers: [ProcessManager], server: RecognizedServer? = nil) {
    self.ancestry = ancestry
    self.managers = managers
    self.server = server
  }
}

/// Reads the provenance of every holder in a report.
public struct ProvenanceReader: Sendable {
  /// Where ancestry and environments are read.
  public var source: any SystemSource
  /// For asking tmux the names of a pane; `nil` leaves the pane id.
  public var runner: (any CommandRunner)?
  /// portctl's effective uid (`nil`: unknown, so no tmux server is asked).
  public var effectiveUID: UInt32?
  /// The owner of the Unix socket at a path, read without following links; `nil` when the
  /// path is not a socket.
  public var socketOwner: @Sendable (String) -> UInt32?
  /// The path with its links resolved when only the given uid or root can change the
  /// directories on the way to it; `nil` otherwise.
  public var securePath: @Sendable (String, UInt32) -> String?

  /// A reader of the holders `source` sees on this machine, naming tmux panes through
  /// `runner` (`nil`: panes keep their ids).
  public init(source: any SystemSource, runner: (any CommandRunner)?) {
    self.init(
      source: source, runner: runner, effectiveUID: Privileges.effectiveUID,
      socketOwner: { Privileges.socketOwner(atPath: $0) }, securePath: { Privileges.securePath($0, uid: $1) })
  }

  /// The same with every fact about the machine given.
  init(
    source: any SystemSource, runner: (any CommandRunner)?, effectiveUID: UInt32?,
    socketOwner: @escaping @Sendable (String) -> UInt32?,
    securePath: @escaping @Sendable (String, UInt32) -> String?
  ) {
    self.source = source
    self.runner = runner
    self.effectiveUID = effectiveUID
    self.socketOwner = socketOwner
    self.securePath = securePath
  }

  /// The provenance of every holder in `report`, by pid.
  public func provenance(for report: PortReport) async -> [PID: Provenance] {
    var result: [PID: Provenance] = [:]
    var socketUnits: [SystemdSocketUnit]?
    // Holders of one parent (a server's thousand workers) have one ancestry: read once, and
    // held once.
    var ancestries: [PID: [ProcessRecord]] = [:]
    for entry in report.sockets {
      for holder in entry.owner.holders where result[holder.process.pid] == nil {
        let process = holder.process
        let ancestry: [ProcessRecord]
        if process.ppid > 0, let known = ancestries[process.ppid] {
          ancestry = known
        } else {
          ancestry = await source.ancestry(of: process.pid)
          if process.ppid > 0, ancestry.first?.pid == process.ppid { ancestries[process.ppid] = ancestry }
        }
        let environment = await source.environment(of: process.pid)
        var managers = ProcessManagers.detect(
          holder: process, ancestors: ancestry, environment: environment, socket: entry.socket)
        for index in managers.indices where managers[index].kind == .tmux {
          managers[index] = await named(managers[index], holder: process, environment: environment)
        }
        let children: [PID: [ProcessRecord]] = [process.pid: await source.children(of: process.pid, limit: 64)]
        // Workers and reloaded children say so in their environment (NODE_UNIQUE_ID,
        // WERKZEUG_RUN_MAIN): read it for a few of the holder's children.
        var childEnvironments: [PID: [String: String]] = [:]
        for child in (children[process.pid] ?? []).prefix(16) {
          childEnvironments[child.pid] = await source.environment(of: child.pid)
        }
        var units: [SystemdSocketUnit] = []
        if Self.mayBeSocketActivated(process, ancestry: ancestry) {
          if socketUnits == nil { socketUnits = await readSocketUnits() }
          units = socketUnits ?? []
        }
        var clues = ServerRecognition.Clues(
          holder: process, ancestors: ancestry, children: children, environment: environment, socket: entry.socket,
          childEnvironments: childEnvironments, socketUnits: units)
        var server = ServerRecognition.recognize(clues)
        // The parent's children matter only when the parent is the master (its workers are
        // the holder's siblings); a crowd of a thousand children is not read otherwise.
        // Whether the parent is the master never depends on them.
        if let parent = ancestry.first, parent.pid > 1, server?.master.pid == parent.pid {
          clues.children[parent.pid] = await source.children(of: parent.pid, limit: 64)
          server = ServerRecognition.recognize(clues)
        }
        result[process.pid] = Provenance(ancestry: ancestry, managers: managers, server: server)
      }
    }
    return result
  }

  /// True when systemd's socket units are worth reading for `process`: pid 1 is systemd,
  /// and the holder is systemd itself or runs in a systemd system service (its cgroup).
  static func mayBeSocketActivated(_ process: ProcessRecord, ancestry: [ProcessRecord]) -> Bool {
    let initProcess = process.pid == 1 ? process : ancestry.last
    guard let initProcess, initProcess.pid == 1, initProcess.name == "systemd" else { return false }
    if process.pid == 1 { return true }
    let controlGroup = process.controlGroup ?? ""
    return RespawnRisk.systemdService(controlGroup) != nil && !controlGroup.contains("/user@")
  }

  /// systemd's socket units from `systemctl list-sockets`; empty when there is no runner, or
  /// systemctl is missing or fails.
  func readSocketUnits() async -> [SystemdSocketUnit] {
    guard let runner,
      let output = try? await runner.run(
        "systemctl", ["list-sockets", "--all", "--full", "--no-legend", "--no-pager"]),
      output.exitCode == 0
    else { return [] }
    return SystemdSocketUnit.parse(String(decoding: output.standardOutput, as: UTF8.self))
  }

  /// The socket path to give tmux for the server named in a holder's environment, or why
  /// that server may not be asked.
  ///
  /// A tmux client obeys its server (a server can tell it to run a shell command), and the
  /// socket path and pane come from the holder's own environment. So portctl asks only a
  /// server that runs as portctl's own user: the holder runs as portctl's effective uid, the
  /// directories on the way to the socket can be changed only by that uid or root (so the
  /// path cannot be swapped after the check; tmux gets it with links resolved), and the
  /// socket (not followed if it is a link) is a socket owned by that uid.
  public func socketToAsk(_ socket: String, holder: ProcessRecord) -> Result<String, Refusal> {
    guard let effectiveUID else { return .failure(Refusal("portctl's own user is unknown")) }
    guard let uid = holder.uid else { return .failure(Refusal("the holder's user is unknown")) }
    guard uid == effectiveUID else { return .failure(Refusal("the holder runs as another user (uid \(uid))")) }
    guard socket.hasPrefix("/") else { return .failure(Refusal("its server socket is not an absolute path")) }
    guard let path = securePath(socket, effectiveUID) else {
      return .failure(Refusal("another user can change a directory on the way to its server socket"))
    }
    guard let owner = socketOwner(path) else { return .failure(Refusal("its server socket is not a socket")) }
    guard owner == effectiveUID else {
      return .failure(Refusal("its server socket belongs to another user (uid \(owner))"))
    }
    return .success(path)
  }

  /// Why a tmux server was not asked.
  public struct Refusal: Error, Hashable, Sendable {
    /// Why the tmux server may not be asked.
    public var reason: String
    /// A refusal for `reason`.
    public init(_ reason: String) { self.reason = reason }
  }

  /// Asks the tmux server for the session, window and pane names of a pane id, when it is
  /// safe to (see ``socketToAsk(_:holder:)``); otherwise the pane id stays, and the detail
  /// says why it was not named.
  private func named(_ manager: ProcessManager, holder: ProcessRecord, environment: [String: String]?) async
    -> ProcessManager
  {
    guard let runner, let given = environment?["TMUX"]?.split(separator: ",").first.map(String.init) else {
      return manager
    }
    let socket: String
    switch socketToAsk(given, holder: holder) {
    case .success(let path): socket = path
    case .failure(let refusal):
      var unnamed = manager
      unnamed.detail += "; its session was not asked for: \(refusal.reason)"
      return unnamed
    }
    let format = "#{session_name}\t#{window_index}\t#{pane_index}\t#{window_name}"
    guard
      let output = try? await runner.run(
        "tmux", ["-S", socket, "display-message", "-p", "-t", manager.name, format]),
      output.exitCode == 0
    else { return manager }
    let fields =
      String(decoding: output.standardOutput, as: UTF8.self)
      .split(separator: "\n").first?.split(separator: "\t", omittingEmptySubsequences: false).map(String.init) ?? []
    guard fields.count == 4 else { return manager }
    // Every tmux command names the server's socket (resolved), so it reaches this server
    // whatever `-L`/`-S` started it and whoever runs it, not the runner's default server.
    let server = "tmux -S \(ShellQuoting.quote(socket))"
    let target = ShellQuoting.quote("\(fields[0]):\(fields[1]).\(fields[2])")
    var named = manager
    named.name = fields[0]
    named.detail =
      "runs in the tmux session \(fields[0]), window \(fields[1]) (\(fields[3])), pane \(fields[2]) "
      + "(server socket \(socket)); to stop only the program: \(server) send-keys -t \(target) C-c"
    named.stop = "\(server) kill-session -t \(ShellQuoting.quote(fields[0]))"
    return named
  }
}
