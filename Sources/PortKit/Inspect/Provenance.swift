/// How a holder came to be: its ancestors and the managers that own its life.
public struct Provenance: Hashable, Sendable {
  /// Parent first, up to pid 1 where visible.
  public var ancestry: [ProcessRecord]
  /// Most specific first; the first is the one to stop it with.
  public var managers: [ProcessManager]

  public init(ancestry: [ProcessRecord], managers: [ProcessManager]) {
    self.ancestry = ancestry
    self.managers = managers
  }
}

/// Reads the provenance of every holder in a report.
public struct ProvenanceReader: Sendable {
  public var source: any SystemSource
  /// For asking tmux the names of a pane; `nil` leaves the pane id.
  public var runner: (any CommandRunner)?

  public init(source: any SystemSource, runner: (any CommandRunner)?) {
    self.source = source
    self.runner = runner
  }

  public func provenance(for report: PortReport) async -> [PID: Provenance] {
    var result: [PID: Provenance] = [:]
    for entry in report.sockets {
      for holder in entry.owner.holders where result[holder.process.pid] == nil {
        let process = holder.process
        let ancestry = await source.ancestry(of: process.pid)
        let environment = await source.environment(of: process.pid)
        var managers = ProcessManagers.detect(
          holder: process, ancestors: ancestry, environment: environment, socket: entry.socket)
        for index in managers.indices where managers[index].kind == .tmux {
          managers[index] = await named(managers[index], environment: environment)
        }
        result[process.pid] = Provenance(ancestry: ancestry, managers: managers)
      }
    }
    return result
  }

  /// Asks the tmux server for the session, window and pane names of a pane id.
  private func named(_ manager: ProcessManager, environment: [String: String]?) async -> ProcessManager {
    guard let runner, let socket = environment?["TMUX"]?.split(separator: ",").first else { return manager }
    let format = "#{session_name}\t#{window_index}\t#{pane_index}\t#{window_name}"
    guard
      let output = try? await runner.run(
        "tmux", ["-S", String(socket), "display-message", "-p", "-t", manager.name, format]),
      output.exitCode == 0
    else { return manager }
    let fields =
      String(decoding: output.standardOutput, as: UTF8.self)
      .split(separator: "\n").first?.split(separator: "\t", omittingEmptySubsequences: false).map(String.init) ?? []
    guard fields.count == 4 else { return manager }
    let target = "\(fields[0]):\(fields[1]).\(fields[2])"
    var named = manager
    named.name = fields[0]
    named.detail = "runs in the tmux session \(fields[0]), window \(fields[1]) (\(fields[3])), pane \(fields[2])"
    named.stop = "tmux send-keys -t \(target) C-c (or tmux kill-session -t \(fields[0]))"
    return named
  }
}
